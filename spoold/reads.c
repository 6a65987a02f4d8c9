/*
 * reads: the GETs of one order, its job, its outcome and its log; the list
 * of orders (and the seed's /retrieve/order); the leaderboard. Each runs
 * on a reader (disk.c), never holding up the writer.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

enum read_kind { R_ORDER, R_JOB, R_OUTCOME, R_LOG, R_LIST, R_BOARD };

struct read_req {
	struct hop h;
	enum read_kind kind;
	char id[SPOOL_ID_LEN + 1];
	struct order o;
	int state;			/* R_LIST: one state, or -1 for all */
	int limit;
	char key[64];			/* R_BOARD */
	int desc;
	int flags;			/* R_BOARD: BOARD_PRUNED (pruned=1) */
	char sweep[SPOOL_WORKER_MAX + 1];	/* "": every sweep */
};

#define read_of(opp) container_of(hop_of(opp), struct read_req, h)

static void read_order(struct read_req *r, struct spool *sp)
{
	int rc = spool_lookup(sp, r->id, &r->o);
	if (rc == -ENOENT)
		rc = spool_lookup(sp, r->id, &r->o);	/* moved while looking */
	if (rc == -ENOENT) {
		hop_error(&r->h, 404, "no order %s", r->id);
		return;
	}
	if (rc < 0 || (rc = spool_order_json(sp, &r->o, 0, &r->h.out)) < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc, "read the order");
		return;
	}
	buf_puts(&r->h.out, "\n");
	r->h.status = 200;
}

static void read_job(struct read_req *r, struct spool *sp)
{
	int rc = spool_read_job(sp, r->id, &r->h.out);
	if (rc == -ENOENT) {
		buf_reset(&r->h.out);
		hop_error(&r->h, 404, "no job %s", r->id);
	} else if (rc < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc, "read the job");
	} else {
		r->h.status = 200;
	}
}

static void read_outcome(struct read_req *r, struct spool *sp)
{
	int rc = spool_lookup(sp, r->id, &r->o);
	if (rc == -ENOENT)
		rc = spool_lookup(sp, r->id, &r->o);
	if (rc == -ENOENT) {
		hop_error(&r->h, 404, "no order %s", r->id);
		return;
	}
	if (rc == 0)
		rc = spool_read_outcome(sp, &r->o, &r->h.out);
	if (rc == -ENOENT)	/* e.g. back in new/ after a failed attempt */
		rc = spool_read_last_outcome(sp, r->id, &r->h.out, NULL);
	if (rc == -ENOENT) {
		buf_reset(&r->h.out);
		hop_error(&r->h, 404, "no outcome filed for order %s (it is %s)",
			  r->id, spool_state_name(r->o.state));
	} else if (rc < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc, "read the outcome");
	} else {
		r->h.status = 200;
	}
}

static void read_log(struct read_req *r, struct spool *sp)
{
	int rc = spool_log_read(sp, r->id, &r->h.out);
	if (rc == -ENOENT) {
		hop_error(&r->h, 404, "no log for order %s", r->id);
	} else if (rc < 0) {
		hop_errno(&r->h, sp, rc, "read the log");
	} else {
		r->h.status = 200;
		r->h.ctype = "text/plain; charset=utf-8";
	}
}

struct list_walk {
	struct read_req *r;
	struct spool *sp;
	int n;
	int err;
};

static int list_visit(void *arg, const struct order *o)
{
	struct list_walk *lw = arg;
	int rc;
	if (lw->n >= lw->r->limit)
		return 1;
	if (lw->n)
		buf_puts(&lw->r->h.out, ",\n");
	rc = spool_order_json(lw->sp, o, 0, &lw->r->h.out);
	if (rc < 0) {
		lw->err = rc;
		return 1;
	}
	lw->n++;
	return 0;
}

