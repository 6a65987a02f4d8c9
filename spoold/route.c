/*
 * route: the routing table and the request handlers, ours (/v1) and the
 * seed's (the article's paths and JSON shapes, so that its worker works
 * unchanged). API.md describes every route.
 *
 * A handler runs on the loop thread: it checks everything it can without
 * the disk (ids, tokens, query values, JSON syntax, job_check) and answers
 * bad input at once; the rest becomes an op (op.c) whose run function does
 * the spool work on a disk thread and writes the answer, and whose done
 * function sends it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spoold.h"
#include "json.h"

/* ---- small helpers ----------------------------------------------------------- */

static const char *body_of(struct conn *c, size_t *len)
{
	*len = c->req.body.len;
	return c->req.body.data ? c->req.body.data : "";
}

/* An op for the request on c. */
static struct op *req_op(struct conn *c, op_run_fn run, op_done_fn done,
			 int readonly)
{
	struct op *op = op_new(run, done ? done : op_answer, readonly);
	if (!op) {
		http_error(c, 500, "out of memory");
		return NULL;
	}
	op->conn = c;
	op->body = body_of(c, &op->blen);
	return op;
}

static void submit(struct conn *c, struct op *op)
{
	c->op = op;
	disk_submit(c->srv, op);
}

/* Segment i of the path as an id into out, or answer 400. */
static int seg_id(struct conn *c, int i, char out[SPOOL_ID_LEN + 1])
{
	char pr[80];
	const char *s = c->req.seg[i];
	if (!id_valid(s)) {
		http_error(c, 400, "invalid id '%s': an id is 24 hex digits",
			   printable(s, pr));
		return -1;
	}
	memcpy(out, s, SPOOL_ID_LEN + 1);
	return 0;
}

/* The claim token from ?token= or X-Spool-Token; answers 400 if bad. */
static int req_token(struct conn *c, char out[SPOOL_TOKEN_LEN + 1],
		     int required)
{
	char t[80], pr[80];
	int rc = query_get(c->req.query, "token", t, sizeof(t));
	if (rc == 0 && c->req.xtoken[0]) {
		snprintf(t, sizeof(t), "%s", c->req.xtoken);
		rc = 1;
	}
	if (rc == 0 && !required) {
		out[0] = 0;
		return 0;
	}
	if (rc == 0) {
		http_error(c, 400, "the claim token is required "
			   "(?token= or X-Spool-Token)");
		return -1;
	}
	if (rc < 0 || !token_valid(t)) {
		http_error(c, 400, "invalid token '%s'", printable(t, pr));
		return -1;
	}
	memcpy(out, t, SPOOL_TOKEN_LEN + 1);
	return 1;
}

/* Body must be one strict JSON object; answers 400 otherwise. */
static int body_object(struct conn *c, const char *what)
{
	char err[200];
	size_t len, i = 0;
	const char *b = body_of(c, &len);
	if (!len) {
		http_error(c, 400, "%s: empty body, expected a JSON object", what);
		return -1;
	}
	if (json_validate(b, len, err, sizeof(err)) < 0) {
		http_error(c, 400, "%s: bad JSON: %s", what, err);
		return -1;
	}
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			   b[i] == '\n'))
		i++;
	if (b[i] != '{') {
		http_error(c, 400, "%s: expected a JSON object", what);
		return -1;
	}
	return 0;
}

/*
 * The body as a parsed JSON object, for the handlers that read members of
 * it: one parse (which validates), errors answered (400, 413 over the token
 * ceiling). 0 with j to release, or -1 (answered).
 */
static int body_json(struct conn *c, const char *what, struct json *j)
{
	char err[200];
	size_t len;
	const char *b = body_of(c, &len);
	int rc;

	if (!len) {
		http_error(c, 400, "%s: empty body, expected a JSON object", what);
		return -1;
	}
	rc = json_parse(j, b, len, JSON_TOKENS_MAX, err, sizeof(err));
	if (rc < 0) {
		http_error(c, rc == -E2BIG ? 413 : 400, "%s: %s", what,
			   rc == -E2BIG ? "too many JSON tokens" : err);
		return -1;
	}
	if (j->tok[0].type != JSMN_OBJECT) {
		json_release(j);
		http_error(c, 400, "%s: expected a JSON object", what);
		return -1;
	}
	return 0;
}

static int lease_param(struct conn *c, long def, int *out)
{
	long v;
	if (query_int(c->req.query, "lease", 1, 30L * 86400, def, &v) < 0) {
		http_error(c, 400, "lease must be seconds, 1 to 2592000");
		return -1;
	}
	*out = (int)v;
	return 0;
}

static void add_str(struct buf *b, const char *s)
{
	buf_json_str(b, s, strlen(s));
}

static void ok_state(struct op *op, const char *id, enum spool_state st)
{
	buf_puts(&op->out, "{\"id\": ");
	add_str(&op->out, id);
	buf_printf(&op->out, ", \"state\": \"%s\"}\n", spool_state_name(st));
	op->status = 200;
}

/* ---- /healthz, /metrics, /v1/stats -------------------------------------------- */

static void h_healthz(struct conn *c)
{
	static const char ok[] = "{\"ok\": true}\n";
	http_reply(c, 200, NULL, ok, sizeof(ok) - 1, NULL);
}

static void run_count(struct op *op, struct spool *sp)
{
	long *counts = calloc(ST_COUNT, sizeof(long));
	int rc;
	if (!counts) {
		op->rc = -ENOMEM;
		return;
	}
	op->data = counts;
	rc = spool_count(sp, counts);
	op->rc = rc;
	if (rc < 0)
		op_errno(op, sp, rc, "count orders");
}

static void done_metrics(struct server *srv, struct op *op)
{
	if (op->rc >= 0) {
		buf_reset(&op->out);
		op->status = metrics_text(srv, op->data, &op->out) < 0 ? 500 : 200;
		op->ctype = "text/plain; version=0.0.4";
	}
	op_answer(srv, op);
}

static void h_metrics(struct conn *c)
{
	struct op *op = req_op(c, run_count, done_metrics, 1);
	if (op)
		submit(c, op);
}

