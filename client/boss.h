/*
 * boss: the one HTTP client of spoold's /v1 API, shared by the runner and
 * spoolctl (spoold links none of it, and needs no libcurl). It knows where
 * the boss is (the URL and the bearer token, by one rule for both
 * programs: boss_where_get), speaks to it over libcurl's easy interface
 * with a keep-alive handle per struct boss, reads each reply into a buffer
 * with a ceiling, and says in words what went wrong: which boss, what
 * failed, and the boss's own "error" message.
 *
 * What a request means (a claim, an outcome) is the caller's: the runner's
 * claims and heartbeats are runner/boss.c, spoolctl's submits are
 * tools/ctl_jobs.c.
 */
#ifndef SPOOL_CLIENT_BOSS_H
#define SPOOL_CLIENT_BOSS_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "spool.h"
#include "token.h"
#include "url.h"

/* A reply's ceiling: an order with the largest job, and room to spare. */
#define BOSS_REPLY_MAX (SPOOL_JOB_MAX + (64 << 10))

/* ---- where the boss is ------------------------------------------------- */

struct boss_where {
	char url[URL_BASE_MAX + 1];	/* the base, by url_base: no trailing '/' */
	char token[TOKEN_FILE_MAX + 1];	/* the bearer token; "": none */
	char token_of[PATH_MAX + 32];	/* "--token-file F" or "$SPOOL_TOKEN_FILE F"; "": none */
};

/*
 * Where the boss is, by one rule for every program that talks to one: the
 * URL opt_url (--boss; NULL: not given), else $SPOOL_BOSS when env is
 * non-zero (the caller passes 0 when told to use a spool instead); the
 * token from the file opt_tokfile (--token-file), else $SPOOL_TOKEN_FILE,
 * read by the one token-file rule (lib/token.h). An empty variable is
 * unset. 1: a boss, w filled; 0: no boss and no token file asked for;
 * a negative errno with err (errlen bytes) saying why: -EINVAL (a
 * --token-file without a boss, a bad URL), or token_file_read's.
 */
int boss_where_get(struct boss_where *w, const char *opt_url, const char *opt_tokfile,
		   int env, char *err, size_t errlen);

/*
 * What to tell a user whose boss at url answered status (401, 403) to the
 * token of token_of (NULL or "": none was sent), into out (cap bytes).
 */
void boss_denied_why(const char *url, const char *token_of, long status,
		     char *out, size_t cap);

/* ---- requests ------------------------------------------------------------ */

/* What every request of a runner learns of its boss, shared by its threads. */
struct boss_health {
	_Atomic int64_t down_since;	/* mono ms of the first failure (transport,
					 * 5xx) since the boss last answered; 0: up */
	atomic_long denied;		/* 401 or 403 when the token was refused */
};

struct boss {
	void *curl;		/* CURL * */
	const char *url;	/* base (the caller's), best without a trailing '/' */
	const char *bearer;	/* the token, or NULL */
	void *headers;		/* struct curl_slist * */
	const atomic_int *cancel;	/* non-zero aborts a cancellable request */
	struct boss_health *health;	/* updated by every request, or NULL */
	long status;		/* HTTP status of the last request */
	struct buf reply;	/* body of the last reply (ceiling BOSS_REPLY_MAX) */
	char err[512];		/* what went wrong, in words that name the boss */
};

/*
 * Prepare b for the boss at url with the bearer token bearer (NULL: none);
 * cancel and health may be NULL. url and bearer must outlive b.
 * 0 or -ENOMEM.
 */
int boss_init(struct boss *b, const char *url, const char *bearer,
	      const atomic_int *cancel, struct boss_health *health);
void boss_release(struct boss *b);

/*
 * One request: method "GET", "POST" (or another verb, sent with the body),
 * path with its query (begins with '/'), an optional body, a timeout for
 * the whole exchange. The status goes to b->status and the body to
 * b->reply. b->health learns whether the boss answered (below 500), failed
 * (a transport error, 5xx) or refused the token (401, 403).
 * 0 when an HTTP answer came (any status); -ECONNREFUSED, -ETIMEDOUT,
 * -EIO (transport: b->err says why), -ECANCELED (cancel was set during a
 * cancellable request), -E2BIG (reply over its ceiling), -ENAMETOOLONG.
 */
int boss_request(struct boss *b, const char *method, const char *path,
		 const void *body, size_t len, long timeout_s, int cancellable);

/*
 * After an answer the caller did not want: b->err says "the boss at URL
 * answered HTTP N: MESSAGE" (MESSAGE: the reply's "error", else the start
 * of the reply). Returns -EPROTO.
 */
int boss_error(struct boss *b);

#endif
