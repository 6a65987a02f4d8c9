/*
 * claim: long-polling claimers and handing them orders.
 *
 * A claimer waits in a FIFO (arrival order). Whenever the index may have
 * something for a waiter (a new name in new/, a waiter arriving, a claim
 * lost to another claimant, a due time reached), dispatch walks the FIFO
 * and, for each waiter, takes the first eligible name out of the index and
 * sends a claim op (spool_claim_file) to the writer. A claim that finds the
 * file gone (-ENOENT: a local claimer on this or another node was faster)
 * puts the waiter back at its place and tries again. A claim whose client
 * went away before the answer gives the order back (spool_release).
 *
 * The seed's /bored is a waiter with no wait, answered in the seed's shape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spoold.h"

#define conn_of(wp) ((struct conn *)((char *)(wp) - offsetof(struct conn, w)))

static void fifo_insert(struct server *srv, struct waiter *w)
{
	struct waiter *at = srv->wlast;
	/* usually the tail; a waiter coming back from a lost claim goes in
	 * before everyone who arrived after it */
	while (at && at->seq > w->seq)
		at = at->prev;
	w->prev = at;
	w->next = at ? at->next : srv->wfirst;
	if (w->next)
		w->next->prev = w;
	else
		srv->wlast = w;
	if (at)
		at->next = w;
	else
		srv->wfirst = w;
	w->queued = 1;
	srv->nwaiting++;
}

void claim_unwait(struct server *srv, struct conn *c)
{
	struct waiter *w = &c->w;
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		srv->wfirst = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		srv->wlast = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
	srv->nwaiting--;
}

static void no_work(struct conn *c)
{
	static const char msg[] =
		"{\"message\": \"No work to do.  Don't get used to it.\"}\n";
	if (c->w.seed)
		http_reply(c, 200, NULL, msg, sizeof(msg) - 1, NULL);
	else
		http_reply(c, 204, NULL, NULL, 0, NULL);
}

void claim_expire(struct server *srv, struct conn *c)
{
	claim_unwait(srv, c);
	no_work(c);
}

void claim_flush(struct server *srv)
{
	while (srv->wfirst)
		claim_expire(srv, conn_of(srv->wfirst));
}

/* (Re)arm the wait of a queued waiter, or answer it when its time is up. */
static void wait_arm(struct server *srv, struct conn *c)
{
	int64_t left = c->w.deadline - now_ms();
	if (left <= 0)
		claim_expire(srv, c);
	else
		conn_timer(c, left);
}

void claim_wait(struct server *srv, struct conn *c)
{
	c->w.seq = ++srv->wseq;
	fifo_insert(srv, &c->w);
	claim_dispatch(srv);
	if (c->w.queued)
		wait_arm(srv, c);
}

/* ---- the claim op ----------------------------------------------------------- */

static void run_claim(struct op *op, struct spool *sp)
{
	struct job_opts opts;
	struct buf job;
	char when[32];
	int64_t created;
	int rc;

	rc = spool_claim_file(sp, op->file, &op->cl, &op->o);
	op->rc = rc;
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		op_errno(op, sp, rc, "claim the order");
		return;
	}
	buf_init(&job, SPOOL_JOB_MAX + 1024);
	rc = spool_read_job(sp, op->o.n.id, &job);
	if (rc < 0) {
		/* an order without its job cannot run: fail it, look further */
		static const char why[] = "{\"status\": 500, \"error\": "
					  "\"the job document is missing\"}";
		int retried;
		spool_fail(sp, &op->o, why, sizeof(why) - 1, &retried);
		buf_release(&job);
		op->rc = -ENOENT;
		op->flag = 1;
		return;
	}
	memset(&opts, 0, sizeof(opts));
	spool_read_opts(sp, &op->o, &opts, &created);
	if (op->seed) {
		char aid[SPOOL_ID_LEN + 1];
		rc = spool_order_json(sp, &op->o, 0, &op->out);
		/* the seed's order "_id" names this claim: the seed worker hands
		 * it back as the callback's "assignmentId", which fences it.
		 * spool_order_json starts {"_id":"<24 hex>": same width. */
		assignment_id(&op->o, aid);
		if (rc == 0 && op->out.len > 8 + SPOOL_ID_LEN)
			memcpy(op->out.data + 8, aid, SPOOL_ID_LEN);
	} else {
		iso_time(op->o.n.deadline, when);
		buf_puts(&op->out, "{\"order\": ");
		rc = spool_order_json(sp, &op->o, 1, &op->out);
		buf_puts(&op->out, ",\n\"job\": ");
		while (job.len && (job.data[job.len - 1] == '\n' ||
				   job.data[job.len - 1] == ' '))
			job.len--;
		buf_add(&op->out, job.data, job.len);
		buf_printf(&op->out, ",\n\"token\": \"%s\", \"attempt\": %d, "
			   "\"leaseDeadline\": \"%s\", \"leaseDeadlineMs\": %lld, "
			   "\"timeout\": %d}", op->o.n.token, op->o.n.attempt,
			   when, (long long)op->o.n.deadline, opts.timeout_s);
	}
	buf_puts(&op->out, "\n");
	buf_release(&job);
	if (rc < 0)
		op_errno(op, sp, rc, "describe the order");
	else
		op->status = 200;
}