static void read_list(struct read_req *r, struct spool *sp)
{
	struct list_walk lw = { r, sp, 0, 0 };
	int s, rc = 0;
	buf_puts(&r->h.out, "[");
	for (s = 0; s < ST_COUNT && lw.n < r->limit; s++) {
		if (r->state >= 0 && s != r->state)
			continue;
		rc = spool_list(sp, s, list_visit, &lw);
		if (rc < 0 || lw.err)
			break;
	}
	if (rc < 0 || lw.err < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc < 0 ? rc : lw.err, "list the orders");
		return;
	}
	buf_puts(&r->h.out, "]\n");
	r->h.status = 200;
}

static void read_board(struct read_req *r, struct spool *sp)
{
	struct board bd;
	int rc;

	memset(&bd, 0, sizeof(bd));
	rc = spool_board_ex(sp, r->key, r->desc, (size_t)r->limit,
			    r->sweep[0] ? r->sweep : NULL, r->flags, &bd);
	if (rc == 0)
		rc = board_json(&bd, r->key, r->desc, &r->h.out);
	if (rc < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc, "make the leaderboard");
	} else {
		buf_puts(&r->h.out, "\n");
		r->h.status = 200;
	}
	board_release(&bd);
}

static void run_read(struct op *op, struct spool *sp)
{
	struct read_req *r = read_of(op);
	switch (r->kind) {
	case R_ORDER: read_order(r, sp); break;
	case R_JOB: read_job(r, sp); break;
	case R_OUTCOME: read_outcome(r, sp); break;
	case R_LOG: read_log(r, sp); break;
	case R_LIST: read_list(r, sp); break;
	case R_BOARD: read_board(r, sp); break;
	}
}

static struct read_req *read_new(struct conn *c, enum read_kind kind)
{
	struct read_req *r = hop_new(c, sizeof(*r), OP_READ, run_read, hop_done);
	if (r)
		r->kind = kind;
	return r;
}

/* A read of the order whose id is path segment seg. */
static void by_id(struct conn *c, int seg, enum read_kind kind)
{
	struct read_req *r;
	char id[SPOOL_ID_LEN + 1];
	if (seg_id(c, seg, id) < 0)
		return;
	if (!(r = read_new(c, kind)))
		return;
	memcpy(r->id, id, sizeof(id));
	hop_submit(&r->h);
}

void reads_order(struct conn *c)
{
	by_id(c, 2, R_ORDER);
}

void reads_job(struct conn *c)
{
	by_id(c, 2, R_JOB);
}

void reads_outcome(struct conn *c)
{
	by_id(c, 2, R_OUTCOME);
}

void reads_log(struct conn *c)
{
	by_id(c, 2, R_LOG);
}

void reads_list(struct conn *c, long def_limit)
{
	struct read_req *r;
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
	if (!(r = read_new(c, R_LIST)))
		return;
	r->state = state;
	r->limit = (int)limit;
	hop_submit(&r->h);
}

void reads_orders(struct conn *c)
{
	reads_list(c, LIST_LIMIT_DEFAULT);
}

void reads_leaderboard(struct conn *c)
{
	struct read_req *r;
	char key[64], sweep[SPOOL_WORKER_MAX + 1];
	long limit, pruned;
	int rc, desc;

	if (query_key(c->req.query, "loss", key) < 0) {
		http_error(c, 400, "key must be 1 to 63 of [A-Za-z0-9_.-]");
		return;
	}
	if (query_order(c->req.query, &desc) < 0) {
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
	if (query_int(c->req.query, "pruned", 0, 1, 0, &pruned) < 0) {
		http_error(c, 400, "pruned must be 0 or 1");
		return;
	}
	if (!(r = read_new(c, R_BOARD)))
		return;
	r->flags = pruned ? BOARD_PRUNED : 0;
	if (rc > 0)
		memcpy(r->sweep, sweep, sizeof(r->sweep));
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->desc = desc;
	r->limit = (int)limit;
	hop_submit(&r->h);
}
