/*
 * spoolctl: the spool from the command line.
 *
 * Every command is one or a few calls of the spool library (lib/spool.h), so a
 * person, a shell script or a test drives exactly the rules spoold and the
 * runner use. spoolctl owns only the presentation: reading job and outcome
 * files, printing ids, listings and JSON, and turning the library's errors
 * into messages ("spoolctl: cannot open spool 'x': No such file or
 * directory") and exit codes.
 *
 * A shell script can be a worker:
 *
 *	out=$(spoolctl claim --worker w1) || exit	# 3: nothing to claim
 *	read -r id token attempt <<<"${out%%$'\n'*}"
 *	printf '%s\n' "${out#*$'\n'}" | ./train > outcome.json
 *	spoolctl complete "$id" "$token" outcome.json	# 4: the claim was lost
 *
 * Exit codes (the same for every command, and in `spoolctl --help`):
 *	0  success
 *	1  error: I/O, a bad job or outcome document, a full disk, ...
 *	2  usage: unknown command or option, a malformed id, token or value
 *	3  nothing there: nothing eligible to claim, no such order or job
 *	4  conflict: the claim is no longer held (stale token, lease expired,
 *	   cancelled), the order's state does not allow the change, the id
 *	   is taken
 *	5  fsck found problems (with --repair: found and mended them)
 *
 * Standard output carries only results (ids, listings, JSON); messages go to
 * standard error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "spool.h"
#include "sweep.h"

enum {
	EX_OK = 0,
	EX_ERR = 1,
	EX_USAGE = 2,
	EX_NONE = 3,
	EX_CONFLICT = 4,
	EX_FSCK = 5,
};

#define INPUT_MAX	(256u << 20)	/* one submitted file (may hold many jobs) */
#define SUBMIT_BATCH	512		/* submits made durable by one commit */
#define LEASE_MAX_S	(7 * 24 * 3600)
#define SHOW_LOGS_MAX	(8 * SPOOL_LOG_MAX)	/* the logs of every attempt, shown */

/* ---- messages -------------------------------------------------------------- */


static void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnx(const char *fmt, ...)
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
static const char *why(const struct spool *sp, int rc)
{
	if (sp && spool_error(sp)[0])
		return spool_error(sp);
	return strerror(-rc);
}

/* The exit code for a negative errno from the library. */
static int exit_code(int rc)
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
static int failed(const struct spool *sp, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int failed(const struct spool *sp, int rc, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (sp && spool_error(sp)[0]) {
		warnx("%s", spool_error(sp));
		return exit_code(rc);
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	warnx("%s: %s", what, strerror(-rc));
	return exit_code(rc);
}

/* ---- command lines ------------------------------------------------------------- */

/* One option a command takes. */
struct opt {
	const char *name;	/* without the leading "--" */
	int arg;		/* takes a value */
};

struct cmd;

/* What was parsed: values by option index, positional arguments in order. */
struct args {
	const char *val[16];	/* the value (or "" for flags) of option i, NULL if absent */
	const char *multi[SPOOL_TAGS_MAX + 1];	/* every value of a repeatable option */
	int nmulti;
	const char **pos;
	int npos;
};

struct cmd {
	const char *name;
	int (*run)(const struct cmd *c, struct args *a);
	const char *synopsis;	/* after "spoolctl NAME " */
	const char *summary;	/* one line for `spoolctl --help` */
	const char *help;	/* the body of `spoolctl NAME --help` */
	struct opt opts[12];	/* terminated by name NULL; "tag" is repeatable */
	int min_pos, max_pos;	/* positional arguments; max -1: any number */
};

/* Options every command takes, so they may come after the command too. */
static const char *spool_dir;
static int nosync;

static void usage_hint(const struct cmd *c)
{
	fprintf(stderr, "usage: spoolctl %s %s\n", c->name, c->synopsis);
	fprintf(stderr, "Try 'spoolctl %s --help'.\n", c->name);
}

static void print_help(const struct cmd *c)
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
static int parse_args(const struct cmd *c, int argc, char **argv, struct args *a)
{
	int i, k, only_pos = 0;

	memset(a, 0, sizeof *a);
	a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
	if (!a->pos) {
		warnx("out of memory");
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
			continue;
		}
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			print_help(c);
			return -1;
		}
		if (s[1] != '-') {
			warnx("unknown option '%s'", s);
			usage_hint(c);
			return -2;
		}
		s += 2;
		eq = strchr(s, '=');
		n = eq ? (size_t)(eq - s) : strlen(s);
		if (n == 5 && strncmp(s, "spool", 5) == 0) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || !val[0]) {
				warnx("option '--spool' needs a directory");
				return -2;
			}
			spool_dir = val;
			continue;
		}
		if (n == 6 && strncmp(s, "nosync", 6) == 0 && !eq) {
			nosync = 1;
			continue;
		}
		for (k = 0; c->opts[k].name; k++)
			if (strlen(c->opts[k].name) == n &&
			    strncmp(c->opts[k].name, s, n) == 0)
				break;
		if (!c->opts[k].name) {
			warnx("unknown option '--%.*s'", (int)n, s);
			usage_hint(c);
			return -2;
		}
		if (c->opts[k].arg) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val) {
				warnx("option '--%s' needs a value", c->opts[k].name);
				usage_hint(c);
				return -2;
			}
		} else if (eq) {
			warnx("option '--%s' takes no value", c->opts[k].name);
			return -2;
		} else {
			val = "";
		}
		if (strcmp(c->opts[k].name, "tag") == 0) {
			if (a->nmulti >= SPOOL_TAGS_MAX) {
				warnx("at most %d tags", SPOOL_TAGS_MAX);
				return -2;
			}
			a->multi[a->nmulti++] = val;
		}
		a->val[k] = val;
	}
	if (a->npos < c->min_pos || (c->max_pos >= 0 && a->npos > c->max_pos)) {
		warnx(a->npos < c->min_pos ? "too few arguments" : "too many arguments");
		usage_hint(c);
		return -2;
	}
	return 0;
}

/* The value of option name, or NULL when it was not given. */
static const char *opt(const struct cmd *c, const struct args *a, const char *name)
{
	int k;

	for (k = 0; c->opts[k].name; k++)
		if (strcmp(c->opts[k].name, name) == 0)
			return a->val[k];
	return NULL;
}