static void done_stats(struct server *srv, struct op *op)
{
	const long *n = op->data;
	struct metrics *m = &srv->m;
	struct buf *b = &op->out;
	int s;

	if (op->rc >= 0) {
		buf_reset(b);
		buf_puts(b, "{\"orders\": {");
		for (s = 0; s < ST_COUNT; s++)
			buf_printf(b, "%s\"%s\": %ld", s ? ", " : "",
				   spool_state_name(s), n[s]);
		buf_printf(b, "}, \"queued\": %zu, \"waiting\": %d, "
			   "\"connections\": %d, \"indexBytes\": %zu, "
			   "\"uptimeS\": %lld, \"lastScanMs\": %lld, "
			   "\"lastScanOrders\": %zu, \"lastMergeMs\": %lld, ",
			   srv->ix.n, srv->nwaiting, srv->nconns,
			   index_bytes(&srv->ix),
			   (long long)((now_ms() - srv->started_ms) / 1000),
			   (long long)srv->scan_ms, srv->scan_n,
			   (long long)srv->merge_ms);
		buf_printf(b, "\"submits\": %llu, \"claims\": %llu, "
			   "\"completions\": %llu, \"failures\": %llu, "
			   "\"expiredLeases\": %llu, \"ingested\": %llu, "
			   "\"rejected\": %llu, \"batches\": %llu, "
			   "\"batchOps\": %llu}\n",
			   (unsigned long long)m->submits,
			   (unsigned long long)m->claims,
			   (unsigned long long)m->completions,
			   (unsigned long long)m->failures,
			   (unsigned long long)m->expired,
			   (unsigned long long)m->ingested,
			   (unsigned long long)m->rejected,
			   (unsigned long long)m->batches,
			   (unsigned long long)m->batch_ops);
		op->status = 200;
	}
	op_answer(srv, op);
}

static void h_stats(struct conn *c)
{
	struct op *op = req_op(c, run_count, done_stats, 1);
	if (op)
		submit(c, op);
}

/* ---- submitting ---------------------------------------------------------------- */

/* One job of a bulk submit: its id and its result at commit. */
struct bulk_job {
	char id[SPOOL_ID_LEN + 1];
	int rc;
};

/* A bulk submit's jobs (op->data): those tried, and why one failed. */
struct bulk {
	char why[300];
	size_t ntried;
	struct bulk_job j[];
};

/*
 * Some jobs of a bulk submit were not stored (a write failed as they were
 * staged, or the commit did not make them durable): say exactly which
 * were, so that retrying the others is harmless.
 */
static void bulk_committed(struct op *op)
{
	struct bulk *bk = op->data;
	size_t i, n, bad = 0, k;
	int rc = 0;

	if (!bk || op->seed)
		return;
	n = bk->ntried;
	for (i = 0; i < n; i++)
		if (bk->j[i].rc < 0) {
			bad++;
			if (!rc)
				rc = bk->j[i].rc;
		}
	if (!bad)
		return;
	buf_reset(&op->out);
	buf_printf(&op->out, "{\"error\": ");
	{
		char msg[600];

		snprintf(msg, sizeof(msg), "%zu of %zu jobs not stored: %s", bad + op->nel - n,
			 op->nel, bk->why[0] ? bk->why : strerror(-rc));
		buf_json_str(&op->out, msg, strlen(msg));
	}
	buf_puts(&op->out, ", \"ids\": [");
	for (i = 0, k = 0; i < n; i++)
		if (bk->j[i].rc == 0)
			buf_printf(&op->out, "%s\"%s\"", k++ ? ", " : "", bk->j[i].id);
	buf_puts(&op->out, "], \"notStored\": [");
	for (i = 0, k = 0; i < n; i++)
		if (bk->j[i].rc < 0 && bk->j[i].id[0])
			buf_printf(&op->out, "%s\"%s\"", k++ ? ", " : "", bk->j[i].id);
	/* the jobs after one that failed as it was written were not tried */
	buf_printf(&op->out, "], \"notTried\": %zu}\n", op->nel - n);
	op->status = rc == -ENOSPC || rc == -EDQUOT ? 507 : rc == -E2BIG ? 413 : 500;
	op->ctype = NULL;
	op->num = (int64_t)(n - bad);
}

static void run_submit(struct op *op, struct spool *sp)
{
	char id[SPOOL_ID_LEN + 1], when[32];
	size_t i;
	int rc;

	if (op->seed) {
		char given[SPOOL_ID_LEN + 1];
		int has = job_given_id(op->body + op->el[0][0], op->el[0][1],
				       given);
		int64_t now = now_ms();
		rc = spool_submit(sp, op->body + op->el[0][0], op->el[0][1],
				  has ? given : NULL, id);
		if (rc < 0) {
			op_errno(op, sp, rc, "store the job");
			return;
		}
		/* (an id may be content-derived: it says nothing of time) */
		iso_time(now, when);
		buf_printf(&op->out, "{\"_id\": \"%s\", \"order\": {\"_id\": "
			   "\"%s\", \"jobId\": \"%s\", \"createdDate\": \"%s\", "
			   "\"status\": \"unassigned\"}}\n", id, id, id, when);
		memcpy(op->id, id, sizeof(id));
		op->num = 1;
		op->status = 201;
		return;
	}
	/* each job's own fate at the commit, and its id, for done_submit */
	struct bulk *bk = calloc(1, sizeof(*bk) + (op->nel ? op->nel : 1) * sizeof(bk->j[0]));
	if (!(op->data = bk)) {
		op_error(op, 500, "out of memory");
		return;
	}
	buf_puts(&op->out, "{\"ids\": [");
	for (i = 0; i < op->nel; i++) {
		struct bulk_job *bj = &bk->j[i];

		/* a job that names its own id (a sweep's content id) keeps it:
		 * spool_submit applies that rule on every path */
		spool_track(sp, &bj->rc, NULL);
		id[0] = '\0';
		rc = spool_submit(sp, op->body + op->el[i][0], op->el[i][1],
				  NULL, id);
		memcpy(bj->id, id, sizeof(id));
		bk->ntried = i + 1;
		if (rc < 0) {
			/* nothing of this job was kept; those before it commit */
			bj->rc = rc;
			snprintf(bk->why, sizeof(bk->why), "%s", spool_error(sp)[0] ? spool_error(sp) : strerror(-rc));
			op_errno(op, sp, rc, "store the jobs");
			return;
		}
		if (!i)
			memcpy(op->id, id, sizeof(id));
		buf_printf(&op->out, "%s\"%s\"", i ? ", " : "", id);
	}
	buf_puts(&op->out, "]}\n");
	op->num = (int64_t)op->nel;
	op->status = 201;
}

