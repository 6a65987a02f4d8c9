/*
 * op: the disk work of the daemon, off the loop thread.
 *
 * State changes go to one writer: ops queue up while a batch runs, and the
 * whole queue becomes the next batch, run on a libuv pool thread between
 * spool_begin and spool_commit. So concurrent requests share one round of
 * fsyncs, and no answer of a batch leaves before its commit returned: a 201
 * or 200 means the change is on disk. Only one batch runs at a time, so the
 * writer's struct spool is used by one thread at a time.
 *
 * Reads (GETs, listings, the rescan) go to NREADERS readers, each with its
 * own struct spool (opened on the same directory), so a long listing or a
 * leaderboard does not hold up claims and submits.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spoold.h"

struct op *op_new(op_run_fn run, op_done_fn done, int readonly)
{
	struct op *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->run = run;
	op->done = done;
	op->readonly = readonly;
	op->status = 500;
	op->state = -1;
	buf_init(&op->out, RESP_MAX);
	return op;
}

void op_free(struct op *op)
{
	if (!op)
		return;
	buf_release(&op->out);
	free(op->el);
	free(op->data);
	free(op);
}

void op_error(struct op *op, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_reset(&op->out);
	buf_puts(&op->out, "{\"error\": ");
	buf_json_str(&op->out, msg, strlen(msg));
	buf_puts(&op->out, "}\n");
	op->status = status;
	op->ctype = NULL;
}

void op_errno(struct op *op, struct spool *sp, int rc, const char *what)
{
	const char *why = spool_error(sp);
	int status;
	switch (rc) {
	case -EINVAL: status = 400; break;
	case -ENOENT: status = 404; break;
	case -ESTALE:
	case -EBUSY:
	case -EALREADY: status = 409; break;
	case -E2BIG:
	case -EFBIG: status = 413; break;
	case -ENOSPC:
	case -EDQUOT: status = 507; break;
	default: status = 500; break;
	}
	if (why && why[0])
		op_error(op, status, "cannot %s: %s", what, why);
	else
		op_error(op, status, "cannot %s: %s", what, strerror(-rc));
}

void op_answer(struct server *srv, struct op *op)
{
	struct conn *c = op->conn;
	if (op->status >= 500)
		say(srv, "answered %d: %.300s", op->status,
		    op->out.data ? op->out.data : "");
	if (c) {
		c->op = NULL;
		if (c->eof || c->closing) {
			metrics_request(&srv->m, op->status, 0);
			conn_close(c);
		} else {
			http_reply_take(c, op->status, op->ctype, &op->out, NULL);
		}
	}
	op_free(op);
}

/* ---- the writer ------------------------------------------------------------- */

/*
 * The batch committed: op's answer was written by its run, assuming its
 * changes would be made; rc says otherwise (spool_track). A claim lost at
 * the last moment is a 409 with the outcome kept in late/; a repeated
 * request that finds its outcome filed is a duplicate; a change that did
 * not reach the disk is a 507 (full) or 500, and is not visible.
 */
void op_committed(struct op *op, int rc, const char *why)
{
	switch (rc) {
	case 0:
		return;
	case -EALREADY:
		buf_reset(&op->out);
		buf_printf(&op->out, "{\"id\": \"%s\", \"state\": \"%s\", "
			   "\"duplicate\": true}\n", op->id,
			   spool_state_name(op->state >= 0 ? op->state : (int)op->o.state));
		op->status = 200;
		op->flag = 1;
		return;
	case -ESTALE:
		op_error(op, 409, "the claim on order %s is no longer held (lease "
			 "expired, cancelled or requeued); the outcome is kept in "
			 "late/", op->id);
		return;
	case -ENOSPC:
	case -EDQUOT:
		op_error(op, 507, "not stored (the disk is full): %s", why);
		return;
	default:
		op_error(op, 500, "not stored durably: %s", why[0] ? why : strerror(-rc));
	}
}

static void batch_kick(struct server *srv);

