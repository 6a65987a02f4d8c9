/*
 * cli: the plumbing every spoolctl command shares (cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- messages -------------------------------------------------------------- */

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("spoolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The reason a library call failed: its own words, else strerror. */
const char *cli_why(const struct spool *sp, int rc)
{
	if (sp && spool_error(sp)[0])
		return spool_error(sp);
	return strerror(-rc);
}

/* The exit code for a negative errno from the library. */
int cli_exit_code(int rc)
{
	switch (-rc) {
	case 0:
		return EX_OK;
	case EAGAIN:
	case ENOENT:
		return EX_NONE;
	case ESTALE:
	case EBUSY:
	case EALREADY:
	case EEXIST:
		return EX_CONFLICT;
	default:
		return EX_ERR;
	}
}

/*
 * Report a failed library call and return its exit code. The library's own
 * words say what failed ("cannot complete order 'x': ..."); what (a
 * printf format) is the fallback when it recorded none.
 */
int cli_failed(const struct spool *sp, int rc, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (sp && spool_error(sp)[0]) {
		cli_warn("%s", spool_error(sp));
		return cli_exit_code(rc);
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	cli_warn("%s: %s", what, strerror(-rc));
	return cli_exit_code(rc);
}

/* ---- command lines ------------------------------------------------------------- */

/* Options every command takes, before or after its name. */
const char *cli_spool_dir;
int cli_nosync;

void cli_usage_hint(const struct cmd *c)
{
	fprintf(stderr, "usage: spoolctl %s %s\n", c->name, c->synopsis);
	fprintf(stderr, "Try 'spoolctl %s --help'.\n", c->name);
}

void cli_help(const struct cmd *c)
{
	printf("usage: spoolctl [--spool DIR] [--nosync] %s %s\n\n%s\n%s", c->name,
	       c->synopsis, c->summary, c->help[0] ? "\n" : "");
	fputs(c->help, stdout);
	printf("\nExit codes: 0 ok, 1 error, 2 usage, 3 nothing there, "
	       "4 conflict (stale token, wrong state, id taken)%s.\n",
	       strcmp(c->name, "fsck") == 0 ? ", 5 problems found" : "");
}

/*
 * Parse argv (after the command name) into a. Returns -1 after printing help
 * (exit 0), -2 after a usage error (exit 2), else 0.
 */
int cli_parse(const struct cmd *c, int argc, char **argv, struct args *a)
{
	int i, k, only_pos = 0;

	memset(a, 0, sizeof *a);
	a->dashdash = -1;
	a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
	if (!a->pos) {
		cli_warn("out of memory");
		return -2;
	}
	for (i = 0; i < argc; i++) {
		const char *s = argv[i], *eq, *val = NULL;
		size_t n;

		if (only_pos || s[0] != '-' || strcmp(s, "-") == 0) {
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			only_pos = 1;
			a->dashdash = a->npos;
			continue;
		}
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			cli_help(c);
			return -1;
		}
		if (s[1] != '-' && s[2] == '\0') {
			/* a one-letter option, when the command has one ("-f") */
			for (k = 0; c->opts[k].name; k++)
				if (c->opts[k].name[0] == s[1] && !c->opts[k].name[1] &&
				    !c->opts[k].arg)
					break;
			if (c->opts[k].name) {
				a->val[k] = "";
				continue;
			}
		}
		if (s[1] != '-') {
			/* a one-letter option a command names ("o"): -o, as --o */
			for (k = 0; s[1] && !s[2] && c->opts[k].name; k++)
				if (c->opts[k].name[0] == s[1] && !c->opts[k].name[1])
					break;
			if (!(s[1] && !s[2] && c->opts[k].name)) {
				cli_warn("unknown option '%s'", s);
				cli_usage_hint(c);
				return -2;
			}
			s += 1;	/* "-o" read as "--o" from here on */
		} else {
			s += 2;
		}
		eq = strchr(s, '=');
		n = eq ? (size_t)(eq - s) : strlen(s);
		if (n == 5 && strncmp(s, "spool", 5) == 0) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || !val[0]) {
				cli_warn("option '--spool' needs a directory");
				return -2;
			}
			cli_spool_dir = val;
			continue;
		}
		if (n == 6 && strncmp(s, "nosync", 6) == 0 && !eq) {
			cli_nosync = 1;
			continue;
		}
		for (k = 0; c->opts[k].name; k++)
			if (strlen(c->opts[k].name) == n &&
			    strncmp(c->opts[k].name, s, n) == 0)
				break;
		if (!c->opts[k].name) {
			cli_warn("unknown option '--%.*s'", (int)n, s);
			cli_usage_hint(c);
			return -2;
		}
		if (c->opts[k].arg) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val) {
				cli_warn("option '--%s' needs a value", c->opts[k].name);
				cli_usage_hint(c);
				return -2;
			}
		} else if (eq) {
			cli_warn("option '--%s' takes no value", c->opts[k].name);
			return -2;
		} else {
			val = "";
		}
		if (strcmp(c->opts[k].name, "tag") == 0 || strcmp(c->opts[k].name, "set") == 0) {
			int most = c->opts[k].name[0] == 't' ? SPOOL_TAGS_MAX : CLI_MULTI_MAX;

			if (a->nmulti >= most) {
				cli_warn("at most %d --%s options", most, c->opts[k].name);
				return -2;
			}
			a->multi[a->nmulti++] = val;
		}
		a->val[k] = val;
	}
	if (a->npos < c->min_pos || (c->max_pos >= 0 && a->npos > c->max_pos)) {
		cli_warn(a->npos < c->min_pos ? "too few arguments" : "too many arguments");
		cli_usage_hint(c);
		return -2;
	}
	return 0;
}