static void done_submit(struct server *srv, struct op *op)
{
	bulk_committed(op);
	if (op->status == 201) {
		srv->m.submits += (uint64_t)op->num;
		if (op->num == 1)
			say(srv, "submit %s", op->id);
		else
			say(srv, "submit %lld jobs, first %s", (long long)op->num,
			    op->id);
	}
	op_answer(srv, op);
}

/* Check every job of the body; one bad job answers 400 naming it. */
static int jobs_check(struct conn *c, struct op *op, int seed)
{
	char err[256];
	size_t len, i = 0;
	const char *b = body_of(c, &len);
	int64_t now = now_ms();
	struct job_opts o;
	long n;

	if (!len) {
		http_error(c, 400, "empty body: expected a job (a JSON object) "
			   "or an array of jobs");
		return -1;
	}
	if (json_validate(b, len, err, sizeof(err)) < 0) {
		http_error(c, 400, "bad JSON: %s", err);
		return -1;
	}
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			   b[i] == '\n'))
		i++;
	if (b[i] == '[' && !seed) {
		n = json_array_split(b, len, 1000000, &op->el);
		if (n < 0) {
			http_error(c, n == -E2BIG ? 413 : 400,
				   "cannot split the array of jobs");
			return -1;
		}
		if (n == 0) {
			http_error(c, 400, "empty array: no jobs to submit");
			return -1;
		}
		op->nel = (size_t)n;
		for (i = 0; i < op->nel; i++) {
			int rc = job_check(b + op->el[i][0], op->el[i][1], now, &o,
					   err, sizeof(err));

			if (rc < 0) {
				struct buf e;
				buf_init(&e, 1024);
				buf_printf(&e, "{\"error\": ");
				{
					char msg[400];
					snprintf(msg, sizeof(msg),
						 "job %zu: %s; nothing stored",
						 i, err);
					add_str(&e, msg);
				}
				buf_printf(&e, ", \"index\": %zu}\n", i);
				/* over a ceiling (bytes, JSON tokens) is 413 */
				http_reply_take(c, rc == -E2BIG ? 413 : 400, NULL, &e, NULL);
				buf_release(&e);
				return -1;
			}
		}
		return 0;
	}
	if (b[i] != '{') {
		http_error(c, 400, "a job is a JSON object%s",
			   seed ? "" : " (or send an array of them)");
		return -1;
	}
	op->el = malloc(sizeof(*op->el));
	if (!op->el) {
		http_error(c, 500, "out of memory");
		return -1;
	}
	op->el[0][0] = i;
	op->el[0][1] = len - i;
	op->nel = 1;
	{
		int rc = job_check(b + i, len - i, now, &o, err, sizeof(err));

		if (rc < 0) {
			http_error(c, rc == -E2BIG ? 413 : 400, "bad job: %s", err);
			return -1;
		}
	}
	return 0;
}

static void submit_jobs(struct conn *c, int seed)
{
	struct op *op = req_op(c, run_submit, done_submit, 0);
	if (!op)
		return;
	op->durable = 1;
	op->seed = seed;
	if (jobs_check(c, op, seed) < 0) {
		op_free(op);
		return;
	}
	submit(c, op);
}

static void h_jobs_post(struct conn *c)
{
	submit_jobs(c, 0);
}

static void s_job_create(struct conn *c)
{
	submit_jobs(c, 1);
}

/* ---- claiming ------------------------------------------------------------------- */

static void h_claim(struct conn *c)
{
	struct waiter *w = &c->w;
	char tags[SPOOL_TAGS_MAX * (SPOOL_TAG_MAX + 1) + 1], pr[80];
	long wait;
	int rc, i;

	memset(w, 0, sizeof(*w));
	rc = query_get(c->req.query, "worker", w->worker, sizeof(w->worker));
	if (rc <= 0 || !worker_valid(w->worker)) {
		if (rc == 0)
			http_error(c, 400, "worker=NAME is required");
		else if (rc < 0)
			http_error(c, 400, "invalid worker name: [A-Za-z0-9_.-]"
				   "{1,%d}", SPOOL_WORKER_MAX);
		else
			http_error(c, 400, "invalid worker name '%s'",
				   printable(w->worker, pr));
		return;
	}
	if (query_int(c->req.query, "wait", 0, 1000000000L, 0, &wait) < 0) {
		http_error(c, 400, "wait must be whole seconds, 0 or more");
		return;
	}
	if (wait > CLAIM_WAIT_MAX)
		wait = CLAIM_WAIT_MAX;
	rc = query_get(c->req.query, "tags", tags, sizeof(tags));
	if (rc < 0 || (rc > 0 && tags_parse(tags, w->tagv, &w->ntags) < 0)) {
		http_error(c, 400, "tags must be a comma list of at most %d tags "
			   "([A-Za-z0-9_.:-]{1,32})", SPOOL_TAGS_MAX);
		return;
	}
	for (i = 0; i < w->ntags; i++)
		w->tags[i] = w->tagv[i];
	if (lease_param(c, c->srv->cfg.lease_s, &w->lease_s) < 0)
		return;
	w->deadline = now_ms() + wait * 1000;
	claim_wait(c->srv, c);
}

static void s_bored(struct conn *c)
{
	struct waiter *w = &c->w;
	char pr[80];

	memset(w, 0, sizeof(*w));
	if (!worker_valid(c->req.seg[1])) {
		http_error(c, 400, "invalid worker name '%s'",
			   printable(c->req.seg[1], pr));
		return;
	}
	snprintf(w->worker, sizeof(w->worker), "%s", c->req.seg[1]);
	w->seed = 1;
	w->lease_s = c->srv->cfg.seed_lease_s;
	w->deadline = now_ms();
	claim_wait(c->srv, c);
}

/* ---- claim-token routes ------------------------------------------------------------ */

/* Look up the claim op->id / op->token; answers 404/409 and returns <0. */
static int claim_find(struct op *op, struct spool *sp)
{
	int rc = spool_lookup_claim(sp, op->id, op->token, &op->o);
	if (rc == -ESTALE) {
		op_error(op, 409, "claim %s is no longer held: %s", op->token,
			 spool_error(sp));
	} else if (rc < 0) {
		op_errno(op, sp, rc, "find the claim");
	}
	return rc;
}