static void batch_work(uv_work_t *w)
{
	struct server *srv = w->data;
	struct op *op;
	spool_begin(&srv->sp);
	for (op = srv->batch; op; op = op->next) {
		/* each op learns its own changes' fate at the commit */
		spool_track(&srv->sp, &op->commit_rc, &op->o);
		op->run(op, &srv->sp);
	}
	spool_track(&srv->sp, NULL, NULL);
	srv->commit_rc = spool_commit(&srv->sp);
	if (srv->sp.sync_rc < 0)
		srv->commit_rc = srv->sp.sync_rc;
	else if (srv->commit_rc == -ESTALE || srv->commit_rc == -EALREADY)
		srv->commit_rc = 0;	/* one op's answer, not the batch's */
	if (srv->commit_rc < 0)
		snprintf(srv->commit_err, sizeof(srv->commit_err), "%s",
			 spool_error(&srv->sp)[0] ? spool_error(&srv->sp)
						  : strerror(-srv->commit_rc));
}

static void batch_after(uv_work_t *w, int status)
{
	struct server *srv = w->data;
	struct op *op = srv->batch, *next;
	uint64_t n = 0;

	srv->batch = NULL;
	srv->batch_busy = 0;
	if (srv->commit_rc < 0) {
		srv->m.commit_errors++;
		say(srv, "commit failed: %s", srv->commit_err);
	}
	for (; op; op = next) {
		next = op->next;
		op->next = NULL;
		n++;
		if (op->durable && op->status < 300)
			op_committed(op, op->commit_rc ? op->commit_rc : srv->commit_rc,
				     srv->commit_err);
		op->done(srv, op);
	}
	srv->m.batches++;
	srv->m.batch_ops += n;
	batch_kick(srv);
	server_maybe_exit(srv);
}

static void batch_kick(struct server *srv)
{
	if (srv->batch_busy || !srv->wq)
		return;
	srv->batch = srv->wq;
	srv->wq = NULL;
	srv->wq_tail = &srv->wq;
	srv->batch_busy = 1;
	srv->batch_work.data = srv;
	if (uv_queue_work(srv->loop, &srv->batch_work, batch_work,
			  batch_after) < 0) {
		/* cannot happen with a valid loop; run inline rather than hang */
		batch_work(&srv->batch_work);
		batch_after(&srv->batch_work, 0);
	}
}

/* ---- the readers ------------------------------------------------------------- */

static void reader_kick(struct server *srv);

static void reader_work(uv_work_t *w)
{
	struct reader *r = w->data;
	r->op->run(r->op, &r->sp);
}

static void reader_after(uv_work_t *w, int status)
{
	struct reader *r = w->data;
	struct server *srv = r->work.loop->data;
	struct op *op = r->op;
	r->op = NULL;
	r->busy = 0;
	op->done(srv, op);
	reader_kick(srv);
	server_maybe_exit(srv);
}

static void reader_kick(struct server *srv)
{
	int i;
	for (i = 0; i < NREADERS && srv->rq; i++) {
		struct reader *r = &srv->readers[i];
		struct op *op;
		if (r->busy)
			continue;
		op = srv->rq;
		srv->rq = op->next;
		if (!srv->rq)
			srv->rq_tail = &srv->rq;
		op->next = NULL;
		r->op = op;
		r->busy = 1;
		r->work.data = r;
		uv_queue_work(srv->loop, &r->work, reader_work, reader_after);
	}
}

void disk_submit(struct server *srv, struct op *op)
{
	op->next = NULL;
	if (op->readonly) {
		*srv->rq_tail = op;
		srv->rq_tail = &op->next;
		reader_kick(srv);
	} else {
		*srv->wq_tail = op;
		srv->wq_tail = &op->next;
		batch_kick(srv);
	}
}

int disk_busy(const struct server *srv)
{
	int i;
	if (srv->batch_busy || srv->wq || srv->rq)
		return 1;
	for (i = 0; i < NREADERS; i++)
		if (srv->readers[i].busy)
			return 1;
	return 0;
}
