/*
 * jobs: submitting. POST /v1/jobs takes one job or an array of them; the
 * seed's POST /job/create (seed.c) is one job answered in the seed's shape.
 * Every job is checked here (job_check) before any is stored; the writer
 * stores them in one batch, and the answer leaves after the commit.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "jobcache.h"
#include "json.h"

/* One job of a bulk submit: its id and its result at commit. */
struct bulk_job {
	char id[SPOOL_ID_LEN + 1];
	int rc;
};

struct submit_req {
	struct hop h;
	int seed;			/* the seed's shape, one job */
	const char *body;		/* borrowed from the connection */
	size_t nel;			/* the jobs: slices of body */
	size_t (*el)[2];
	size_t ntried;			/* jobs run through spool_submit */
	int64_t stored;			/* jobs stored, for the counters */
	char first[SPOOL_ID_LEN + 1];
	char why[300];			/* why one failed as it was staged */
	struct bulk_job *j;		/* nel of them */
	int parsed;			/* one job, read once into in */
	int fresh;			/* ... and stored anew (not a duplicate) */
	struct job_in in;
};

static void submit_free(struct submit_req *r)
{
	if (r->parsed)
		job_in_release(&r->in);
	free(r->el);
	free(r->j);
	hop_free(&r->h);
}

/*
 * Some jobs of a bulk submit were not stored (a write failed as they were
 * staged, or the commit did not make them durable): say exactly which
 * were, so that retrying the others is harmless.
 */
static void bulk_committed(struct submit_req *r)
{
	struct buf *out = &r->h.out;
	size_t i, n, bad = 0, k;
	int rc = 0;

	if (!r->j || r->seed)
		return;
	n = r->ntried;
	for (i = 0; i < n; i++)
		if (r->j[i].rc < 0) {
			bad++;
			if (!rc)
				rc = r->j[i].rc;
		}
	if (!bad)
		return;
	buf_reset(out);
	buf_printf(out, "{\"error\": ");
	{
		char msg[600];

		snprintf(msg, sizeof(msg), "%zu of %zu jobs not stored: %s",
			 bad + r->nel - n, r->nel, r->why[0] ? r->why : strerror(-rc));
		buf_json_str(out, msg, strlen(msg));
	}
	buf_puts(out, ", \"ids\": [");
	for (i = 0, k = 0; i < n; i++)
		if (r->j[i].rc == 0)
			buf_printf(out, "%s\"%s\"", k++ ? ", " : "", r->j[i].id);
	buf_puts(out, "], \"notStored\": [");
	for (i = 0, k = 0; i < n; i++)
		if (r->j[i].rc < 0 && r->j[i].id[0])
			buf_printf(out, "%s\"%s\"", k++ ? ", " : "", r->j[i].id);
	/* the jobs after one that failed as it was written were not tried */
	buf_printf(out, "], \"notTried\": %zu}\n", r->nel - n);
	r->h.status = rc == -ENOSPC || rc == -EDQUOT ? 507 : rc == -E2BIG ? 413 : 500;
	r->h.ctype = NULL;
	r->stored = (int64_t)(n - bad);
}

/*
 * A job stored now keeps its text in memory for its claim (jobcache.h):
 * put here, before the commit, since the claim may be answered before
 * done_submit runs. Only a job whose text was stored now: a duplicate, or
 * a lost order queued again, keeps the job stored before.
 */
static void run_submit_seed(struct submit_req *r, struct spool *sp)
{
	char id[SPOOL_ID_LEN + 1], when[32];
	int64_t now = now_ms();
	/* a job that names its own id keeps it (spool_submit_job's rule) */
	int rc = spool_submit_job(sp, &r->in, NULL, id);

	if ((r->fresh = rc == 0 && strcmp(r->in.doc_id, id) == 0))
		jobcache_put(&r->h.held.srv->jobcache, id, &r->in.doc);
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "store the job");
		return;
	}
	/* (an id may be content-derived: it says nothing of time) */
	iso_time(now, when);
	buf_printf(&r->h.out, "{\"_id\": \"%s\", \"order\": {\"_id\": "
		   "\"%s\", \"jobId\": \"%s\", \"createdDate\": \"%s\", "
		   "\"status\": \"unassigned\"}}\n", id, id, id, when);
	memcpy(r->first, id, sizeof(id));
	r->stored = 1;
	r->h.status = 201;
}

static void run_submit(struct op *op, struct spool *sp)
{
	struct submit_req *r = container_of(hop_of(op), struct submit_req, h);
	char id[SPOOL_ID_LEN + 1];
	size_t i;
	int rc;

	if (r->seed) {
		run_submit_seed(r, sp);
		return;
	}
	buf_puts(&r->h.out, "{\"ids\": [");
	for (i = 0; i < r->nel; i++) {
		struct bulk_job *bj = &r->j[i];

		/* each job's own fate at the commit; a job that names its own
		 * id (a sweep's content id) keeps it: spool_submit applies
		 * that rule on every path */
		spool_track(sp, &bj->rc, NULL);
		id[0] = '\0';
		rc = r->parsed ? spool_submit_job(sp, &r->in, NULL, id) :
		     spool_submit(sp, r->body + r->el[i][0], r->el[i][1], NULL, id);
		if ((r->fresh = r->parsed && rc == 0 && strcmp(r->in.doc_id, id) == 0))
			jobcache_put(&r->h.held.srv->jobcache, id, &r->in.doc);
		memcpy(bj->id, id, sizeof(id));
		r->ntried = i + 1;
		if (rc < 0) {
			/* nothing of this job was kept; those before it commit */
			bj->rc = rc;
			snprintf(r->why, sizeof(r->why), "%s", spool_error(sp)[0] ?
				 spool_error(sp) : strerror(-rc));
			hop_errno(&r->h, sp, rc, "store the jobs");
			return;
		}
		if (!i)
			memcpy(r->first, id, sizeof(id));
		buf_printf(&r->h.out, "%s\"%s\"", i ? ", " : "", id);
	}
	buf_puts(&r->h.out, "]}\n");
	r->stored = (int64_t)r->nel;
	r->h.status = 201;
}