/* After spool_lookup_claim said -ESTALE, op->o describes the lost claim:
 * completing or failing it files the outcome in late/ (-ESTALE), or finds
 * this very outcome filed already (-EALREADY: a repeated request). */
static int file_late(struct op *op, struct spool *sp, int fail)
{
	struct order o = op->o;
	int retried;
	if (fail)
		return spool_fail(sp, &o, op->blen ? op->body : NULL, op->blen,
				  &retried);
	return spool_complete(sp, &o, op->body, op->blen);
}

static void duplicate(struct op *op, const char *state)
{
	buf_reset(&op->out);
	buf_printf(&op->out, "{\"id\": \"%s\", \"state\": \"%s\", "
		   "\"duplicate\": true}\n", op->id, state);
	op->status = 200;
	op->flag = 1;
}

static void run_heartbeat(struct op *op, struct spool *sp)
{
	char when[32];
	int rc;
	if (claim_find(op, sp) < 0)
		return;
	rc = spool_renew(sp, &op->o, op->lease_s);
	if (rc == -ESTALE) {
		op_error(op, 409, "claim %s of order %s is no longer held",
			 op->token, op->id);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "renew the lease");
		return;
	}
	iso_time(op->o.n.deadline, when);
	buf_printf(&op->out, "{\"id\": \"%s\", \"leaseDeadline\": \"%s\", "
		   "\"leaseDeadlineMs\": %lld}\n", op->id, when,
		   (long long)op->o.n.deadline);
	op->status = 200;
}

static void run_complete(struct op *op, struct spool *sp)
{
	int rc = spool_lookup_claim(sp, op->id, op->token, &op->o);

	if (rc == -ESTALE) {
		char why[300];
		snprintf(why, sizeof(why), "%s", spool_error(sp));
		if (file_late(op, sp, 0) == -EALREADY) {
			duplicate(op, "done");
			return;
		}
		op_error(op, 409, "claim %s is no longer held: %s; the outcome "
			 "is kept in late/", op->token, why);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "find the claim");
		return;
	}
	op->state = ST_DONE;	/* what a duplicate found at commit says */
	rc = spool_complete(sp, &op->o, op->body, op->blen);
	if (rc == -EALREADY) {
		duplicate(op, "done");
	} else if (rc == -ESTALE) {
		op_error(op, 409, "claim %s of order %s is no longer held; the "
			 "outcome is kept in late/", op->token, op->id);
	} else if (rc < 0) {
		op_errno(op, sp, rc, "complete the order");
	} else {
		ok_state(op, op->id, ST_DONE);
	}
}

static void run_fail(struct op *op, struct spool *sp)
{
	int rc = spool_lookup_claim(sp, op->id, op->token, &op->o);

	if (rc == -ESTALE) {
		char why[300];
		snprintf(why, sizeof(why), "%s", spool_error(sp));
		if (file_late(op, sp, 1) == -EALREADY) {
			/* this failure was filed already; the order moved on */
			duplicate(op, strstr(why, " is new,") ? "new" : "failed");
			return;
		}
		op_error(op, 409, "claim %s is no longer held: %s; the outcome "
			 "is kept in late/", op->token, why);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "find the claim");
		return;
	}
	op->state = ST_FAILED;
	rc = spool_fail(sp, &op->o, op->blen ? op->body : NULL, op->blen,
			&op->retried);
	if (rc == -EALREADY) {
		duplicate(op, "failed");
	} else if (rc == -ESTALE) {
		op_error(op, 409, "claim %s of order %s is no longer held",
			 op->token, op->id);
	} else if (rc < 0) {
		op_errno(op, sp, rc, "fail the order");
	} else {
		buf_printf(&op->out, "{\"id\": \"%s\", \"state\": \"%s\", "
			   "\"retried\": %s}\n", op->id,
			   op->retried ? "new" : "failed",
			   op->retried ? "true" : "false");
		op->status = 200;
	}
}

static void run_release(struct op *op, struct spool *sp)
{
	int rc;
	if (!op->token[0]) {
		rc = spool_unhold(sp, op->id, &op->o);
		if (rc < 0)
			op_errno(op, sp, rc, "release the order");
		else
			ok_state(op, op->id, ST_NEW);
		return;
	}
	if (claim_find(op, sp) < 0)
		return;
	rc = spool_release(sp, &op->o);
	if (rc == -ESTALE)
		op_error(op, 409, "claim %s of order %s is no longer held",
			 op->token, op->id);
	else if (rc < 0)
		op_errno(op, sp, rc, "release the claim");
	else
		ok_state(op, op->id, ST_NEW);
}

static void done_outcome(struct server *srv, struct op *op)
{
	if (op->status == 200 && !op->flag &&
	    (op->run == run_release || (op->run == run_fail && op->retried)))
		watch_order(srv, &op->o);
	if (op->status == 200 && !op->flag) {
		if (op->run == run_complete) {
			srv->m.completions++;
			say(srv, "complete %s", op->id);
		} else if (op->run == run_fail) {
			srv->m.failures++;
			if (op->retried)
				srv->m.retries++;
			say(srv, "fail %s: %s", op->id,
			    op->retried ? "will retry" : "failed for good");
		} else if (op->run == run_release) {
			say(srv, "release %s", op->id);
		}
	}
	op_answer(srv, op);
}

static void token_route(struct conn *c, op_run_fn run, int need_token,
			int outcome)
{
	struct op *op;
	char id[SPOOL_ID_LEN + 1], token[SPOOL_TOKEN_LEN + 1];
	int lease = 0;

	if (seg_id(c, 2, id) < 0 || req_token(c, token, need_token) < 0)
		return;
	if (outcome == 1 && body_object(c, "outcome") < 0)
		return;
	if (outcome == 2 && c->req.body.len && body_object(c, "outcome") < 0)
		return;
	if (run == run_heartbeat && lease_param(c, 0, &lease) < 0)
		return;
	op = req_op(c, run, done_outcome, 0);
	if (!op)
		return;
	op->durable = 1;
	/* a heartbeat without lease= renews for the claim's lease: the job's,
	 * else this daemon's --lease, as at the claim */
	op->lease_s = run == run_heartbeat && lease ? lease : c->srv->cfg.lease_s;
	memcpy(op->id, id, sizeof(id));
	memcpy(op->token, token, sizeof(token));
	submit(c, op);
}

