/*
 * claims: POST /v1/claim, and the seed's POST /bored/:name (seed.c) as a
 * claim that does not wait, answered in the seed's shape.
 *
 * A claim request is a waiter of the core (core.h): the core picks an
 * order for it, the writer claims it in its next batch, and once that is
 * durable the core calls claim_served, which answers from here at once:
 * the order, its job document and the claim's token and lease. A long poll holds its connection (http_hold) until then or
 * until its wait runs out (204, or the seed's "no work"); the peer's FIN
 * ends the wait at once, so no order goes to a claimer that left.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "jobcache.h"

struct claim_req {
	struct held held;
	struct waiter w;
	int seed;			/* a /bored claim */
	int *ended;			/* set when r is freed (claims_start's) */
};

static void claim_free(struct claim_req *r)
{
	if (r->ended)
		*r->ended = 1;
	waiter_clear(&r->w);
	free(r);
}

static void no_work(struct claim_req *r)
{
	static const char msg[] =
		"{\"message\": \"No work to do.  Don't get used to it.\"}\n";
	struct conn *c = r->held.c;
	int seed = r->seed;
	metrics_wait_end(c);
	claim_free(r);
	if (seed)
		http_reply(c, 200, NULL, msg, sizeof(msg) - 1, NULL);
	else
		http_reply(c, 204, NULL, NULL, 0, NULL);
}

/* (Re)arm the wait of a queued claim, or answer it when its time is up. */
static void wait_arm(struct claim_req *r)
{
	struct core *k = &r->held.srv->core;
	int64_t left = r->w.deadline - now_ms();
	if (!r->w.queued)
		return;		/* served already */
	metrics_wait_begin(r->held.c);	/* waiting is not latency */
	if (left <= 0 && (k->loading || k->gate_waiting))
		return;		/* core_loaded decides, once all is loaded, or
				 * the dispatch owed when the gate opens */
	if (left <= 0 && !k->dispatching) {
		core_unwait(k, &r->w);
		no_work(r);
	} else {
		/* (a dispatch under way may still serve it: ask again next turn) */
		http_hold_timer(r->held.c, left > 0 ? left : 0);
	}
}

/* The answer to a claim: the order, the job and the claim's terms. */
static int claim_answer(struct claim_req *r, struct spool *sp,
			struct order *o, const struct job_opts *opts,
			int64_t created, struct buf *out)
{
	struct buf job;
	char when[32];
	int rc;

	buf_init(&job, SPOOL_JOB_MAX + 1024);
	/* a job just submitted here: its text from memory, if its file is
	 * still there */
	if (jobcache_take(&r->held.srv->jobcache, o->n.id, &job)) {
		rc = spool_job_exists(sp, o->n.id);
		rc = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
	} else
		rc = spool_read_job(sp, o->n.id, &job);
	if (rc < 0) {
		/* only a job that is not there makes an orphan: any other error
		 * (EIO, EMFILE, ESTALE) may pass, and must not fail the job */
		buf_release(&job);
		return rc;
	}
	/* the order as the claim read it: its file is not read again */
	if (r->seed) {
		char aid[SPOOL_ID_LEN + 1];
		rc = spool_order_json_opts(o, opts, created, 0, out);
		/* the seed's order "_id" names this claim: the seed worker hands
		 * it back as the callback's "assignmentId", which fences it.
		 * spool_order_json starts {"_id":"<24 hex>": same width. */
		assignment_id(o, aid);
		if (rc == 0 && out->len > 8 + SPOOL_ID_LEN)
			memcpy(out->data + 8, aid, SPOOL_ID_LEN);
	} else {
		iso_time(o->n.deadline, when);
		buf_puts(out, "{\"order\": ");
		rc = spool_order_json_opts(o, opts, created, 1, out);
		buf_puts(out, ",\n\"job\": ");
		while (job.len && (job.data[job.len - 1] == '\n' ||
				   job.data[job.len - 1] == ' '))
			job.len--;
		buf_add(out, job.data, job.len);
		buf_printf(out, ",\n\"token\": \"%s\", \"attempt\": %d, "
			   "\"leaseDeadline\": \"%s\", \"leaseDeadlineMs\": %lld, "
			   "\"timeout\": %d}", o->n.token, o->n.attempt,
			   when, (long long)o->n.deadline, opts->timeout_s);
	}
	buf_puts(out, "\n");
	buf_release(&job);
	return rc;
}

