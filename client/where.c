/*
 * where: which boss a program talks to and with what token, by one rule for
 * the runner and spoolctl (options, then the environment), and the words
 * for a token the boss refused. See boss.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boss.h"

/* $name, or NULL when it is unset or empty */
static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

int boss_where_get(struct boss_where *w, const char *opt_url, const char *opt_tokfile,
		   int env, char *err, size_t errlen)
{
	const char *url = opt_url, *file = opt_tokfile;
	int r;

	memset(w, 0, sizeof(*w));
	if (!url && env)
		url = env_get("SPOOL_BOSS");
	if (!url) {
		if (!file)
			return 0;
		snprintf(err, errlen, "--token-file goes with --boss (or $SPOOL_BOSS)");
		return -EINVAL;
	}
	if ((r = url_base(url, w->url, sizeof(w->url), err, errlen)) < 0)
		return r;
	if (!file && (file = env_get("SPOOL_TOKEN_FILE")))
		snprintf(w->token_of, sizeof(w->token_of), "$SPOOL_TOKEN_FILE %s", file);
	else if (file)
		snprintf(w->token_of, sizeof(w->token_of), "--token-file %s", file);
	if (file && (r = token_file_read(file, w->token, sizeof(w->token), err, errlen)) < 0)
		return r;
	return 1;
}

void boss_denied_why(const char *url, const char *token_of, long status,
		     char *out, size_t cap)
{
	if (token_of && token_of[0])
		snprintf(out, cap, "the boss refused the token of %s (HTTP %ld): fix the "
			 "token (the boss at %s)", token_of, status, url);
	else
		snprintf(out, cap, "the boss wants a token (HTTP %ld): give one with "
			 "--token-file FILE or $SPOOL_TOKEN_FILE (the boss at %s)", status, url);
}
