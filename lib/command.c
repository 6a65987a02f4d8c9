/*
 * command: checking and filling a job's argv template (command.h).
 *
 * Both walk a template string the same way (tmpl_walk), so the check at
 * submit time and the expansion at run time cannot disagree on what a
 * placeholder is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "command.h"

static int key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/*
 * Walk template s: literal text goes to lit(arg, p, n), each {key} to
 * key(arg, name). 0, the first non-zero return of a callback, or -EINVAL
 * with err saying where a brace is unmatched.
 */
static int tmpl_walk(const char *s, int (*lit)(void *, const char *, size_t),
		     int (*key)(void *, const char *), void *arg, char *err, size_t errlen)
{
	size_t i = 0, start = 0;
	int r;

	while (s[i]) {
		if ((s[i] == '{' && s[i + 1] == '{') || (s[i] == '}' && s[i + 1] == '}')) {
			if ((r = lit(arg, s + start, i - start + 1)) != 0)
				return r;
			i += 2;
			start = i;
		} else if (s[i] == '{') {
			char name[COMMAND_KEY_MAX + 1];
			size_t k = 0;

			while (k < COMMAND_KEY_MAX && key_char(s[i + 1 + k]))
				k++;
			if (k == 0 || s[i + 1 + k] != '}') {
				snprintf(err, errlen, "'{' at byte %zu opens no {key} (a key is 1 to %d letters, digits, _ or -; write {{ for a brace)",
					 i, COMMAND_KEY_MAX);
				return -EINVAL;
			}
			if ((r = lit(arg, s + start, i - start)) != 0)
				return r;
			memcpy(name, s + i + 1, k);
			name[k] = '\0';
			if ((r = key(arg, name)) != 0)
				return r;
			i += k + 2;
			start = i;
		} else if (s[i] == '}') {
			snprintf(err, errlen, "'}' at byte %zu closes nothing (write }} for a brace)", i);
			return -EINVAL;
		} else {
			i++;
		}
	}
	return lit(arg, s + start, i - start);
}

/* ---- checking -------------------------------------------------------------- */

struct check_ctx {
	const struct json *j;
	int index;
	char *err;
	size_t errlen;
};

static int check_lit(void *arg, const char *p, size_t n)
{
	(void)arg, (void)p, (void)n;
	return 0;
}

static int check_key(void *arg, const char *name)
{
	struct check_ctx *x = arg;

	if (strcmp(name, "_id") == 0 || json_get(x->j, 0, name) >= 0)
		return 0;
	snprintf(x->err, x->errlen, "\"command\"[%d] names {%s}, which is not a field of the job",
		 x->index, name);
	return -EINVAL;
}

/* The template string at token t into s. 0 or -EINVAL (said). */
static int tmpl_string(const struct json *j, int t, int index, char s[COMMAND_ARG_MAX + 1],
		       char *err, size_t errlen)
{
	if (json_str(j, t, s, COMMAND_ARG_MAX + 1) < 0) {
		snprintf(err, errlen, "\"command\"[%d] must be a string of at most %d bytes (and no NUL)",
			 index, COMMAND_ARG_MAX);
		return -EINVAL;
	}
	if (index == 0 && !s[0]) {
		snprintf(err, errlen, "\"command\"[0], the program, is empty");
		return -EINVAL;
	}
	return 0;
}

int command_check(const struct json *j, char *err, size_t errlen)
{
	char *buf;
	int cmd, t, k, n, r = 1;

	cmd = json_get(j, 0, "command");
	if (cmd < 0)
		return 0;
	n = j->tok[cmd].size;
	if (j->tok[cmd].type != JSMN_ARRAY || n < 1 || n > COMMAND_ARGS_MAX) {
		snprintf(err, errlen, "\"command\" must be an array of 1 to %d strings", COMMAND_ARGS_MAX);
		return -EINVAL;
	}
	if (!(buf = malloc(COMMAND_ARG_MAX + 1)))
		return -ENOMEM;
	for (k = 0, t = cmd + 1; k < n; k++, t = json_skip(j, t)) {
		struct check_ctx x = { j, k, err, errlen };
		char where[256];

		if ((r = tmpl_string(j, t, k, buf, err, errlen)) < 0)
			break;
		where[0] = '\0';
		r = tmpl_walk(buf, check_lit, check_key, &x, where, sizeof where);
		if (r < 0) {
			if (where[0])	/* a brace; a missing key said so itself */
				snprintf(err, errlen, "\"command\"[%d]: %s", k, where);
			break;
		}
		r = 1;
	}
	free(buf);
	return r;
}