static void h_heartbeat(struct conn *c)
{
	token_route(c, run_heartbeat, 1, 0);
}

static void h_complete(struct conn *c)
{
	token_route(c, run_complete, 1, 1);
}

static void h_fail(struct conn *c)
{
	token_route(c, run_fail, 1, 2);
}

static void h_release(struct conn *c)
{
	token_route(c, run_release, 0, 0);
}

/* ---- person-driven changes ---------------------------------------------------------- */

static void run_person(struct op *op, struct spool *sp)
{
	int rc;
	switch (op->flag) {
	case 'h':
		rc = spool_hold(sp, op->id, &op->o);
		break;
	case 'r':
		rc = spool_requeue(sp, op->id, &op->o);
		break;
	default:
		rc = spool_cancel(sp, op->id, &op->o);
		break;
	}
	if (rc < 0)
		op_errno(op, sp, rc, op->flag == 'h' ? "hold the order" :
			 op->flag == 'r' ? "requeue the order" :
					   "cancel the order");
	else
		ok_state(op, op->id, op->o.state);
}

static void done_person(struct server *srv, struct op *op)
{
	if (op->status == 200)
		watch_order(srv, &op->o);
	if (op->status == 200)
		say(srv, "%s %s", op->flag == 'h' ? "hold" :
		    op->flag == 'r' ? "requeue" : "cancel", op->id);
	op_answer(srv, op);
}

static void person(struct conn *c, int what)
{
	struct op *op;
	char id[SPOOL_ID_LEN + 1];
	if (seg_id(c, 2, id) < 0)
		return;
	op = req_op(c, run_person, done_person, 0);
	if (!op)
		return;
	op->durable = 1;
	op->flag = what;
	memcpy(op->id, id, sizeof(id));
	submit(c, op);
}

static void h_hold(struct conn *c)
{
	person(c, 'h');
}

static void h_requeue(struct conn *c)
{
	person(c, 'r');
}

static void h_cancel(struct conn *c)
{
	person(c, 'c');
}

/* ---- logs ----------------------------------------------------------------------- */

static void run_log_put(struct op *op, struct spool *sp)
{
	/* 0 also for a claim that finished (done, failed): its log is welcome */
	int rc = spool_lookup_claim(sp, op->id, op->token, &op->o);
	if (rc == -ESTALE) {
		/* a retried or reaped attempt: the claim was real if an
		 * outcome is on file for that attempt under this token */
		struct order o = op->o;
		struct buf b;
		o.state = ST_ASSIGNED;
		o.n.claimed = 1;
		if (op->attempt)
			o.n.attempt = op->attempt;
		memcpy(o.n.token, op->token, sizeof(o.n.token));
		buf_init(&b, SPOOL_OUTCOME_MAX + 2);
		if (spool_read_outcome(sp, &o, &b) == 0) {
			op->o.n.attempt = o.n.attempt;
			rc = 0;
		}
		buf_release(&b);
	}
	if (rc == -ESTALE) {
		op_error(op, 409, "claim %s of order %s is not this order's "
			 "claim", op->token, op->id);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "find the claim");
		return;
	}
	if (!op->attempt)
		op->attempt = op->o.n.attempt;
	rc = spool_log_put(sp, op->id, op->attempt, op->body, op->blen);
	if (rc < 0) {
		op_errno(op, sp, rc, "store the log");
		return;
	}
	buf_printf(&op->out, "{\"id\": \"%s\", \"attempt\": %d, \"bytes\": %zu}\n",
		   op->id, op->attempt, op->blen);
	op->status = 200;
}

static void h_log_put(struct conn *c)
{
	struct op *op;
	char id[SPOOL_ID_LEN + 1], token[SPOOL_TOKEN_LEN + 1];
	long attempt;
	if (seg_id(c, 2, id) < 0 || req_token(c, token, 1) < 0)
		return;
	if (query_int(c->req.query, "attempt", 1, SPOOL_ATTEMPTS_MAX, 0,
		      &attempt) < 0) {
		http_error(c, 400, "attempt must be 1 to %d", SPOOL_ATTEMPTS_MAX);
		return;
	}
	op = req_op(c, run_log_put, NULL, 0);
	if (!op)
		return;
	op->durable = 1;
	op->attempt = (int)attempt;
	memcpy(op->id, id, sizeof(id));
	memcpy(op->token, token, sizeof(token));
	submit(c, op);
}

static void run_log_get(struct op *op, struct spool *sp)
{
	int rc = spool_log_read(sp, op->id, &op->out);
	if (rc == -ENOENT) {
		op_error(op, 404, "no log for order %s", op->id);
	} else if (rc < 0) {
		op_errno(op, sp, rc, "read the log");
	} else {
		op->status = 200;
		op->ctype = "text/plain; charset=utf-8";
	}
}

/* ---- reading: orders, jobs, outcomes ---------------------------------------------- */

static void run_order(struct op *op, struct spool *sp)
{
	int rc = spool_lookup(sp, op->id, &op->o);
	if (rc == -ENOENT)
		rc = spool_lookup(sp, op->id, &op->o);	/* moved while looking */
	if (rc == -ENOENT) {
		op_error(op, 404, "no order %s", op->id);
		return;
	}
	if (rc < 0 || (rc = spool_order_json(sp, &op->o, 0, &op->out)) < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc, "read the order");
		return;
	}
	buf_puts(&op->out, "\n");
	op->status = 200;
}

static void run_job(struct op *op, struct spool *sp)
{
	int rc = spool_read_job(sp, op->id, &op->out);
	if (rc == -ENOENT) {
		buf_reset(&op->out);
		op_error(op, 404, "no job %s", op->id);
	} else if (rc < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc, "read the job");
	} else {
		op->status = 200;
	}
}

