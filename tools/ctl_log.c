/*
 * ctl_log: `spoolctl log` with --follow (-f) and --attempt, and `spoolctl
 * metrics`: a run's live log and its series, from the spool directly or
 * from a boss over HTTP (--boss or $SPOOL_BOSS). Following polls by offset
 * (spool_log_read_at, or GET /v1/orders/ID/log?attempt=A&offset=N) and
 * ends once the attempt has ended: the order is no longer assigned to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boss.h"
#include "cli.h"
#include "json.h"
#include "spool.h"
#include "token.h"

#define POLL_MS 250
#define CHUNK_MAX (1 << 20)	/* the boss serves at most this per offset read */
#define COLS_MAX 12

/* Where a log is read: the spool, or a boss. */
struct src {
	int remote;
	const char *url;
	char token[TOKEN_FILE_MAX + 1];
	struct spool sp;
	char err[300];
};

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int src_open(struct src *s, const struct cmd *c, struct args *a)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = cli_boss(cli_opt(c, a, "boss"), cli_opt(c, a, "token-file"), &s->url,
			   s->token)) < 0)
		return EX_USAGE;
	s->remote = rc > 0;
	if (!s->remote && cli_open(&s->sp, 0) < 0)
		return EX_ERR;
	return EX_OK;
}

static void src_close(struct src *s)
{
	if (!s->remote)
		spool_close(&s->sp);
}

/* GET path from the boss into b: the status, or -1 (said). */
static long get(struct src *s, const char *path, struct buf *b)
{
	long status;

	if (boss_request(s->url, "GET", path, NULL, 0, s->token, b, &status, s->err,
			 sizeof(s->err)) < 0) {
		cli_warn("%s", s->err);
		return -1;
	}
	return status;
}

/* The boss's {"error": ...} of an answer, for a message. */
static const char *why(const struct buf *b)
{
	static char msg[300];
	struct json j;
	int i;

	snprintf(msg, sizeof(msg), "%.*s", (int)(b->len < 200 ? b->len : 200),
		 b->data ? b->data : "");
	if (b->len && json_parse(&j, b->data, b->len, 64, NULL, 0) == 0) {
		if (j.tok[0].type == JSMN_OBJECT && (i = json_get(&j, 0, "error")) >= 0)
			json_str(&j, i, msg, sizeof(msg));
		json_release(&j);
	}
	return msg;
}

/*
 * The order's attempt and whether it runs: *attempt (0 when it never ran)
 * and *running (assigned, to that attempt). EX_OK, EX_NONE (no such order
 * and no log), EX_ERR.
 */
static int order_state(struct src *s, const char *id, int *attempt, int *running)
{
	*running = 0;
	*attempt = 0;
	if (!s->remote) {
		struct order o;
		int rc = spool_lookup(&s->sp, id, &o);

		if (rc == -ENOENT)
			rc = spool_lookup(&s->sp, id, &o);	/* moved while looking */
		if (rc == 0) {
			*attempt = o.n.attempt;
			*running = o.state == ST_ASSIGNED;
			return EX_OK;
		}
		if (rc != -ENOENT)
			return cli_failed(&s->sp, rc, "cannot look up order '%s'", id);
		return (*attempt = spool_log_last_attempt(&s->sp, id)) ? EX_OK : EX_NONE;
	} else {
		char path[96], state[32] = "";
		struct buf b;
		struct json j;
		int64_t at = 0;
		long st;
		int i, ex = EX_OK;

		buf_init(&b, 1 << 20);
		snprintf(path, sizeof(path), "/v1/orders/%s", id);
		st = get(s, path, &b);
		if (st == 404)
			ex = EX_NONE;
		else if (st != 200 || json_parse(&j, b.data, b.len, 4096, NULL, 0) < 0) {
			if (st > 0)
				cli_warn("GET %s: HTTP %ld: %s", path, st, why(&b));
			ex = EX_ERR;
		} else {
			if (j.tok[0].type == JSMN_OBJECT) {
				if ((i = json_get(&j, 0, "state")) >= 0)
					json_str(&j, i, state, sizeof(state));
				if ((i = json_get(&j, 0, "attempt")) >= 0)
					json_int(&j, i, &at);
			}
			json_release(&j);
			*attempt = (int)at;
			*running = !strcmp(state, "assigned");
		}
		buf_release(&b);
		return ex;
	}
}

/*
 * New bytes of attempt's log from *off onto stdout; *off moves on. EX_OK
 * (*none: nothing there yet), or an exit code (said).
 */