/* ---- filling --------------------------------------------------------------- */

struct fill_ctx {
	const struct json *j;
	struct buf *out;
	char *err;
	size_t errlen;
	int index;
};

static int fill_lit(void *arg, const char *p, size_t n)
{
	struct fill_ctx *x = arg;

	return buf_add(x->out, p, n);
}

static int fill_key(void *arg, const char *name)
{
	struct fill_ctx *x = arg;
	int v = json_get(x->j, 0, name);
	int r;

	if (v < 0) {
		snprintf(x->err, x->errlen, "\"command\"[%d] names {%s}, which is not a field of the job",
			 x->index, name);
		return -EINVAL;
	}
	if (x->j->tok[v].type == JSMN_STRING) {
		size_t raw;
		char *s;

		json_raw(x->j, v, &raw);	/* decoded text is never longer */
		if (!(s = malloc(raw + 1)))
			return -ENOMEM;
		if ((r = json_str(x->j, v, s, raw + 1)) < 0) {
			snprintf(x->err, x->errlen, "field {%s} holds a NUL character, which no argument can", name);
			free(s);
			return -EINVAL;
		}
		r = buf_puts(x->out, s);
		free(s);
		return r;
	}
	return json_canon(x->j, v, x->out);
}

void command_release(struct command *c)
{
	int i;

	for (i = 0; c->argv && i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	c->argv = NULL;
	c->argc = 0;
}

int command_expand(const char *job, size_t len, struct command *c, char *err,
		   size_t errlen)
{
	struct json j;
	struct buf arg;
	char *tmpl = NULL, where[256];
	int r, cmd, t, k, n;

	memset(c, 0, sizeof *c);
	if ((r = json_parse(&j, job, len, JSON_TOKENS_MAX, err, errlen)) < 0)
		return r;
	if (j.tok[0].type != JSMN_OBJECT || (cmd = json_get(&j, 0, "command")) < 0) {
		json_release(&j);
		return -ENOENT;
	}
	if ((r = command_check(&j, err, errlen)) < 0) {
		json_release(&j);
		return r;
	}
	n = j.tok[cmd].size;
	tmpl = malloc(COMMAND_ARG_MAX + 1);
	c->argv = calloc((size_t)n + 1, sizeof *c->argv);
	if (!tmpl || !c->argv) {
		r = -ENOMEM;
		goto out;
	}
	buf_init(&arg, COMMAND_EXPANDED_MAX);
	for (k = 0, t = cmd + 1; k < n; k++, t = json_skip(&j, t)) {
		struct fill_ctx x = { &j, &arg, err, errlen, k };

		buf_reset(&arg);
		tmpl_string(&j, t, k, tmpl, err, errlen);	/* checked above */
		where[0] = '\0';
		r = tmpl_walk(tmpl, fill_lit, fill_key, &x, where, sizeof where);
		if (r == -E2BIG)
			snprintf(err, errlen, "\"command\"[%d] fills to more than %d bytes",
				 k, COMMAND_EXPANDED_MAX);
		if (r == 0 && !(c->argv[k] = strdup(arg.data ? arg.data : "")))
			r = -ENOMEM;
		if (r < 0)
			break;
		c->argc = k + 1;
	}
	buf_release(&arg);
out:
	free(tmpl);
	json_release(&j);
	if (r < 0)
		command_release(c);
	return r < 0 ? r : 0;
}