static void run_outcome(struct op *op, struct spool *sp)
{
	int rc = spool_lookup(sp, op->id, &op->o);
	if (rc == -ENOENT)
		rc = spool_lookup(sp, op->id, &op->o);
	if (rc == -ENOENT) {
		op_error(op, 404, "no order %s", op->id);
		return;
	}
	if (rc == 0)
		rc = spool_read_outcome(sp, &op->o, &op->out);
	if (rc == -ENOENT)	/* e.g. back in new/ after a failed attempt */
		rc = spool_read_last_outcome(sp, op->id, &op->out, NULL);
	if (rc == -ENOENT) {
		buf_reset(&op->out);
		op_error(op, 404, "no outcome filed for order %s (it is %s)",
			 op->id, spool_state_name(op->o.state));
	} else if (rc < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc, "read the outcome");
	} else {
		op->status = 200;
	}
}

static void by_id(struct conn *c, int seg, op_run_fn run)
{
	struct op *op;
	char id[SPOOL_ID_LEN + 1];
	if (seg_id(c, seg, id) < 0)
		return;
	op = req_op(c, run, NULL, 1);
	if (!op)
		return;
	memcpy(op->id, id, sizeof(id));
	submit(c, op);
}

static void h_order(struct conn *c)
{
	by_id(c, 2, run_order);
}

static void h_job(struct conn *c)
{
	by_id(c, 2, run_job);
}

static void h_outcome(struct conn *c)
{
	by_id(c, 2, run_outcome);
}

static void h_log_get(struct conn *c)
{
	by_id(c, 2, run_log_get);
}

static void s_retrieve_job(struct conn *c)
{
	by_id(c, 2, run_job);
}

struct list_walk {
	struct op *op;
	struct spool *sp;
	int n;
	int err;
};

static int list_visit(void *arg, const struct order *o)
{
	struct list_walk *lw = arg;
	int rc;
	if (lw->n >= lw->op->limit)
		return 1;
	if (lw->n)
		buf_puts(&lw->op->out, ",\n");
	rc = spool_order_json(lw->sp, o, 0, &lw->op->out);
	if (rc < 0) {
		lw->err = rc;
		return 1;
	}
	lw->n++;
	return 0;
}

static void run_list(struct op *op, struct spool *sp)
{
	struct list_walk lw = { op, sp, 0, 0 };
	int s, rc = 0;
	buf_puts(&op->out, "[");
	for (s = 0; s < ST_COUNT && lw.n < op->limit; s++) {
		if (op->state >= 0 && s != op->state)
			continue;
		rc = spool_list(sp, s, list_visit, &lw);
		if (rc < 0 || lw.err)
			break;
	}
	if (rc < 0 || lw.err < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc < 0 ? rc : lw.err, "list the orders");
		return;
	}
	buf_puts(&op->out, "]\n");
	op->status = 200;
}

static void list_orders(struct conn *c, long def_limit)
{
	struct op *op;
	char st[32];
	long limit;
	int state = -1, rc;

	rc = query_get(c->req.query, "state", st, sizeof(st));
	if (rc > 0 && st[0]) {
		state = spool_state_parse(st);
		if (state < 0) {
			char pr[80];
			http_error(c, 400, "unknown state '%s' (new, assigned, "
				   "held, done, failed, cancelled)",
				   printable(st, pr));
			return;
		}
	} else if (rc < 0) {
		http_error(c, 400, "bad state");
		return;
	}
	if (query_int(c->req.query, "limit", 1, LIST_LIMIT_MAX, def_limit,
		      &limit) < 0) {
		http_error(c, 400, "limit must be 1 to %d", LIST_LIMIT_MAX);
		return;
	}
	op = req_op(c, run_list, NULL, 1);
	if (!op)
		return;
	op->state = state;
	op->limit = (int)limit;
	submit(c, op);
}

static void h_orders(struct conn *c)
{
	list_orders(c, LIST_LIMIT_DEFAULT);
}

static void s_retrieve_orders(struct conn *c)
{
	list_orders(c, 10000);
}

/* ---- leaderboard ------------------------------------------------------------------- */

static void run_leaderboard(struct op *op, struct spool *sp)
{
	struct board bd;
	int rc;

	memset(&bd, 0, sizeof(bd));
	rc = spool_board(sp, op->key, op->flag, (size_t)op->limit,
			 op->worker[0] ? op->worker : NULL, &bd);
	if (rc == 0)
		rc = board_json(&bd, op->key, op->flag, &op->out);
	if (rc < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc, "make the leaderboard");
	} else {
		buf_puts(&op->out, "\n");
		op->status = 200;
	}
	board_release(&bd);
}

static void h_leaderboard(struct conn *c)
{
	struct op *op;
	char key[64], ord[8], sweep[SPOOL_WORKER_MAX + 1];
	long limit;
	int rc, i;

	rc = query_get(c->req.query, "key", key, sizeof(key));
	if (rc == 0)
		strcpy(key, "loss");
	for (i = 0; rc >= 0 && key[i]; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= 'A' && key[i] <= 'Z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '_' ||
		      key[i] == '-' || key[i] == '.'))
			rc = -1;
	if (rc < 0 || !key[0]) {
		http_error(c, 400, "key must be 1 to 63 of [A-Za-z0-9_.-]");
		return;
	}
	rc = query_get(c->req.query, "order", ord, sizeof(ord));
	if (rc == 0)
		strcpy(ord, "asc");
	if (rc < 0 || (strcmp(ord, "asc") && strcmp(ord, "desc"))) {
		http_error(c, 400, "order must be asc or desc");
		return;
	}
	if (query_int(c->req.query, "limit", 1, LEADERBOARD_MAX, 10, &limit) < 0) {
		http_error(c, 400, "limit must be 1 to %d", LEADERBOARD_MAX);
		return;
	}
	rc = query_get(c->req.query, "sweep", sweep, sizeof(sweep));
	if (rc < 0) {
		http_error(c, 400, "sweep: at most %d bytes", SPOOL_WORKER_MAX);
		return;
	}
	op = req_op(c, run_leaderboard, NULL, 1);
	if (!op)
		return;
	if (rc > 0)	/* the sweep's name rides in the worker field */
		memcpy(op->worker, sweep, sizeof(op->worker));
	snprintf(op->key, sizeof(op->key), "%s", key);
	op->flag = !strcmp(ord, "desc");
	op->limit = (int)limit;
	submit(c, op);
}

/* ---- workers --------------------------------------------------------------------- */