static void run_giveback(struct op *op, struct spool *sp)
{
	op->rc = spool_release(sp, &op->o);
}

static void done_giveback(struct server *srv, struct op *op)
{
	if (op->rc == 0)
		watch_order(srv, &op->o);
	say(srv, "claim %s given back: its claimer did not get it (%s)", op->o.n.id,
	    op->rc < 0 ? strerror(-op->rc) : "ok");
	op_free(op);
}

static void done_claim(struct server *srv, struct op *op)
{
	struct conn *c = op->conn;

	if (op->rc == -ENOENT) {
		/* gone: someone else claimed it; keep the waiter's place */
		srv->m.lost_claims++;
		if (op->flag)
			say(srv, "order %s has no job document: failed",
			    op->o.n.id);
		c->op = NULL;
		op_free(op);
		if (c->eof || srv->draining) {
			if (c->eof)
				conn_close(c);
			else
				no_work(c);
			return;
		}
		fifo_insert(srv, &c->w);
		claim_dispatch(srv);
		if (c->w.queued)
			wait_arm(srv, c);
		return;
	}
	if (op->rc == 0 && (op->status != 200 || c->eof || c->closing)) {
		/* claimed, but the claimer will not hear of it (it left, or the
		 * commit or the answer failed): give the order back now rather
		 * than at the end of its lease */
		struct op *g = op_new(run_giveback, done_giveback, 0);
		if (g) {
			g->o = op->o;
			disk_submit(srv, g);
		}
		if (op->status != 200 && !c->eof && !c->closing) {
			op_answer(srv, op);
			return;
		}
		c->op = NULL;
		conn_close(c);
		op_free(op);
		return;
	}
	if (op->status == 200) {
		srv->m.claims++;
		say(srv, "claim %s attempt %d by %s%s", op->o.n.id,
		    op->o.n.attempt, op->worker, op->seed ? " (bored)" : "");
	}
	op_answer(srv, op);
}

static struct op *claim_op(struct server *srv, struct conn *c,
			   const char *file)
{
	struct waiter *w = &c->w;
	struct op *op = op_new(run_claim, done_claim, 0);
	int i;
	if (!op)
		return NULL;
	op->conn = c;
	op->durable = 1;
	op->seed = w->seed;
	snprintf(op->file, sizeof(op->file), "%s", file);
	memcpy(op->worker, w->worker, sizeof(op->worker));
	for (i = 0; i < w->ntags; i++) {
		memcpy(op->tagv[i], w->tagv[i], sizeof(op->tagv[i]));
		op->tags[i] = op->tagv[i];
	}
	op->cl.worker = op->worker;
	op->cl.ntags = w->ntags;
	op->cl.tags = op->tags;
	op->cl.lease_s = w->lease_s;
	op->cl.seed = w->seed;
	return op;
}

static void on_due(uv_timer_t *t)
{
	claim_dispatch(t->data);
}

void claim_dispatch(struct server *srv)
{
	struct waiter *w, *next;
	int64_t now = now_ms(), due;
	char name[SPOOL_NAME_MAX];

	if (srv->draining)
		return;
	for (w = srv->wfirst; w && srv->ix.n; w = next) {
		struct conn *c = conn_of(w);
		struct op *op;
		next = w->next;
		if (!index_take(&srv->ix, now, w->ntags, w->tags, name))
			continue;
		op = claim_op(srv, c, name);
		if (!op)
			break;	/* the name is dropped; the rescan brings it back */
		claim_unwait(srv, c);
		uv_timer_stop(&c->timer);
		c->op = op;
		disk_submit(srv, op);
	}
	/* orders not due yet: look again when the first one is */
	uv_timer_stop(&srv->due_timer);
	if (srv->wfirst && srv->ix.n) {
		due = index_next_due(&srv->ix, now);
		if (due != INT64_MAX)
			uv_timer_start(&srv->due_timer, on_due,
				       (uint64_t)(due - now) + 1, 0);
	}
}