static int read_more(struct src *s, const char *id, int attempt, int64_t *off, int *none)
{
	struct buf b;
	int ex = EX_OK;

	*none = 0;
	buf_init(&b, CHUNK_MAX + 4096);
	if (!s->remote) {
		int64_t size;
		int rc = spool_log_read_at(&s->sp, id, attempt, *off, CHUNK_MAX, &b, &size);

		if (rc == -ENOENT)
			*none = 1;
		else if (rc == -ERANGE)
			cli_warn("the log of '%s' attempt %d is shorter (%lld bytes) than what was "
				 "read of it (%lld): it was replaced", id, attempt, (long long)size,
				 (long long)*off), ex = EX_ERR;
		else if (rc < 0)
			ex = cli_failed(&s->sp, rc, "cannot read the log of '%s'", id);
	} else {
		char path[160];
		long st;

		snprintf(path, sizeof(path), "/v1/orders/%s/log?attempt=%d&offset=%lld", id,
			 attempt, (long long)*off);
		st = get(s, path, &b);
		if (st == 404) {
			*none = 1;
			buf_reset(&b);
		} else if (st != 200) {
			if (st > 0)
				cli_warn("GET %s: HTTP %ld: %s", path, st, why(&b));
			buf_reset(&b);
			ex = EX_ERR;
		}
	}
	if (b.len) {
		fwrite(b.data, 1, b.len, stdout);
		fflush(stdout);
	}
	*off += (int64_t)b.len;
	if (!b.len)
		*none = 1;
	buf_release(&b);
	return ex;
}

/* Follow attempt (0: the order's, once it runs) until it ends. */
static int follow(struct src *s, const char *id, int attempt)
{
	int64_t off = 0;
	int ex, running, at, none, said = 0, fixed = attempt > 0;

	for (;;) {
		if ((ex = order_state(s, id, &at, &running)) != EX_OK) {
			if (ex == EX_NONE)
				cli_warn("no order '%s'", id);
			return ex;
		}
		if (!fixed && at > 0 && (running || !attempt))
			attempt = at;	/* the attempt that runs now, or the last one */
		if (!attempt) {
			if (!said++)
				cli_warn("order '%s' has not started yet: waiting", id);
			nap(POLL_MS * 4);
			continue;
		}
		/* read after the state: what the state says has ended is all there */
		do {
			if ((ex = read_more(s, id, attempt, &off, &none)) != EX_OK)
				return ex;
		} while (!none);
		if (!running || at != attempt)
			return EX_OK;
		nap(POLL_MS);
	}
}

/* `spoolctl log ID [--attempt N] [-f] [--boss URL]` */
int cmd_log_live(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *as = cli_opt(c, a, "attempt");
	int fol = cli_opt(c, a, "f") || cli_opt(c, a, "follow");
	long attempt = 0;
	struct src s;
	int ex;

	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (as && cli_num(as, 1, SPOOL_ATTEMPTS_MAX, "--attempt", &attempt) < 0)
		return EX_USAGE;
	if ((ex = src_open(&s, c, a)) != EX_OK)
		return ex;
	if (!fol && !attempt && !s.remote) {
		src_close(&s);
		return cmd_log(c, a);	/* every attempt, as before */
	}
	if (fol) {
		ex = follow(&s, id, (int)attempt);
	} else if (s.remote) {
		char path[128];
		struct buf b;
		long st;

		buf_init(&b, (SPOOL_LOG_MAX + 256) * 8);
		if (attempt)
			snprintf(path, sizeof(path), "/v1/orders/%s/log?attempt=%ld", id, attempt);
		else
			snprintf(path, sizeof(path), "/v1/orders/%s/log", id);
		st = get(&s, path, &b);
		if (st == 200)
			cli_print_buf(&b);
		else if (st > 0)
			cli_warn("no log: HTTP %ld: %s", st, why(&b));
		ex = st == 200 ? EX_OK : st == 404 ? EX_NONE : EX_ERR;
		buf_release(&b);
	} else {
		int64_t off = 0;
		int none;

		ex = read_more(&s, id, (int)attempt, &off, &none);
		if (ex == EX_OK && none && !off) {
			cli_warn("no log of '%s' attempt %ld", id, attempt);
			ex = EX_NONE;
		}
	}
	src_close(&s);
	return ex;
}

/* ---- metrics ---------------------------------------------------------------------- */