static void run_worker_put(struct op *op, struct spool *sp)
{
	int rc = spool_worker_put(sp, op->worker, op->body, op->blen);
	if (rc < 0) {
		op_errno(op, sp, rc, "store the worker");
		return;
	}
	if (op->seed)
		buf_printf(&op->out, "{\"_id\": \"%s\", \"name\": \"%s\", "
			   "\"status\": \"registered\"}\n", op->worker,
			   op->worker);
	else
		buf_printf(&op->out, "{\"name\": \"%s\", \"ok\": true}\n",
			   op->worker);
	op->status = 200;
}

static void done_worker(struct server *srv, struct op *op)
{
	if (op->status == 200)
		say(srv, "worker %s registered", op->worker);
	op_answer(srv, op);
}

static void worker_put(struct conn *c, int seed)
{
	struct json j;
	char name[SPOOL_WORKER_MAX + 1], pr[80];
	static const char *const keys[] = { "name", "nodeName", "workerName" };
	size_t k;
	struct op *op;
	int t = -1, rc;

	if (body_json(c, "worker", &j) < 0)
		return;
	for (k = 0; k < (seed ? 3u : 1u) && t < 0; k++)
		t = json_get(&j, 0, keys[k]);
	rc = t < 0 ? -ENOENT : json_str(&j, t, name, sizeof(name));
	json_release(&j);
	if (rc == -ENOENT) {
		http_error(c, 400, "a worker record needs a string \"name\"");
		return;
	}
	if (rc < 0 || !worker_valid(name)) {
		http_error(c, 400, "invalid worker name '%s'",
			   rc < 0 ? "(not a short string)" : printable(name, pr));
		return;
	}
	op = req_op(c, run_worker_put, done_worker, 0);
	if (!op)
		return;
	op->durable = 1;
	op->seed = seed;
	memcpy(op->worker, name, sizeof(name));
	submit(c, op);
}

static void h_worker_put(struct conn *c)
{
	worker_put(c, 0);
}

static void s_worker_create(struct conn *c)
{
	worker_put(c, 1);
}

static void run_workers(struct op *op, struct spool *sp)
{
	int rc = spool_workers_json(sp, &op->out);
	if (rc < 0) {
		buf_reset(&op->out);
		op_errno(op, sp, rc, "list the workers");
		return;
	}
	buf_puts(&op->out, "\n");
	op->status = 200;
}

static void h_workers(struct conn *c)
{
	struct op *op = req_op(c, run_workers, NULL, 1);
	if (op)
		submit(c, op);
}

/* ---- the seed's callback ------------------------------------------------------------- */

/*
 * A seed callback is fenced like a /v1 completion (issue 9): with an
 * "assignmentId" it ends only the claim that id names; with a bare jobId
 * only a seed claim (made by /bored), never a claim held with a token.
 * Anything else is kept in late/ and answered 409.
 */
static void run_callback(struct op *op, struct spool *sp)
{
	int rc;

	if (op->token[0]) {
		rc = spool_lookup_claim(sp, op->id, op->token, &op->o);
		if (rc == 0 && op->o.n.attempt != op->attempt)
			rc = -ESTALE;
	} else {
		rc = spool_lookup(sp, op->id, &op->o);
		if (rc == 0 && op->o.state == ST_DONE) {
			buf_printf(&op->out, "{\"_id\": \"%s\", \"jobId\": \"%s\", "
				   "\"state\": \"done\", \"duplicate\": true, "
				   "\"message\": \"outcome already filed\"}\n",
				   op->id, op->id);
			op->status = 200;
			op->flag = 1;
			return;
		}
		if (rc == 0 && (op->o.state != ST_ASSIGNED || !token_is_seed(op->o.n.token)))
			rc = -ESTALE;
	}
	if (rc == -ENOENT) {
		op_error(op, 404, "no job %s", op->id);
		return;
	}
	if (rc == -ESTALE) {
		/* not this caller's claim: keep its outcome aside, under a
		 * token of its own when it named none */
		struct order o = op->o;
		int retried;
		char why[160];

		snprintf(why, sizeof(why), "order %s is %s", op->id,
			 op->o.state == ST_ASSIGNED ? "claimed by another worker"
						    : spool_state_name(op->o.state));
		if (o.state != ST_ASSIGNED || o.n.claimed == 0 || !op->token[0]) {
			o.n.claimed = 1;
			if (!op->token[0])
				token_new(o.n.token);
			else
				memcpy(o.n.token, op->token, sizeof(o.n.token));
			if (o.n.attempt < 1)
				o.n.attempt = 1;
			if (!worker_valid(o.n.worker))
				strcpy(o.n.worker, "seed");
			o.state = ST_ASSIGNED;
			name_format(&o.n, o.file, sizeof(o.file));
		}
		rc = op->failed ? spool_fail(sp, &o, op->body, op->blen, &retried)
				: spool_complete(sp, &o, op->body, op->blen);
		if (rc == -EALREADY) {
			buf_printf(&op->out, "{\"_id\": \"%s\", \"jobId\": \"%s\", "
				   "\"state\": \"%s\", \"duplicate\": true, "
				   "\"message\": \"outcome already filed\"}\n", op->id,
				   op->id, op->failed ? "failed" : "done");
			op->status = 200;
			op->flag = 1;
			return;
		}
		op_error(op, 409, "%s; the outcome is not filed for it and is kept "
			 "in late/", why);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "find the order");
		return;
	}
	op->state = op->failed ? ST_FAILED : ST_DONE;
	if (op->failed) {	/* the outcome reports a failure */
		rc = spool_fail(sp, &op->o, op->body, op->blen, &op->retried);
	} else {
		rc = spool_complete(sp, &op->o, op->body, op->blen);
		if (rc == -EALREADY) {
			op->flag = 1;
			rc = 0;
		}
	}
	if (rc == -ESTALE) {
		op_error(op, 409, "order %s is no longer assigned", op->id);
		return;
	}
	if (rc < 0) {
		op_errno(op, sp, rc, "file the outcome");
		return;
	}
	buf_printf(&op->out, "{\"_id\": \"%s\", \"jobId\": \"%s\", \"state\": "
		   "\"%s\", \"message\": \"outcome filed\"}\n", op->id, op->id,
		   !op->failed ? "done" : op->retried ? "new" : "failed");
	op->status = 200;
}