static void claim_served(struct waiter *w, int rc, struct order *o,
			 const struct job_opts *opts, int64_t created,
			 const char *why)
{
	struct claim_req *r = container_of(w, struct claim_req, w);
	struct server *srv = r->held.srv;
	struct conn *c = r->held.c;
	struct buf out;

	metrics_wait_end(c);
	if (rc < 0) {
		claim_free(r);
		http_error(c, rc == -ENOSPC || rc == -EDQUOT ? 507 : 500,
			   "cannot claim the order: %s", why);
		return;
	}
	/* the answer is read from the page cache: cheaper here than a
	 * thread hand-off */
	buf_init(&out, RESP_MAX);
	rc = claim_answer(r, &srv->core.sp, o, opts, created, &out);
	if (rc == -ENOENT) {
		/* an order without its job cannot run: fail it, look further */
		buf_release(&out);
		core_fail_orphan(&srv->core, o);
		if (srv->draining) {
			no_work(r);
			return;
		}
		core_wait(&srv->core, &r->w);	/* keeps its place */
		wait_arm(r);
		return;
	}
	if (rc < 0) {
		/* claimed, but the claimer will not hear of it: give the
		 * order back now rather than at the end of its lease; the
		 * claimer is told why and tries again later */
		buf_release(&out);
		core_giveback(&srv->core, o);
		claim_free(r);
		say(&srv->log, "claim %s: cannot answer it, given back: %s",
		    o->n.id, strerror(-rc));
		http_error(c, 500, "cannot answer the claim of order %s: %s",
			   o->n.id, strerror(-rc));
		return;
	}
	say(&srv->log, "claim %s attempt %d by %s%s", o->n.id, o->n.attempt,
	    w->worker, r->seed ? " (bored)" : "");
	metrics_claimed(&srv->metrics, o);
	claim_free(r);
	http_reply_take(c, 200, NULL, &out, NULL);
	buf_release(&out);
}

static void claim_dropped(struct waiter *w)
{
	no_work(container_of(w, struct claim_req, w));
}

static void claim_requeued(struct waiter *w)
{
	wait_arm(container_of(w, struct claim_req, w));
}

static const struct waiter_ops claim_waiter = {
	claim_served, claim_dropped, claim_requeued
};

/* The connection's part: a FIN or the timer ends the wait, the end of the
 * connection forgets it. */
static void claim_fin(struct held *h)
{
	struct claim_req *r = container_of(h, struct claim_req, held);
	core_unwait(&h->srv->core, &r->w);
	no_work(r);
}

static void claim_timeout(struct held *h)
{
	wait_arm(container_of(h, struct claim_req, held));
}

static int claim_gone(struct held *h)
{
	struct claim_req *r = container_of(h, struct claim_req, held);
	core_unwait(&h->srv->core, &r->w);
	claim_free(r);
	return 0;
}

static const struct held_ops claim_held = { claim_fin, claim_timeout, claim_gone };

void claims_start(struct conn *c, const char *worker, int ntags,
		  char tagv[][SPOOL_TAG_MAX + 1], int lease_s, long wait_s,
		  int seed)
{
	struct server *srv = srv_of(c);
	struct claim_req *r = calloc(1, sizeof(*r));
	int ended = 0;
	if (!r) {
		http_error(c, 500, "out of memory");
		return;
	}
	r->held.ops = &claim_held;
	r->held.c = c;
	r->held.srv = srv;
	r->seed = seed;
	waiter_set(&r->w, &claim_waiter, worker, ntags, tagv, lease_s, seed);
	r->w.deadline = now_ms() + wait_s * 1000;
	http_hold(c, &r->held);
	r->ended = &ended;
	core_wait(&srv->core, &r->w);	/* may answer it at once */
	if (ended)
		return;
	r->ended = NULL;
	wait_arm(r);
}

void claims_post(struct conn *c)
{
	char tags[SPOOL_TAGS_MAX * (SPOOL_TAG_MAX + 1) + 1], pr[80];
	char worker[SPOOL_WORKER_MAX + 1];
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	int ntags = 0, lease_s, rc;
	long wait;

	rc = query_get(c->req.query, "worker", worker, sizeof(worker));
	if (rc <= 0 || !worker_valid(worker)) {
		if (rc == 0)
			http_error(c, 400, "worker=NAME is required");
		else if (rc < 0)
			http_error(c, 400, "invalid worker name: [A-Za-z0-9_.-]"
				   "{1,%d}", SPOOL_WORKER_MAX);
		else
			http_error(c, 400, "invalid worker name '%s'",
				   printable(worker, pr));
		return;
	}
	if (query_int(c->req.query, "wait", 0, 1000000000L, 0, &wait) < 0) {
		http_error(c, 400, "wait must be whole seconds, 0 or more");
		return;
	}
	if (wait > CLAIM_WAIT_MAX)
		wait = CLAIM_WAIT_MAX;
	rc = query_get(c->req.query, "tags", tags, sizeof(tags));
	if (rc < 0 || (rc > 0 && tags_parse(tags, tagv, &ntags) < 0)) {
		http_error(c, 400, "tags must be a comma list of at most %d tags "
			   "([A-Za-z0-9_.:-]{1,32})", SPOOL_TAGS_MAX);
		return;
	}
	if (lease_param(c, srv_of(c)->cfg.lease_s, &lease_s) < 0)
		return;
	claims_start(c, worker, ntags, tagv, lease_s, wait, 0);
}