/* The value of option name, or NULL when it was not given. */
const char *cli_opt(const struct cmd *c, const struct args *a, const char *name)
{
	int k;

	for (k = 0; c->opts[k].name; k++)
		if (strcmp(c->opts[k].name, name) == 0)
			return a->val[k];
	return NULL;
}

/* Parse a decimal integer in [lo, hi] given to option what. 0 or -1 (said). */
int cli_num(const char *s, long lo, long hi, const char *what, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		cli_warn("%s: '%s' is not a number from %ld to %ld", what, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_check_id(const char *id)
{
	if (id_valid(id))
		return 0;
	cli_warn("'%s' is not a valid order id (24 hex digits)", id);
	return -1;
}

int cli_check_token(const char *token)
{
	if (token_valid(token))
		return 0;
	cli_warn("'%s' is not a valid claim token (16 hex digits)", token);
	return -1;
}

/* ---- the spool -------------------------------------------------------------- */

static const char *cli_spool_path(void)
{
	const char *s;

	if (cli_spool_dir)
		return cli_spool_dir;
	s = getenv("SPOOL_DIR");
	return s && s[0] ? s : "spool";
}

/* Open the spool (creating it with create); prints why on failure. */
int cli_open(struct spool *sp, int create)
{
	const char *path = cli_spool_path();
	int rc;

	memset(sp, 0, sizeof *sp);
	rc = spool_open(sp, path, create);
	if (rc < 0) {
		if (spool_error(sp)[0])
			cli_warn("%s", spool_error(sp));
		else
			cli_warn("cannot %s spool '%s': %s", create ? "create" : "open", path,
				 strerror(-rc));
		/* the usual first stumble: run from a directory with no ./spool */
		if (!create && (rc == -ENOENT || strstr(spool_error(sp), "is not a spool")))
			fprintf(stderr, "Give the spool with --spool DIR or $SPOOL_DIR (now '%s'), "
				"or make one with 'spoolctl --spool DIR init'.\n", path);
		spool_close(sp);
		return -1;
	}
	/* ($SPOOL_SETTLE_MS, $SPOOL_REAP_GRACE_MS: read by spool_open) */
	if (cli_nosync)
		sp->nosync = 1;
	return 0;
}

int cli_boss(const char *opt_url, const char *opt_tokfile, struct boss_where *w)
{
	char err[PATH_MAX + 256];
	int r = boss_where_get(w, opt_url, opt_tokfile, !cli_spool_dir, err, sizeof err);

	if (r < 0) {
		cli_warn("%s", err);
		return -1;
	}
	return r;
}

int cli_boss_check(struct boss *b, const struct boss_where *w, int r, const char *what)
{
	char why[PATH_MAX + 1024];

	if (r < 0) {
		cli_warn("cannot %s: %s", what, b->err);
		return EX_ERR;
	}
	if (b->status >= 200 && b->status < 300)
		return EX_OK;
	if (b->status == 401 || b->status == 403) {
		boss_denied_why(w->url, w->token_of, b->status, why, sizeof why);
		cli_warn("cannot %s: %s", what, why);
		return EX_USAGE;
	}
	boss_error(b);
	cli_warn("cannot %s: %s", what, b->err);
	return b->status == 409 ? EX_CONFLICT : EX_ERR;
}

/* Read a whole file ("-": standard input) into b. 0, or -1 (said). */
int cli_read(const char *path, struct buf *b)
{
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
	int rc;

	if (strcmp(path, "-") != 0) {
		rc = buf_read_file(b, AT_FDCWD, path);
	} else {
		char chunk[65536];
		ssize_t n;

		buf_reset(b);
		rc = 0;
		while ((n = read(0, chunk, sizeof chunk)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				break;
			}
			if ((rc = buf_add(b, chunk, (size_t)n)) < 0)
				break;
		}
		if (rc == 0 && !b->data)
			rc = buf_add(b, "", 0);
	}
	if (rc == -EFBIG || rc == -E2BIG) {
		cli_warn("'%s' is larger than %zu bytes", name, b->max);
		return -1;
	}
	if (rc < 0) {
		cli_warn("cannot read '%s': %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

void cli_print_buf(const struct buf *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
}

/* Print and forget the ids submitted since the last commit. */
void cli_flush_ids(char (*ids)[SPOOL_ID_LEN + 1], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s\n", ids[i]);
	fflush(stdout);
}