static void done_callback(struct server *srv, struct op *op)
{
	if (op->status == 200 && !op->flag && op->failed && op->retried)
		watch_order(srv, &op->o);
	if (op->status == 200 && !op->flag) {
		if (op->failed) {
			srv->m.failures++;
			if (op->retried)
				srv->m.retries++;
		} else {
			srv->m.completions++;
		}
		say(srv, "callback %s: %s", op->id,
		    op->failed ? "failure filed" : "done");
	}
	op_answer(srv, op);
}

static void s_callback(struct conn *c)
{
	struct json j;
	char id[64], pr[80], aid[64], tok[SPOOL_TOKEN_LEN + 1] = "";
	struct op *op;
	int t, rc, failed = 0, att = 0;
	int64_t status;

	if (body_json(c, "callback", &j) < 0)
		return;
	t = json_get(&j, 0, "jobId");
	rc = t < 0 ? -ENOENT : json_str(&j, t, id, sizeof(id));
	if (rc == 0) {
		int s = json_get(&j, 0, "status");
		if (s >= 0 && json_int(&j, s, &status) == 0 &&
		    spool_status_failed(1, status))
			failed = 1;
		/* the seed worker's copy of the /bored "_id": names the claim */
		s = json_get(&j, 0, "assignmentId");
		if (s >= 0 && (json_str(&j, s, aid, sizeof(aid)) < 0 ||
			       assignment_parse(aid, tok, &att) < 0)) {
			json_release(&j);
			http_error(c, 400, "\"assignmentId\" must be the 24-hex "
				   "\"_id\" that POST /bored answered");
			return;
		}
		if (s < 0)
			tok[0] = '\0';
	}
	json_release(&j);
	if (rc == -ENOENT) {
		http_error(c, 400, "the outcome needs a string \"jobId\"");
		return;
	}
	if (rc < 0 || !id_valid(id)) {
		http_error(c, 404, "no job '%s'",
			   rc < 0 ? "(not a short string)" : printable(id, pr));
		return;
	}
	op = req_op(c, run_callback, done_callback, 0);
	if (!op)
		return;
	op->durable = 1;
	op->failed = failed;
	memcpy(op->id, id, SPOOL_ID_LEN + 1);
	memcpy(op->token, tok, sizeof(tok));
	op->attempt = att;
	submit(c, op);
}

/* ---- the table ----------------------------------------------------------------------- */

#define B_DEF HTTP_BODY_DEFAULT
static const struct route routes[] = {
	{ HTTP_GET,  "/", page_answer, B_DEF },
	{ HTTP_GET,  "/healthz", h_healthz, B_DEF },
	{ HTTP_GET,  "/metrics", h_metrics, B_DEF },
	{ HTTP_POST, "/v1/jobs", h_jobs_post, HTTP_BODY_JOBS },
	{ HTTP_GET,  "/v1/jobs/:id", h_job, B_DEF },
	{ HTTP_POST, "/v1/claim", h_claim, B_DEF },
	{ HTTP_GET,  "/v1/orders", h_orders, B_DEF },
	{ HTTP_GET,  "/v1/orders/:id", h_order, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/heartbeat", h_heartbeat, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/complete", h_complete, SPOOL_OUTCOME_MAX },
	{ HTTP_POST, "/v1/orders/:id/fail", h_fail, SPOOL_OUTCOME_MAX },
	{ HTTP_POST, "/v1/orders/:id/release", h_release, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/hold", h_hold, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/requeue", h_requeue, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/cancel", h_cancel, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/log", h_log_put, HTTP_BODY_LOG },
	{ HTTP_GET,  "/v1/orders/:id/log", h_log_get, B_DEF },
	{ HTTP_GET,  "/v1/outcomes/:id", h_outcome, B_DEF },
	{ HTTP_GET,  "/v1/workers", h_workers, B_DEF },
	{ HTTP_POST, "/v1/workers", h_worker_put, SPOOL_WORKER_DOC_MAX },
	{ HTTP_GET,  "/v1/stats", h_stats, B_DEF },
	{ HTTP_GET,  "/v1/leaderboard", h_leaderboard, B_DEF },
	/* the seed's */
	{ HTTP_POST, "/job/create", s_job_create, SPOOL_JOB_MAX },
	{ HTTP_POST, "/worker-node/create", s_worker_create, SPOOL_WORKER_DOC_MAX },
	{ HTTP_POST, "/bored/:name", s_bored, B_DEF },
	{ HTTP_GET,  "/retrieve/job/:id", s_retrieve_job, B_DEF },
	{ HTTP_GET,  "/retrieve/order", s_retrieve_orders, B_DEF },
	{ HTTP_POST, "/callback", s_callback, SPOOL_OUTCOME_MAX },
};

static int route_match(const char *pattern, const struct request *req)
{
	const char *p = pattern + 1;
	int i = 0;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (i >= req->nseg)
			return 0;
		if (p[0] != ':' &&
		    (strlen(req->seg[i]) != len || strncmp(p, req->seg[i], len)))
			return 0;
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == req->nseg;
}

const struct route *route_find(struct request *req, int *status,
			       char *allow, size_t allowlen)
{
	size_t i;
	int known = 0;
	allow[0] = 0;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].pattern, req))
			continue;
		if (routes[i].method == req->method)
			return &routes[i];
		if (!strstr(allow, http_method_str(routes[i].method))) {
			size_t l = strlen(allow);
			snprintf(allow + l, allowlen - l, "%s%s", l ? ", " : "",
				 http_method_str(routes[i].method));
		}
		known = 1;
	}
	*status = known ? 405 : 404;
	return NULL;
}

int route_cancel_on_fin(const struct route *r)
{
	return r->fn == h_claim || r->fn == s_bored;
}

int route_auth(struct server *srv, struct request *req)
{
	const char *a = req->auth;
	/* /healthz, and the page at /, which holds no data (it asks for the
	 * token when the API answers 401); a target that did not parse is
	 * neither, whatever its segments so far */
	if (!srv->cfg.token)
		return 0;
	if (!req->bad_target && (req->nseg == 0 ||
	    (req->nseg == 1 && !strcmp(req->seg[0], "healthz"))))
		return 0;
	if (strncasecmp(a, "Bearer ", 7))
		return 401;
	a += 7;
	while (*a == ' ')
		a++;
	return ct_equal(a, strlen(a), srv->cfg.token, srv->cfg.token_len) ?
		       0 : 401;
}