/* Parse a decimal integer in [lo, hi] given to option what. 0 or -1 (said). */
static int parse_num(const char *s, long lo, long hi, const char *what, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		warnx("%s: '%s' is not a number from %ld to %ld", what, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int check_id(const char *id)
{
	if (id_valid(id))
		return 0;
	warnx("'%s' is not a valid order id (24 hex digits)", id);
	return -1;
}

static int check_token(const char *token)
{
	if (token_valid(token))
		return 0;
	warnx("'%s' is not a valid claim token (16 hex digits)", token);
	return -1;
}

/* ---- the spool -------------------------------------------------------------- */

static const char *spool_path(void)
{
	const char *s;

	if (spool_dir)
		return spool_dir;
	s = getenv("SPOOL_DIR");
	return s && s[0] ? s : "spool";
}

/* A number of milliseconds from the environment, or -1. */
static int64_t env_ms(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long long v;

	if (!s || !s[0])
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return -1;
	return v;
}

/* Open the spool (creating it with create); prints why on failure. */
static int open_spool(struct spool *sp, int create)
{
	const char *path = spool_path();
	int64_t ms;
	int rc;

	memset(sp, 0, sizeof *sp);
	rc = spool_open(sp, path, create);
	if (rc < 0) {
		if (spool_error(sp)[0])
			warnx("%s", spool_error(sp));
		else
			warnx("cannot %s spool '%s': %s", create ? "create" : "open", path,
			      strerror(-rc));
		spool_close(sp);
		return -1;
	}
	if (nosync)
		sp->nosync = 1;
	/* Tests shorten the clock-driven waits without a flag on every command. */
	if ((ms = env_ms("SPOOL_SETTLE_MS")) >= 0)
		sp->settle_ms = ms;
	if ((ms = env_ms("SPOOL_REAP_GRACE_MS")) >= 0)
		sp->reap_grace_ms = ms;
	return 0;
}

/* Read a whole file ("-": standard input) into b. 0, or -1 (said). */
static int read_input(const char *path, struct buf *b)
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
		warnx("'%s' is larger than %zu bytes", name, b->max);
		return -1;
	}
	if (rc < 0) {
		warnx("cannot read '%s': %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

static void print_buf(const struct buf *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
}

/* ---- init ---------------------------------------------------------------------- */

static int cmd_init(const struct cmd *c, struct args *a)
{
	struct spool sp;

	(void)c, (void)a;
	if (open_spool(&sp, 1) < 0)
		return EX_ERR;
	spool_close(&sp);
	return EX_OK;
}

/* ---- submit -------------------------------------------------------------------- */

struct job_text {
	const char *s;
	size_t len;
	const char *from;	/* file name, for messages */
	int index;		/* position in an array, -1 for a lone object */
};

struct jobs {
	struct job_text *v;
	size_t n, cap;
};

static int jobs_add(struct jobs *js, const char *s, size_t len, const char *from,
		    int index)
{
	if (js->n == js->cap) {
		size_t cap = js->cap ? js->cap * 2 : 64;
		struct job_text *v = realloc(js->v, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		js->v = v;
		js->cap = cap;
	}
	js->v[js->n++] = (struct job_text){ s, len, from, index };
	return 0;
}

static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * Split the elements of the top-level array in s (valid JSON: json_validate
 * passed) into js. Done by hand rather than with jsmn so that an array of
 * many jobs is not bounded by JSON_TOKENS_MAX; each job is checked alone.
 */
static int split_array(const char *s, size_t len, const char *from, struct jobs *js)
{
	size_t i = 0;
	int index = 0, rc;

	while (i < len && is_ws(s[i]))
		i++;
	i++;	/* '[' */
	for (;;) {
		size_t start, end;
		int depth = 0;

		while (i < len && is_ws(s[i]))
			i++;
		if (i >= len || s[i] == ']')
			return 0;
		start = i;
		for (; i < len; i++) {
			char ch = s[i];

			if (ch == '"') {
				for (i++; i < len && s[i] != '"'; i++)
					if (s[i] == '\\')
						i++;
			} else if (ch == '{' || ch == '[') {
				depth++;
			} else if (ch == '}' || ch == ']') {
				if (depth == 0)
					break;
				depth--;
			} else if (ch == ',' && depth == 0) {
				break;
			}
		}
		end = i;
		while (end > start && is_ws(s[end - 1]))
			end--;
		if ((rc = jobs_add(js, s + start, end - start, from, index++)) < 0)
			return rc;
		if (i < len && s[i] == ',')
			i++;
	}
}

static void job_where(const struct job_text *j, char *out, size_t cap)
{
	const char *name = strcmp(j->from, "-") == 0 ? "standard input" : j->from;

	if (j->index < 0)
		snprintf(out, cap, "'%s'", name);
	else
		snprintf(out, cap, "'%s' [%d]", name, j->index);
}

/* Print and forget the ids submitted since the last commit. */
static void flush_ids(char (*ids)[SPOOL_ID_LEN + 1], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s\n", ids[i]);
	fflush(stdout);
}

static int cmd_submit(const struct cmd *c, struct args *a)
{
	static const char *stdin_only[] = { "-" };
	const char **files = a->npos ? a->pos : stdin_only;
	size_t nfiles = a->npos > 0 ? (size_t)a->npos : 1;
	const char *want = opt(c, a, "id");
	struct buf *bufs;
	struct jobs js = { 0 };
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	size_t i, nids = 0;
	struct spool sp;
	size_t f;
	int rc, ex = EX_ERR, nstdin = 0;

	if (want && check_id(want) < 0)
		return EX_USAGE;
	for (f = 0; f < nfiles; f++)
		nstdin += strcmp(files[f], "-") == 0;
	if (nstdin > 1) {
		warnx("standard input ('-') given more than once");
		return EX_USAGE;
	}
	bufs = calloc(nfiles, sizeof *bufs);
	if (!bufs) {
		warnx("out of memory");
		return EX_ERR;
	}

	/* Read and check everything first, so that a bad job submits nothing. */
	for (f = 0; f < nfiles; f++) {
		char err[256];
		size_t k;

		buf_init(&bufs[f], INPUT_MAX);
		if (read_input(files[f], &bufs[f]) < 0)
			goto out;
		if (json_validate(bufs[f].data, bufs[f].len, err, sizeof err) < 0) {
			struct job_text t = { NULL, 0, files[f], -1 };
			char where[PATH_MAX + 32];

			job_where(&t, where, sizeof where);
			warnx("%s is not valid JSON: %s", where, err);
			goto out;
		}
		for (k = 0; k < bufs[f].len && is_ws(bufs[f].data[k]); k++)
			;
		if (k < bufs[f].len && bufs[f].data[k] == '[')
			rc = split_array(bufs[f].data, bufs[f].len, files[f], &js);
		else
			rc = jobs_add(&js, bufs[f].data, bufs[f].len, files[f], -1);
		if (rc < 0) {
			warnx("out of memory");
			goto out;
		}
	}
	for (i = 0; i < js.n; i++) {
		struct job_opts o;
		char err[256], where[PATH_MAX + 32];

		if (job_check(js.v[i].s, js.v[i].len, now_ms(), &o, err, sizeof err) < 0) {
			job_where(&js.v[i], where, sizeof where);
			warnx("%s is not a valid job: %s", where, err);
			goto out;
		}
	}
	if (want && js.n != 1) {
		warnx("--id needs exactly one job, not %zu", js.n);
		ex = EX_USAGE;
		goto out;
	}
	if (js.n == 0) {
		ex = EX_OK;
		goto out;
	}

	ids = calloc(SUBMIT_BATCH, sizeof *ids);
	if (!ids) {
		warnx("out of memory");
		goto out;
	}
	if (open_spool(&sp, 0) < 0)
		goto out;
	/*
	 * Group commit: a batch of submits, then one round of fsyncs. An id is
	 * printed only once its commit returned, so a printed id is durable.
	 */
	spool_begin(&sp);
	for (i = 0; i < js.n; i++) {
		char where[PATH_MAX + 32];

		sp.err[0] = 0;
		rc = spool_submit(&sp, js.v[i].s, js.v[i].len, want, ids[nids]);
		if (rc == 1) {
			warnx("a job with id '%s' already exists", want);
			ex = EX_CONFLICT;
			break;
		}
		if (rc < 0) {
			job_where(&js.v[i], where, sizeof where);
			warnx("cannot submit %s: %s", where, why(&sp, rc));
			ex = exit_code(rc);
			break;
		}
		if (++nids == SUBMIT_BATCH || i + 1 == js.n) {
			sp.err[0] = 0;
			if ((rc = spool_commit(&sp)) < 0) {
				warnx("cannot commit %zu submitted jobs: %s", nids, why(&sp, rc));
				ex = exit_code(rc);
				nids = 0;
				break;
			}
			flush_ids(ids, nids);
			nids = 0;
			if (i + 1 < js.n)
				spool_begin(&sp);
			else
				ex = EX_OK;
		}
	}
	if (ex != EX_OK && sp.batch) {
		/* The jobs before the one that failed stand; say which they are. */
		if (nids && spool_commit(&sp) == 0)
			flush_ids(ids, nids);
		else if (nids)
			warnx("%zu earlier jobs of this run may not be stored", nids);
	}
	spool_close(&sp);
out:
	free(ids);
	free(js.v);
	for (f = 0; f < nfiles; f++)
		buf_release(&bufs[f]);
	free(bufs);
	return ex;
}

/* ---- ls ---------------------------------------------------------------------- */

struct ls_ctx {
	struct spool *sp;
	int json;
	long limit;
	long n;
	struct buf b;
	int rc;
};

static void print_order_line(const struct order *o)
{
	char due[32], dl[32];

	iso_time(o->n.due, due);
	if (o->n.claimed) {
		iso_time(o->n.deadline, dl);
		printf("%s %s %d %d %s %s %s\n", o->n.id, spool_state_name(o->state),
		       o->n.attempt, o->n.priority, due, o->n.worker, dl);
	} else {
		printf("%s %s %d %d %s - -\n", o->n.id, spool_state_name(o->state),
		       o->n.attempt, o->n.priority, due);
	}
}

static int ls_visit(void *arg, const struct order *o)
{
	struct ls_ctx *x = arg;
	int rc;

	if (x->limit >= 0 && x->n >= x->limit)
		return 1;
	if (x->json) {
		buf_reset(&x->b);
		if ((rc = spool_order_json(x->sp, o, 0, &x->b)) < 0) {
			x->rc = rc;
			return 1;
		}
		fputs(x->n ? ",\n" : "\n", stdout);
		print_buf(&x->b);
	} else {
		print_order_line(o);
	}
	x->n++;
	return 0;
}

static int cmd_ls(const struct cmd *c, struct args *a)
{
	const char *lim = opt(c, a, "limit");
	int json = opt(c, a, "json") != NULL;
	struct ls_ctx x = { 0 };
	struct spool sp;
	int st = -1, rc, ex = EX_OK, s;

	x.limit = -1;
	if (lim && parse_num(lim, 0, LONG_MAX, "--limit", &x.limit) < 0)
		return EX_USAGE;
	if (a->npos == 1 && strcmp(a->pos[0], "all") != 0 &&
	    (st = spool_state_parse(a->pos[0])) < 0) {
		warnx("unknown state '%s' (new, assigned, held, done, failed, cancelled, all)",
		      a->pos[0]);
		return EX_USAGE;
	}
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;

	if (a->npos == 0) {
		long counts[ST_COUNT], total = 0;

		if ((rc = spool_count(&sp, counts)) < 0) {
			ex = failed(&sp, rc, "cannot count orders");
			goto out;
		}
		if (json)
			putchar('{');
		for (s = 0; s < ST_COUNT; s++) {
			total += counts[s];
			if (json)
				printf("%s\"%s\":%ld", s ? "," : "", spool_state_name(s), counts[s]);
			else
				printf("%-10s %ld\n", spool_state_name(s), counts[s]);
		}
		if (json)
			printf(",\"total\":%ld}\n", total);
		else
			printf("%-10s %ld\n", "total", total);
		goto out;
	}

	x.sp = &sp;
	x.json = json;
	buf_init(&x.b, 1 << 20);
	if (json)
		putchar('[');
	for (s = 0; s < ST_COUNT; s++) {
		if (st >= 0 && s != st)
			continue;
		sp.err[0] = 0;
		rc = spool_list(&sp, s, ls_visit, &x);
		if (x.rc < 0) {
			ex = failed(&sp, x.rc, "cannot describe an order of %s/",
				    spool_state_name(s));
			break;
		}
		if (rc < 0) {
			ex = failed(&sp, rc, "cannot list %s/", spool_state_name(s));
			break;
		}
	}
	if (json)
		fputs(x.n ? "\n]\n" : "]\n", stdout);
	buf_release(&x.b);
out:
	spool_close(&sp);
	return ex;
}

/* ---- show ----------------------------------------------------------------------- */

static int cmd_show(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0];
	int json = opt(c, a, "json") != NULL, want_log = opt(c, a, "log") != NULL;
	struct buf ob, jb, rb, lb;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, has_out, has_log = 0;

	if (check_id(id) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&ob, 1 << 20);
	buf_init(&jb, SPOOL_JOB_MAX + 4096);
	buf_init(&rb, SPOOL_OUTCOME_MAX + 4096);
	buf_init(&lb, SHOW_LOGS_MAX);

	if ((rc = spool_lookup(&sp, id, &o)) < 0) {
		ex = rc == -ENOENT ? (warnx("no order '%s'", id), EX_NONE)
				   : failed(&sp, rc, "cannot find order '%s'", id);
		goto out;
	}
	if ((rc = spool_order_json(&sp, &o, 0, &ob)) < 0 ||
	    (rc = spool_read_job(&sp, id, &jb)) < 0) {
		ex = failed(&sp, rc, "cannot read order '%s'", id);
		goto out;
	}
	rc = spool_read_outcome(&sp, &o, &rb);
	if (rc < 0 && rc != -ENOENT) {
		ex = failed(&sp, rc, "cannot read the outcome of '%s'", id);
		goto out;
	}
	has_out = rc == 0;
	if (want_log) {
		rc = spool_log_read(&sp, id, &lb);
		if (rc < 0 && rc != -ENOENT) {
			ex = failed(&sp, rc, "cannot read the log of '%s'", id);
			goto out;
		}
		has_log = rc == 0;
	}

	if (json) {
		fputs("{\"order\":", stdout);
		print_buf(&ob);
		fputs(",\n\"job\":", stdout);
		print_buf(&jb);
		fputs(",\n\"outcome\":", stdout);
		if (has_out)
			print_buf(&rb);
		else
			fputs("null", stdout);
		if (want_log) {
			struct buf esc;

			buf_init(&esc, 2 * SHOW_LOGS_MAX + 16);
			fputs(",\n\"log\":", stdout);
			if (has_log && buf_json_str(&esc, lb.data, lb.len) == 0)
				print_buf(&esc);
			else
				fputs("null", stdout);
			buf_release(&esc);
		}
		fputs("}\n", stdout);
	} else {
		char when[32], path[SPOOL_NAME_MAX + 64];

		spool_order_path(&o, path, sizeof path);
		printf("id        %s\n", o.n.id);
		printf("state     %s\n", spool_state_name(o.state));
		printf("attempt   %d\n", o.n.attempt);
		printf("priority  %d\n", o.n.priority);
		iso_time(o.n.due, when);
		printf("due       %s\n", when);
		if (o.n.claimed) {
			iso_time(o.n.deadline, when);
			printf("worker    %s\n", o.n.worker);
			printf("lease     %s\n", when);
		}
		printf("file      %s\n", path);
		fputs("order     ", stdout);
		print_buf(&ob);
		fputs("\njob       ", stdout);
		print_buf(&jb);
		if (jb.len && jb.data[jb.len - 1] != '\n')
			putchar('\n');
		fputs("outcome   ", stdout);
		if (has_out) {
			print_buf(&rb);
			if (rb.len && rb.data[rb.len - 1] != '\n')
				putchar('\n');
		} else {
			fputs("(none)\n", stdout);
		}
		if (want_log) {
			fputs("log\n", stdout);
			if (has_log)
				print_buf(&lb);
			else
				fputs("(none)\n", stdout);
		}
	}
out:
	buf_release(&ob);
	buf_release(&jb);
	buf_release(&rb);
	buf_release(&lb);
	spool_close(&sp);
	return ex;
}

/* ---- claim and drain -------------------------------------------------------------- */

/* Fill a claimant from --worker, --tag, --lease. 0 or -1 (said). */
static int get_claimant(const struct cmd *c, const struct args *a, struct claimant *cl)
{
	const char *w = opt(c, a, "worker"), *lease = opt(c, a, "lease");
	long v;
	int i;

	memset(cl, 0, sizeof *cl);
	if (!w) {
		warnx("--worker NAME is required");
		usage_hint(c);
		return -1;
	}
	if (!worker_valid(w)) {
		warnx("'%s' is not a valid worker name ([A-Za-z0-9_.-], at most %d)", w,
		      SPOOL_WORKER_MAX);
		return -1;
	}
	for (i = 0; i < a->nmulti; i++)
		if (!tag_valid(a->multi[i])) {
			warnx("'%s' is not a valid tag", a->multi[i]);
			return -1;
		}
	if (lease) {
		if (parse_num(lease, 1, LEASE_MAX_S, "--lease", &v) < 0)
			return -1;
		cl->lease_s = (int)v;
	}
	cl->worker = w;
	cl->ntags = a->nmulti;
	cl->tags = a->multi;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Claim one order, waiting up to wait_ms for one to become eligible (polling:
 * the daemon's long-poll is the efficient way to wait).
 */
static int claim_wait(struct spool *sp, const struct claimant *cl, long wait_ms,
		      struct order *o)
{
	int64_t until = now_ms() + wait_ms;
	int rc;

	for (;;) {
		sp->err[0] = 0;
		rc = spool_claim(sp, cl, o);
		if (rc != -EAGAIN || now_ms() >= until)
			return rc;
		sleep_ms(100);
	}
}

static int get_wait(const struct cmd *c, const struct args *a, long *wait_ms)
{
	const char *w = opt(c, a, "wait");
	long v = 0;

	if (w && parse_num(w, 0, 24 * 3600, "--wait", &v) < 0)
		return -1;
	*wait_ms = v * 1000;
	return 0;
}

static int cmd_claim(const struct cmd *c, struct args *a)
{
	int json = opt(c, a, "json") != NULL;
	struct claimant cl;
	struct order o;
	struct spool sp;
	struct buf jb, ob;
	long wait_ms;
	int rc, ex = EX_OK;

	if (get_claimant(c, a, &cl) < 0 || get_wait(c, a, &wait_ms) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&jb, SPOOL_JOB_MAX + 4096);
	buf_init(&ob, 1 << 20);
	rc = claim_wait(&sp, &cl, wait_ms, &o);
	if (rc == -EAGAIN) {
		warnx("nothing to claim");
		ex = EX_NONE;
		goto out;
	}
	if (rc < 0) {
		ex = failed(&sp, rc, "cannot claim");
		goto out;
	}
	/*
	 * The claim stands even if its job cannot be read: say so, and give the
	 * claim back so that it is not stuck until its lease runs out.
	 */
	if ((rc = spool_read_job(&sp, o.n.id, &jb)) < 0 ||
	    (json && (rc = spool_order_json(&sp, &o, 1, &ob)) < 0)) {
		ex = failed(&sp, rc, "claimed '%s' but cannot read it", o.n.id);
		spool_release(&sp, &o);
		goto out;
	}
	if (json) {
		char dl[32];

		iso_time(o.n.deadline, dl);
		printf("{\"id\":\"%s\",\"token\":\"%s\",\"attempt\":%d,\"worker\":\"%s\","
		       "\"leaseDeadline\":\"%s\",\"order\":",
		       o.n.id, o.n.token, o.n.attempt, o.n.worker, dl);
		print_buf(&ob);
		fputs(",\"job\":", stdout);
		print_buf(&jb);
		fputs("}\n", stdout);
	} else {
		printf("%s %s %d\n", o.n.id, o.n.token, o.n.attempt);
		print_buf(&jb);
		if (jb.len && jb.data[jb.len - 1] != '\n')
			putchar('\n');
	}
out:
	buf_release(&jb);
	buf_release(&ob);
	spool_close(&sp);
	return ex;
}

/*
 * drain: claim and complete until nothing is eligible, in one process. Meant
 * for tests and benchmarks (many real processes racing on one spool without
 * the cost of two execs per order), and to empty a queue of no-op jobs.
 * Logs "claimed ID TOKEN ATTEMPT" before and "done ID TOKEN" after each
 * completion, flushed line by line.
 */
static int cmd_drain(const struct cmd *c, struct args *a)
{
	const char *max = opt(c, a, "max");
	struct claimant cl;
	struct order o;
	struct spool sp;
	struct buf out;
	long wait_ms, limit = -1, n = 0;
	int rc, ex = EX_OK;

	if (get_claimant(c, a, &cl) < 0 || get_wait(c, a, &wait_ms) < 0)
		return EX_USAGE;
	if (max && parse_num(max, 0, LONG_MAX, "--max", &limit) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	setvbuf(stdout, NULL, _IOLBF, 0);
	buf_init(&out, 4096);
	while (limit < 0 || n < limit) {
		rc = claim_wait(&sp, &cl, wait_ms, &o);
		if (rc == -EAGAIN)
			break;
		if (rc < 0) {
			ex = failed(&sp, rc, "cannot claim");
			break;
		}
		printf("claimed %s %s %d\n", o.n.id, o.n.token, o.n.attempt);
		buf_reset(&out);
		buf_printf(&out, "{\"worker\":\"%s\",\"pid\":%ld,\"token\":\"%s\",\"attempt\":%d}",
			   cl.worker, (long)getpid(), o.n.token, o.n.attempt);
		sp.err[0] = 0;
		rc = spool_complete(&sp, &o, out.data, out.len);
		if (rc == -ESTALE) {
			/* Lost the lease meanwhile: the library kept the outcome as late. */
			warnx("claim of '%s' was lost: %s", o.n.id, why(&sp, rc));
			printf("late %s %s\n", o.n.id, o.n.token);
			continue;
		}
		if (rc < 0) {
			ex = failed(&sp, rc, "cannot complete '%s'", o.n.id);
			break;
		}
		printf("done %s %s\n", o.n.id, o.n.token);
		n++;
	}
	buf_release(&out);
	spool_close(&sp);
	return ex;
}

/* ---- complete, fail, release, renew ----------------------------------------------- */

/*
 * Find the claim (id, token) that a worker presents: 0 with o the claim (a
 * finished one too: the library then says -EALREADY). When the claim is no
 * longer held, *stale is set and o is made to describe it as the worker held
 * it, so that complete and fail present it to the library, which fences it
 * (the rename from assigned/ finds nothing) and files the outcome in late/.
 * Other errors are said and their exit code returned.
 */
static int find_claim(struct spool *sp, const char *id, const char *token,
		      struct order *o, int *stale)
{
	int rc;

	*stale = 0;
	sp->err[0] = 0;
	rc = spool_lookup_claim(sp, id, token, o);
	if (rc == 0)
		return 0;
	if (rc == -ENOENT) {
		warnx("no order '%s'", id);
		return EX_NONE;
	}
	if (rc != -ESTALE)
		return failed(sp, rc, "cannot find the claim of '%s'", id);
	/*
	 * o is where the order is now. The lost claim's file name is not known
	 * (its deadline and worker were in it), so make one that cannot be in
	 * assigned/ (no claim there has this token). Its attempt is the one a
	 * reap or a requeue left counted, or the one before a newer claim.
	 */
	*stale = 1;
	if (o->n.claimed && o->state == ST_ASSIGNED && o->n.attempt > 1)
		o->n.attempt--;
	else if (!o->n.claimed && o->n.attempt < 1)
		o->n.attempt = 1;
	o->n.claimed = 1;
	o->n.deadline = 0;
	snprintf(o->n.token, sizeof o->n.token, "%s", token);
	if (!o->n.worker[0] || !worker_valid(o->n.worker))
		snprintf(o->n.worker, sizeof o->n.worker, "unknown");
	o->state = ST_ASSIGNED;
	if (name_format(&o->n, o->file, sizeof o->file) < 0) {
		warnx("cannot name the lost claim of '%s'", id);
		return EX_ERR;
	}
	return 0;
}

/* complete and fail: file an outcome under the claim (id, token). */
static int finish(const struct cmd *c, struct args *a, int is_fail)
{
	const char *id = a->pos[0], *token = a->pos[1];
	const char *file = a->npos > 2 ? a->pos[2] : NULL;
	struct buf ob;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, stale, retried = 0;

	(void)c;
	if (check_id(id) < 0 || check_token(token) < 0)
		return EX_USAGE;
	buf_init(&ob, SPOOL_OUTCOME_MAX);
	if (file) {
		char err[256];

		if (read_input(file, &ob) < 0) {
			buf_release(&ob);
			return EX_ERR;
		}
		if (json_validate(ob.data, ob.len, err, sizeof err) < 0) {
			warnx("the outcome in '%s' is not valid JSON: %s",
			      strcmp(file, "-") == 0 ? "standard input" : file, err);
			buf_release(&ob);
			return EX_ERR;
		}
	} else if (!is_fail) {
		buf_puts(&ob, "{}");
	}
	if (open_spool(&sp, 0) < 0) {
		buf_release(&ob);
		return EX_ERR;
	}
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	if (is_fail)
		rc = spool_fail(&sp, &o, ob.data, ob.len, &retried);
	else
		rc = spool_complete(&sp, &o, ob.data, ob.len);
	if (rc == -EALREADY) {
		/* A retried command after a lost reply: the first outcome stands. */
		warnx("'%s' was already %s under this claim", id,
		      is_fail ? "failed" : "completed");
		ex = EX_OK;
	} else if (rc == -ESTALE && !spool_error(&sp)[0]) {
		warnx("the claim of '%s' is no longer held (its lease ran out, or it "
		      "was cancelled or requeued); the outcome is kept in late/", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = failed(&sp, rc, "cannot %s '%s'", is_fail ? "fail" : "complete", id);
	} else if (is_fail) {
		printf("%s %s\n", id, retried ? "new" : "failed");
	}
out:
	buf_release(&ob);
	spool_close(&sp);
	return ex;
}

static int cmd_complete(const struct cmd *c, struct args *a)
{
	return finish(c, a, 0);
}

static int cmd_fail(const struct cmd *c, struct args *a)
{
	return finish(c, a, 1);
}

static int cmd_release(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *token = a->npos > 1 ? a->pos[1] : NULL;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, stale;

	(void)c;
	if (check_id(id) < 0 || (token && check_token(token) < 0))
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	if (!token) {
		sp.err[0] = 0;
		rc = spool_unhold(&sp, id, NULL);
		if (rc == -ENOENT) {
			warnx("no order '%s'", id);
			ex = EX_NONE;
		} else if (rc < 0) {
			ex = failed(&sp, rc, "cannot release '%s'", id);
		}
		goto out;
	}
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	rc = stale ? -ESTALE : spool_release(&sp, &o);
	if (rc == -ESTALE) {
		warnx("the claim of '%s' is no longer held", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = failed(&sp, rc, "cannot release '%s'", id);
	}
out:
	spool_close(&sp);
	return ex;
}

static int cmd_renew(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *token = a->pos[1], *lease = opt(c, a, "lease");
	struct order o;
	struct spool sp;
	long lease_s = 0;
	int rc, ex = EX_OK, stale;
	char dl[32];

	if (check_id(id) < 0 || check_token(token) < 0)
		return EX_USAGE;
	if (lease && parse_num(lease, 1, LEASE_MAX_S, "--lease", &lease_s) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	rc = stale ? -ESTALE : spool_renew(&sp, &o, (int)lease_s);
	if (rc == -ESTALE) {
		warnx("the claim of '%s' is no longer held", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = failed(&sp, rc, "cannot renew '%s'", id);
	} else {
		iso_time(o.n.deadline, dl);
		printf("%s\n", dl);
	}
out:
	spool_close(&sp);
	return ex;
}

/* ---- hold, cancel, requeue ------------------------------------------------------- */

static int by_id(struct args *a, int (*fn)(struct spool *, const char *, struct order *),
		 const char *verb)
{
	const char *id = a->pos[0];
	struct spool sp;
	int rc, ex = EX_OK;

	if (check_id(id) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	sp.err[0] = 0;
	rc = fn(&sp, id, NULL);
	if (rc == -ENOENT) {
		warnx("no order '%s'", id);
		ex = EX_NONE;
	} else if (rc < 0) {
		ex = failed(&sp, rc, "cannot %s '%s'", verb, id);
	}
	spool_close(&sp);
	return ex;
}

static int cmd_hold(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_hold, "hold");
}

static int cmd_cancel(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_cancel, "cancel");
}

static int cmd_requeue(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_requeue, "requeue");
}

/* ---- reap ------------------------------------------------------------------------- */

static int cmd_reap(const struct cmd *c, struct args *a)
{
	const char *grace = opt(c, a, "grace-ms");
	struct spool sp;
	long g = -1;
	int rc, n = 0, ex = EX_OK;

	if (grace && parse_num(grace, 0, LONG_MAX, "--grace-ms", &g) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	if (g >= 0)
		sp.reap_grace_ms = g;
	sp.err[0] = 0;
	rc = spool_reap(&sp, now_ms(), &n);
	if (rc < 0)
		ex = failed(&sp, rc, "cannot reap (%d reaped)", n);
	else
		printf("%d\n", n);
	spool_close(&sp);
	return ex;
}

/* ---- fsck --------------------------------------------------------------------------- */

static void fsck_say(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

static int cmd_fsck(const struct cmd *c, struct args *a)
{
	const char *age = opt(c, a, "tmp-age");
	struct fsck_opts fo = { 0 };
	struct spool sp;
	long s = 3600;
	int rc;

	if (age && parse_num(age, 0, LONG_MAX / 1000, "--tmp-age", &s) < 0)
		return EX_USAGE;
	fo.repair = opt(c, a, "repair") != NULL;
	fo.tmp_age_ms = (int64_t)s * 1000;
	fo.say = fsck_say;
	/* Never create: `fsck --repair` of a mistyped path must not make a spool. */
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	sp.err[0] = 0;
	rc = spool_fsck(&sp, &fo);
	spool_close(&sp);
	if (rc < 0)
		return failed(NULL, rc, "cannot check the spool");
	if (rc > 0) {
		warnx("%d problem%s %s", rc, rc == 1 ? "" : "s",
		      fo.repair ? "found and repaired" : "found (run with --repair to mend)");
		return EX_FSCK;
	}
	return EX_OK;
}

/* ---- ingest ------------------------------------------------------------------------ */

/* Why a drop was rejected, without the library's "dropped file 'x' rejected: ". */
static const char *drop_why(const struct spool *sp, const char *name)
{
	const char *e = spool_error(sp), *p = strstr(e, " rejected: ");

	if (p && strncmp(e, "dropped file '", 14) == 0 &&
	    strncmp(e + 14, name, strlen(name)) == 0)
		return p + strlen(" rejected: ");
	return e;
}

static int cmd_ingest(const struct cmd *c, struct args *a)
{
	const char *settle = opt(c, a, "settle-ms");
	struct spool sp;
	struct dirent *de;
	DIR *d;
	long ms;
	int fd, rc, ex = EX_OK, nin = 0, nrej = 0, nwait = 0;
	char id[SPOOL_ID_LEN + 1];

	if (settle && parse_num(settle, 0, LONG_MAX, "--settle-ms", &ms) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	if (settle)
		sp.settle_ms = ms;
	/*
	 * spool_ingest_all would do, but a person wants to hear about each
	 * file: which became which id, which was rejected and why.
	 */
	fd = openat(sp.root, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ex = failed(NULL, -errno, "cannot read new/");
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		struct order_name n;

		if (de->d_name[0] == '.' || name_parse(de->d_name, &n) == 0)
			continue;
		sp.err[0] = 0;
		rc = spool_ingest(&sp, de->d_name, id);
		switch (rc) {
		case 0:
			printf("ingested %s %s\n", de->d_name, id);
			nin++;
			break;
		case 1:
			printf("waiting %s\n", de->d_name);
			nwait++;
			break;
		case 2:
			printf("rejected %s: %s\n", de->d_name, drop_why(&sp, de->d_name));
			nrej++;
			break;
		case -ENOENT:
			break;
		default:
			ex = failed(&sp, rc, "cannot ingest 'new/%s'", de->d_name);
			break;
		}
	}
	if (errno && ex == EX_OK)
		ex = failed(NULL, -errno, "cannot read new/");
	closedir(d);
	if (nin + nrej + nwait > 1)
		warnx("%d ingested, %d rejected, %d waiting", nin, nrej, nwait);
out:
	spool_close(&sp);
	return ex;
}

/* ---- sweep ------------------------------------------------------------------------- */

static int cmd_sweep(const struct cmd *c, struct args *a)
{
	int dry = opt(c, a, "dry-run") != NULL, requeue = opt(c, a, "requeue-failed") != NULL;
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	char err[256];
	struct sweep sw;
	struct spool sp;
	struct buf spec;
	size_t i, nids = 0;
	long added = 0, there = 0, requeued = 0;
	int rc, ex = EX_ERR;

	buf_init(&spec, INPUT_MAX);
	if (read_input(a->pos[0], &spec) < 0) {
		buf_release(&spec);
		return EX_ERR;
	}
	if (sweep_expand(spec.data, spec.len, &sw, err, sizeof err) < 0) {
		warnx("'%s' is not a valid sweep: %s", a->pos[0], err);
		buf_release(&spec);
		return EX_ERR;
	}
	buf_release(&spec);
	if (dry) {
		for (i = 0; i < sw.n; i++)
			printf("%s %.*s\n", sw.jobs[i].id, (int)sw.jobs[i].len, sw.jobs[i].json);
		sweep_release(&sw);
		return EX_OK;
	}
	if (!(ids = calloc(SUBMIT_BATCH, sizeof *ids))) {
		warnx("out of memory");
		sweep_release(&sw);
		return EX_ERR;
	}
	if (open_spool(&sp, 0) < 0)
		goto out_free;
	/* As submit: batches made durable by one commit, ids printed after it. */
	spool_begin(&sp);
	for (i = 0; i < sw.n; i++) {
		struct sweep_job *j = &sw.jobs[i];

		sp.err[0] = 0;
		rc = spool_submit(&sp, j->json, j->len, j->id, ids[nids]);
		if (rc < 0) {
			warnx("cannot submit job %zu of sweep '%s': %s", i + 1, sw.name, why(&sp, rc));
			ex = exit_code(rc);
			break;
		}
		if (rc == 1) {
			struct order o;

			there++;
			snprintf(ids[nids], sizeof ids[nids], "%s", j->id);
			if (requeue && spool_lookup(&sp, j->id, &o) == 0 && o.state == ST_FAILED) {
				sp.err[0] = 0;
				if ((rc = spool_requeue(&sp, j->id, NULL)) < 0) {
					ex = failed(&sp, rc, "cannot requeue '%s'", j->id);
					break;
				}
				requeued++;
			}
		} else {
			added++;
		}
		if (++nids == SUBMIT_BATCH || i + 1 == sw.n) {
			sp.err[0] = 0;
			if ((rc = spool_commit(&sp)) < 0) {
				warnx("cannot commit %zu jobs of sweep '%s': %s", nids, sw.name,
				      why(&sp, rc));
				ex = exit_code(rc);
				nids = 0;
				break;
			}
			flush_ids(ids, nids);
			nids = 0;
			if (i + 1 < sw.n)
				spool_begin(&sp);
			else
				ex = EX_OK;
		}
	}
	if (ex != EX_OK && sp.batch && nids && spool_commit(&sp) == 0)
		flush_ids(ids, nids);
	if (ex == EX_OK || added || there)
		warnx("sweep '%s': %zu jobs: %ld submitted, %ld already there, %ld requeued",
		      sw.name, sw.n, added, there, requeued);
	spool_close(&sp);
out_free:
	free(ids);
	sweep_release(&sw);
	return ex;
}

/* ---- top ---------------------------------------------------------------------------- */

#define TOP_KEYS_MAX 32
#define TOP_VAL_MAX 40	/* characters of a parameter shown */

/*
 * The job parameters worth a column: top-level members whose values differ
 * between the rows (what the sweep varied), the bookkeeping ones aside.
 */
struct params {
	char key[TOP_KEYS_MAX][64];
	int nkeys;
	char **val;	/* val[row * TOP_KEYS_MAX + k], canonical JSON or NULL */
	int varies[TOP_KEYS_MAX];
};

static void params_collect(struct params *p, const struct board *b)
{
	size_t r;
	int k;

	memset(p, 0, sizeof *p);
	p->val = calloc(b->n * TOP_KEYS_MAX + 1, sizeof *p->val);
	if (!p->val)
		return;
	for (r = 0; r < b->n; r++) {
		struct json j;
		char err[8];
		int i, m;

		if (!b->rows[r].job ||
		    json_parse(&j, b->rows[r].job, strlen(b->rows[r].job), JSON_TOKENS_MAX,
			       err, sizeof err) < 0)
			continue;
		for (i = 1, m = 0; j.tok[0].type == JSMN_OBJECT && m < j.tok[0].size;
		     m++, i = json_skip(&j, i + 1)) {
			char key[64];
			struct buf v;

			if (json_str(&j, i, key, sizeof key) < 0 || strcmp(key, "_id") == 0 ||
			    strcmp(key, "sweep") == 0 || strcmp(key, "spool") == 0)
				continue;
			for (k = 0; k < p->nkeys && strcmp(p->key[k], key) != 0; k++)
				;
			if (k == p->nkeys) {
				if (p->nkeys == TOP_KEYS_MAX)
					continue;
				snprintf(p->key[p->nkeys++], sizeof p->key[0], "%s", key);
			}
			buf_init(&v, 1 << 16);
			if (json_canon(&j, i + 1, &v) == 0 && v.data)
				p->val[r * TOP_KEYS_MAX + k] = strdup(v.data);
			buf_release(&v);
		}
		json_release(&j);
	}
	for (k = 0; k < p->nkeys; k++)
		for (r = 1; r < b->n; r++) {
			const char *x = p->val[k], *y = p->val[r * TOP_KEYS_MAX + k];

			if ((!x) != (!y) || (x && strcmp(x, y) != 0)) {
				p->varies[k] = 1;
				break;
			}
		}
}

static void params_release(struct params *p, size_t nrows)
{
	size_t i;

	if (!p->val)
		return;
	for (i = 0; i < nrows * TOP_KEYS_MAX; i++)
		free(p->val[i]);
	free(p->val);
}

static int cmd_top(const struct cmd *c, struct args *a)
{
	const char *key = opt(c, a, "key"), *lim = opt(c, a, "limit");
	const char *sweep = opt(c, a, "sweep");
	int desc = opt(c, a, "desc") != NULL, json = opt(c, a, "json") != NULL;
	struct board b;
	struct spool sp;
	long limit = 10;
	size_t r;
	int rc, s, k;

	if (!key)
		key = "loss";
	if (lim && parse_num(lim, 0, 1000000, "--limit", &limit) < 0)
		return EX_USAGE;
	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	memset(&b, 0, sizeof b);
	sp.err[0] = 0;
	rc = spool_board(&sp, key, desc, (size_t)limit, sweep, &b);
	if (rc < 0) {
		int ex = failed(&sp, rc, "cannot rank outcomes");

		spool_close(&sp);
		return ex;
	}
	if (json) {
		struct buf out;

		buf_init(&out, 64u << 20);
		if ((rc = board_json(&b, key, desc, &out)) < 0) {
			warnx("cannot render the leaderboard: %s", strerror(-rc));
		} else {
			print_buf(&out);
			putchar('\n');
		}
		buf_release(&out);
	} else {
		struct params p;

		printf("%ld/%ld done", b.counts[ST_DONE], b.total);
		for (s = 0; s < ST_COUNT; s++)
			if (s != ST_DONE && b.counts[s])
				printf(", %ld %s", b.counts[s], spool_state_name(s));
		putchar('\n');
		if (b.n) {
			params_collect(&p, &b);
			printf("%4s  %-12s  %-24s  %s\n", "rank", key, "id", "job");
			for (r = 0; r < b.n; r++) {
				printf("%4zu  %-12.6g  %s ", r + 1, b.rows[r].value, b.rows[r].id);
				for (k = 0; p.val && k < p.nkeys; k++) {
					const char *v = p.val[r * TOP_KEYS_MAX + k];

					if (p.varies[k])
						printf(" %s=%.*s%s", p.key[k], TOP_VAL_MAX, v ? v : "-",
						       v && strlen(v) > TOP_VAL_MAX ? "..." : "");
				}
				putchar('\n');
			}
			params_release(&p, b.n);
		}
	}
	board_release(&b);
	spool_close(&sp);
	return rc < 0 ? EX_ERR : EX_OK;
}

/* ---- workers ------------------------------------------------------------------------ */

static int cmd_workers(const struct cmd *c, struct args *a)
{
	int json = opt(c, a, "json") != NULL;
	struct spool sp;
	struct buf b;
	struct json j;
	char err[128];
	int rc, ex = EX_OK, i, k;

	if (open_spool(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&b, 64u << 20);
	sp.err[0] = 0;
	if ((rc = spool_workers_json(&sp, &b)) < 0) {
		ex = failed(&sp, rc, "cannot read the worker records");
		goto out;
	}
	if (json) {
		print_buf(&b);
		putchar('\n');
		goto out;
	}
	/* One line per worker: its name, when it was last seen. */
	if (json_parse(&j, b.data ? b.data : "[]", b.data ? b.len : 2, JSON_TOKENS_MAX, err,
		       sizeof err) < 0) {
		warnx("the worker records are not valid JSON: %s", err);
		ex = EX_ERR;
		goto out;
	}
	for (i = 1, k = 0; j.tok[0].type == JSMN_ARRAY && k < j.tok[0].size;
	     k++, i = json_skip(&j, i)) {
		char name[SPOOL_WORKER_MAX + 1] = "?", seen[40] = "?";

		json_str(&j, json_get(&j, i, "name"), name, sizeof name);
		json_str(&j, json_get(&j, i, "lastSeen"), seen, sizeof seen);
		printf("%s %s\n", name, seen);
	}
	json_release(&j);
out:
	buf_release(&b);
	spool_close(&sp);
	return ex;
}

/* ---- the table ------------------------------------------------------------------------ */

static const struct cmd cmds[] = {
	{ "init", cmd_init, "", "Create the spool (its directories) if missing.",
	  "", { { NULL, 0 } }, 0, 0 },
	{ "submit", cmd_submit, "[--id ID] [FILE...|-]",
	  "Submit jobs; print one id per line.",
	  "Each FILE (- or none: standard input) holds one job object or an array of\n"
	  "jobs. Everything is checked before anything is submitted. Ids are printed\n"
	  "once the jobs are durable.\n"
	  "  --id ID   submit the one job under this id (exit 4 if it exists)\n",
	  { { "id", 1 }, { NULL, 0 } }, 0, -1 },
	{ "ls", cmd_ls, "[STATE|all] [--json] [--limit N]",
	  "Count orders per state, or list the orders of a state.",
	  "Without STATE: one line per state with its count, and the total.\n"
	  "With STATE: one line per order (new/ in claim order):\n"
	  "  ID STATE ATTEMPT PRIORITY DUE WORKER LEASE-DEADLINE   (- when unclaimed)\n"
	  "  --json     a JSON object of counts, or an array of orders\n"
	  "  --limit N  at most N orders\n",
	  { { "json", 0 }, { "limit", 1 }, { NULL, 0 } }, 0, 1 },
	{ "show", cmd_show, "ID [--json] [--log]",
	  "Show an order, its job and its outcome.",
	  "  --json  one object {\"order\", \"job\", \"outcome\" (null if none)}\n"
	  "  --log   also the run logs of every attempt\n",
	  { { "json", 0 }, { "log", 0 }, { NULL, 0 } }, 1, 1 },
	{ "claim", cmd_claim,
	  "--worker NAME [--tag TAG]... [--lease S] [--wait S] [--json]",
	  "Claim the first eligible order and print its job and claim token.",
	  "Prints \"ID TOKEN ATTEMPT\" on the first line, then the job JSON; with\n"
	  "--json one object {\"id\",\"token\",\"attempt\",\"worker\",\"leaseDeadline\",\n"
	  "\"order\",\"job\"}. Exit 3 when nothing is eligible.\n"
	  "  --worker NAME  who claims ([A-Za-z0-9_.-])\n"
	  "  --tag TAG      a capability this worker has (repeatable)\n"
	  "  --lease S      lease in seconds when the job sets none\n"
	  "  --wait S       poll up to S seconds for an eligible order\n",
	  { { "worker", 1 }, { "tag", 1 }, { "lease", 1 }, { "wait", 1 }, { "json", 0 },
	    { NULL, 0 } }, 0, 0 },
	{ "complete", cmd_complete, "ID TOKEN [OUTCOME-FILE|-]",
	  "Complete a claim with an outcome (a JSON object).",
	  "Without OUTCOME-FILE the outcome is {}. Exit 4 when the claim is no\n"
	  "longer held: the outcome is then kept as late, never overwriting.\n"
	  "Completing the same claim again changes nothing and exits 0.\n",
	  { { NULL, 0 } }, 2, 3 },
	{ "fail", cmd_fail, "ID TOKEN [OUTCOME-FILE|-]",
	  "Fail a claim: retry it, or move it to failed/ when attempts are used up.",
	  "Prints \"ID new\" (will be retried) or \"ID failed\". Exit 4 as complete.\n",
	  { { NULL, 0 } }, 2, 3 },
	{ "release", cmd_release, "ID [TOKEN]",
	  "Give a claim back (with TOKEN), or release a held order (without).",
	  "With TOKEN the order returns to new/ in its old place, no attempt counted.\n",
	  { { NULL, 0 } }, 1, 2 },
	{ "renew", cmd_renew, "ID TOKEN [--lease S]",
	  "Renew the lease of a claim; print the new deadline.",
	  "  --lease S  the new lease from now (default: the order's lease)\n",
	  { { "lease", 1 }, { NULL, 0 } }, 2, 2 },
	{ "requeue", cmd_requeue, "ID", "Put an order back in new/ with no attempts used.",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "hold", cmd_hold, "ID", "Hold a waiting order (new/ -> held/).",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "cancel", cmd_cancel, "ID", "Cancel an order (a running claim is fenced).",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "reap", cmd_reap, "[--grace-ms MS]",
	  "Return claims whose lease ran out; print how many.",
	  "  --grace-ms MS  clock-skew allowance past the deadline (default 2000,\n"
	  "                 or $SPOOL_REAP_GRACE_MS)\n",
	  { { "grace-ms", 1 }, { NULL, 0 } }, 0, 0 },
	{ "fsck", cmd_fsck, "[--repair] [--tmp-age S]",
	  "Check the spool; with --repair, mend it.",
	  "Prints one line per finding. Exit 0 when clean, 5 when problems were\n"
	  "found (with --repair: found and mended; run again to confirm).\n"
	  "  --repair     mend what is found\n"
	  "  --tmp-age S  tmp/ files older than S seconds are stale (default 3600)\n",
	  { { "repair", 0 }, { "tmp-age", 1 }, { NULL, 0 } }, 0, 0 },
	{ "ingest", cmd_ingest, "[--settle-ms MS]",
	  "Ingest the job files dropped into new/.",
	  "Prints \"ingested FILE ID\", \"rejected FILE: WHY\" (moved to rejected/) or\n"
	  "\"waiting FILE\" (still being written) per file.\n"
	  "  --settle-ms MS  how long an unparsable file must be unchanged before it\n"
	  "                  is rejected (default 2000, or $SPOOL_SETTLE_MS)\n",
	  { { "settle-ms", 1 }, { NULL, 0 } }, 0, 0 },
	{ "sweep", cmd_sweep, "SPEC [--requeue-failed] [--dry-run]",
	  "Submit the jobs of a sweep spec (a grid and/or random samples).",
	  "SPEC (a file, or -) is {\"name\", \"base\": job, \"grid\": {param: [values]},\n"
	  "\"random\": {\"count\", \"seed\", \"params\": {param: dist}}} (tools/sweep.h).\n"
	  "A job's id comes from its content, so a sweep submitted again adds only\n"
	  "what is missing. Prints every job's id.\n"
	  "  --requeue-failed  also requeue the sweep's jobs that are in failed/\n"
	  "  --dry-run         print \"ID JOB\" per job, submit nothing\n",
	  { { "requeue-failed", 0 }, { "dry-run", 0 }, { NULL, 0 } }, 1, 1 },
	{ "top", cmd_top, "[--key K] [--desc] [--limit N] [--sweep NAME] [--json]",
	  "The leaderboard: the best outcomes of done jobs, and progress.",
	  "The first line counts orders per state; then one row per done job, best\n"
	  "first: rank, the outcome's value of K, the id, and the job parameters that\n"
	  "differ between the rows.\n"
	  "  --key K       the outcome member to rank by (default loss)\n"
	  "  --desc        higher is better (e.g. an accuracy)\n"
	  "  --limit N     rows shown (default 10, 0: all)\n"
	  "  --sweep NAME  only the jobs of that sweep\n"
	  "  --json        the board as one JSON object\n",
	  { { "key", 1 }, { "desc", 0 }, { "limit", 1 }, { "sweep", 1 }, { "json", 0 },
	    { NULL, 0 } }, 0, 0 },
	{ "workers", cmd_workers, "[--json]",
	  "List the workers that have reported: name and when last seen.",
	  "  --json  every worker record, as stored (an array)\n",
	  { { "json", 0 }, { NULL, 0 } }, 0, 0 },
	{ "drain", cmd_drain, "--worker NAME [--tag TAG]... [--lease S] [--max N] [--wait S]",
	  "Claim and complete orders until none is eligible (tests, benchmarks).",
	  "Each order is completed with {\"worker\",\"pid\",\"token\",\"attempt\"}.\n"
	  "Prints \"claimed ID TOKEN ATTEMPT\" and \"done ID TOKEN\" (or \"late ID\n"
	  "TOKEN\") per order, line by line.\n"
	  "  --max N   stop after N completions\n"
	  "  --wait S  keep polling S seconds for more work before stopping\n",
	  { { "worker", 1 }, { "tag", 1 }, { "lease", 1 }, { "max", 1 }, { "wait", 1 },
	    { NULL, 0 } }, 0, 0 },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static void main_help(FILE *f)
{
	size_t i;

	fputs("usage: spoolctl [--spool DIR] [--nosync] COMMAND [ARGS...]\n\n"
	      "The spool is DIR, else $SPOOL_DIR, else ./spool.\n"
	      "  --nosync  skip every fsync (benchmarks; not crash-safe)\n\n"
	      "Commands:\n", f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n'spoolctl COMMAND --help' tells more.\n\n"
	      "Exit codes:\n"
	      "  0  success\n"
	      "  1  error (I/O, bad job or outcome, disk full, ...)\n"
	      "  2  usage (unknown command or option, malformed id, token or value)\n"
	      "  3  nothing there (nothing eligible to claim, no such order)\n"
	      "  4  conflict (claim no longer held, state does not allow it, id taken)\n"
	      "  5  fsck found problems\n", f);
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct args a;
	size_t k;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--spool") == 0) {
			if (i + 1 >= argc) {
				warnx("option '--spool' needs a directory");
				return EX_USAGE;
			}
			spool_dir = argv[++i];
		} else if (strncmp(s, "--spool=", 8) == 0) {
			spool_dir = s + 8;
		} else if (strcmp(s, "--nosync") == 0) {
			nosync = 1;
		} else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			main_help(stdout);
			return EX_OK;
		} else if (s[0] == '-') {
			warnx("unknown option '%s'", s);
			fputs("Try 'spoolctl --help'.\n", stderr);
			return EX_USAGE;
		} else {
			break;
		}
	}
	if (spool_dir && !spool_dir[0]) {
		warnx("option '--spool' needs a directory");
		return EX_USAGE;
	}
	if (i >= argc) {
		main_help(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc) {
			for (k = 0; k < NCMDS; k++)
				if (strcmp(cmds[k].name, argv[i + 1]) == 0) {
					print_help(&cmds[k]);
					return EX_OK;
				}
		}
		main_help(stdout);
		return EX_OK;
	}
	for (k = 0; k < NCMDS; k++)
		if (strcmp(cmds[k].name, argv[i]) == 0)
			c = &cmds[k];
	if (!c) {
		warnx("'%s' is not a command. See 'spoolctl --help'.", argv[i]);
		return EX_USAGE;
	}
	rc = parse_args(c, argc - i - 1, argv + i + 1, &a);
	if (rc == 0) {
		rc = c->run(c, &a);
	} else {
		rc = rc == -1 ? EX_OK : EX_USAGE;
	}
	free(a.pos);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx("cannot write to standard output: %s", strerror(errno));
		if (rc == EX_OK)
			rc = EX_ERR;
	}
	return rc;
}