static void done_submit(struct op *op)
{
	struct submit_req *r = container_of(hop_of(op), struct submit_req, h);
	struct server *srv = r->h.held.srv;

	bulk_committed(r);
	if (r->h.status < 300)
		hop_commit_failed(&r->h);
	/* a job kept for its claim (run_submit) that did not commit */
	if (r->fresh && r->h.status != 201)
		jobcache_drop(&srv->jobcache, r->first);
	if (r->h.status == 201) {
		srv->hs.submits += (uint64_t)r->stored;
		if (r->stored == 1)
			say(&srv->log, "submit %s", r->first);
		else
			say(&srv->log, "submit %lld jobs, first %s",
			    (long long)r->stored, r->first);
	}
	if (r->parsed)
		job_in_release(&r->in);
	r->parsed = 0;
	free(r->el);
	free(r->j);
	r->el = NULL;
	r->j = NULL;
	hop_reply(&r->h);
}

/* One bad job of an array: 400 (413 over a ceiling) naming it. */
static void job_refused(struct conn *c, size_t i, int rc, const char *err)
{
	char msg[400];
	struct buf e;
	buf_init(&e, 1024);
	buf_printf(&e, "{\"error\": ");
	snprintf(msg, sizeof(msg), "job %zu: %s; nothing stored", i, err);
	buf_json_str(&e, msg, strlen(msg));
	buf_printf(&e, ", \"index\": %zu}\n", i);
	http_reply_take(c, rc == -E2BIG ? 413 : 400, NULL, &e, NULL);
	buf_release(&e);
}

/*
 * One job (the body is an object from byte i): read it once, here, and
 * keep the parse for the writer. The answers are those of the checks
 * below: what is no JSON is "bad JSON" (said of the whole body), the rest
 * "bad job".
 */
static int job_once(struct conn *c, struct submit_req *r, const char *b,
		    size_t len, size_t i, int64_t now)
{
	char err[256];
	int rc;

	if (!(r->el = malloc(sizeof(*r->el)))) {
		http_error(c, 500, "out of memory");
		return -1;
	}
	r->el[0][0] = i;
	r->el[0][1] = len - i;
	r->nel = 1;
	rc = job_read(&r->in, b + i, len - i, now, err, sizeof(err));
	if (rc < 0) {
		if (r->in.bad_json && json_validate(b, len, err, sizeof(err)) < 0)
			http_error(c, 400, "bad JSON: %s", err);
		else
			http_error(c, rc == -E2BIG ? 413 : 400, "bad job: %s", err);
		return -1;
	}
	r->parsed = 1;
	return 0;
}

/* Check every job of the body; one bad job answers 400 naming it. */
static int jobs_check(struct conn *c, struct submit_req *r)
{
	char err[256];
	size_t len, i = 0;
	const char *b = body_of(c, &len);
	int64_t now = now_ms();
	struct job_opts o;
	long n;
	int rc;

	if (!len) {
		http_error(c, 400, "empty body: expected a job (a JSON object) "
			   "or an array of jobs");
		return -1;
	}
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			   b[i] == '\n'))
		i++;
	if (i < len && b[i] == '{' && len - i <= SPOOL_JOB_MAX)
		return job_once(c, r, b, len, i, now);
	i = 0;
	if (json_validate(b, len, err, sizeof(err)) < 0) {
		http_error(c, 400, "bad JSON: %s", err);
		return -1;
	}
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			   b[i] == '\n'))
		i++;
	if (b[i] == '[' && !r->seed) {
		n = json_split_array(b, len, 1000000, &r->el);
		if (n < 0) {
			http_error(c, n == -E2BIG ? 413 : 400,
				   "cannot split the array of jobs");
			return -1;
		}
		if (n == 0) {
			http_error(c, 400, "empty array: no jobs to submit");
			return -1;
		}
		r->nel = (size_t)n;
		for (i = 0; i < r->nel; i++) {
			rc = job_check(b + r->el[i][0], r->el[i][1], now, &o,
				       err, sizeof(err));
			if (rc < 0) {
				job_refused(c, i, rc, err);
				return -1;
			}
		}
		return 0;
	}
	if (b[i] != '{') {
		http_error(c, 400, "a job is a JSON object%s",
			   r->seed ? "" : " (or send an array of them)");
		return -1;
	}
	r->el = malloc(sizeof(*r->el));
	if (!r->el) {
		http_error(c, 500, "out of memory");
		return -1;
	}
	r->el[0][0] = i;
	r->el[0][1] = len - i;
	r->nel = 1;
	rc = job_check(b + i, len - i, now, &o, err, sizeof(err));
	if (rc < 0) {
		http_error(c, rc == -E2BIG ? 413 : 400, "bad job: %s", err);
		return -1;
	}
	return 0;
}

void jobs_submit(struct conn *c, int seed)
{
	struct submit_req *r = hop_new(c, sizeof(*r), OP_WRITE, run_submit,
				       done_submit);
	size_t len;
	if (!r)
		return;
	r->seed = seed;
	r->body = body_of(c, &len);
	if (jobs_check(c, r) < 0) {
		submit_free(r);
		return;
	}
	if (!(r->j = calloc(r->nel, sizeof(*r->j)))) {
		submit_free(r);
		http_error(c, 500, "out of memory");
		return;
	}
	hop_submit(&r->h);
}

void jobs_post(struct conn *c)
{
	jobs_submit(c, 0);
}