/* The columns: step and epoch first, then each numeric key as met. */
static int columns(const struct json *j, int pts, char cols[][64], int *n)
{
	int end = json_skip(j, pts), p, k;

	*n = 0;
	strcpy(cols[(*n)++], "step");
	strcpy(cols[(*n)++], "epoch");
	for (p = pts + 1; p < end; p = json_skip(j, p)) {
		int pend = json_skip(j, p);

		if (j->tok[p].type != JSMN_OBJECT)
			continue;
		for (k = p + 1; k < pend; k = json_skip(j, k + 1)) {
			char key[64];
			double v;
			int c;

			if (json_str(j, k, key, sizeof(key)) < 0 || json_num(j, k + 1, &v) < 0)
				continue;
			for (c = 0; c < *n && strcmp(cols[c], key); c++)
				;
			if (c == *n && *n < COLS_MAX)
				strcpy(cols[(*n)++], key);
		}
	}
	return 0;
}

static void table(const struct json *j, int pts)
{
	char cols[COLS_MAX][64];
	int used[COLS_MAX] = { 0 }, n, c, p, end = json_skip(j, pts);

	columns(j, pts, cols, &n);
	for (p = pts + 1; p < end; p = json_skip(j, p))
		for (c = 0; c < n; c++)
			if (j->tok[p].type == JSMN_OBJECT && json_get(j, p, cols[c]) >= 0)
				used[c] = 1;
	for (c = 0, p = 0; c < n; c++)
		if (used[c])
			printf("%s%-12s", p++ ? " " : "", cols[c]);
	printf("\n");
	for (p = pts + 1; p < end; p = json_skip(j, p)) {
		int first = 1;

		for (c = 0; c < n; c++) {
			int v = j->tok[p].type == JSMN_OBJECT ? json_get(j, p, cols[c]) : -1;
			const char *raw = "-";
			size_t len = 1;
			double d;

			if (!used[c])
				continue;
			if (v >= 0 && json_num(j, v, &d) == 0)
				raw = json_raw(j, v, &len);
			printf("%s%-12.*s", first ? "" : " ", (int)len, raw);
			first = 0;
		}
		printf("\n");
	}
}

/* `spoolctl metrics ID [--attempt N] [--json] [--boss URL]` */
int cmd_metrics(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *as = cli_opt(c, a, "attempt");
	long attempt = 0;
	struct src s;
	struct buf b;
	struct json j;
	int ex = EX_OK, pts;

	memset(&j, 0, sizeof(j));

	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (as && cli_num(as, 1, SPOOL_ATTEMPTS_MAX, "--attempt", &attempt) < 0)
		return EX_USAGE;
	if ((ex = src_open(&s, c, a)) != EX_OK)
		return ex;
	buf_init(&b, 4 * SPOOL_SERIES_MAX);
	if (!s.remote) {
		int rc = spool_metrics_json(&s.sp, id, (int)attempt, &b);

		if (rc < 0)
			ex = cli_failed(&s.sp, rc, "no series for '%s'", id);
	} else {
		char path[128];
		long st;

		if (attempt)
			snprintf(path, sizeof(path), "/v1/orders/%s/metrics?attempt=%ld", id, attempt);
		else
			snprintf(path, sizeof(path), "/v1/orders/%s/metrics", id);
		st = get(&s, path, &b);
		if (st != 200 && st > 0)
			cli_warn("no series: HTTP %ld: %s", st, why(&b));
		ex = st == 200 ? EX_OK : st == 404 ? EX_NONE : EX_ERR;
	}
	if (ex == EX_OK && cli_opt(c, a, "json")) {
		cli_print_buf(&b);
	} else if (ex == EX_OK) {
		if (json_parse(&j, b.data, b.len, 1 << 20, NULL, 0) < 0 ||
		    j.tok[0].type != JSMN_OBJECT || (pts = json_get(&j, 0, "points")) < 0 ||
		    j.tok[pts].type != JSMN_ARRAY) {
			cli_warn("the series of '%s' does not parse", id);
			ex = EX_ERR;
		} else {
			int t = json_get(&j, 0, "truncated"), at = json_get(&j, 0, "attempt");
			int64_t an = 0;

			if (at >= 0)
				json_int(&j, at, &an);
			if (!j.tok[pts].size)
				printf("no points in attempt %lld\n", (long long)an);
			else
				table(&j, pts);
			if (t >= 0 && json_bool(&j, t) == 1)
				printf("(truncated: the series was capped; later points were not kept)\n");
		}
		if (j.tok)
			json_release(&j);
	}
	buf_release(&b);
	src_close(&s);
	return ex;
}
