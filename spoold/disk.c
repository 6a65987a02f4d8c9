/*
 * disk: the commit. The disk work of the daemon, off the loop thread.
 *
 * State changes go to one writer: ops queue up while a batch runs, and the
 * whole queue becomes the next batch, run on a libuv pool thread between
 * spool_begin and spool_commit. So concurrent requests share one round of
 * fsyncs, and no op of a batch is done (answered) before its commit
 * returned: a 201 or 200 means the change is on disk. Only one batch runs
 * at a time, so the writer's struct spool is used by one thread at a time.
 *
 * With DISK_SYNC_INTERVAL the writer commits without syncing, so answers
 * leave before the flush; a timer then queues one flush (spool_flush, a
 * syncfs) at most interval_ms after the first change not yet flushed.
 *
 * Reads (GETs, listings, the rescan) go to NREADERS readers, each with its
 * own struct spool (opened on the same directory), so a long listing or a
 * leaderboard does not hold up submits and completions.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void batch_kick(struct disk *d);

/* An error of the disk itself, not of one change. */
static int disk_error(int rc)
{
	return rc == -ENOSPC || rc == -EIO || rc == -EDQUOT || rc == -EROFS;
}

static void batch_work(uv_work_t *w)
{
	struct disk *d = w->data;
	struct op *op;
	uint64_t rounds = d->sp.rounds_synced;

	spool_begin(&d->sp);
	for (op = d->batch; op; op = op->next) {
		/* each op learns its own changes' fate at the commit */
		spool_track(&d->sp, &op->commit_rc, op->track);
		op->run(op, &d->sp);
	}
	spool_track(&d->sp, NULL, NULL);
	d->commit_rc = spool_commit(&d->sp);
	/* failing: 1 after a failed sync, 0 after a good one, else as it was */
	d->sync_state = d->sp.sync_rc < 0 || disk_error(d->commit_rc) ? 1 :
			d->sp.rounds_synced != rounds ? 0 : -1;
	if (d->sp.sync_rc < 0)
		d->commit_rc = d->sp.sync_rc;
	else if (d->commit_rc == -ESTALE || d->commit_rc == -EALREADY)
		d->commit_rc = 0;	/* one op's answer, not the batch's */
	if (d->commit_rc < 0)
		snprintf(d->commit_err, sizeof(d->commit_err), "%s",
			 spool_error(&d->sp)[0] ? spool_error(&d->sp)
						: strerror(-d->commit_rc));
	else
		d->commit_err[0] = 0;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct disk *d = t->data;
	d->flush_armed = 0;
	if (!d->flushing && d->dirty) {
		d->dirty = 0;
		d->flushing = 1;
		disk_submit(d, &d->flush_op);
	}
}

static void run_flush(struct op *op, struct spool *sp)
{
	op->commit_rc = spool_flush(sp);
}

static void done_flush(struct op *op)
{
	struct disk *d = container_of(op, struct disk, flush_op);
	d->flushing = 0;
	d->flushes++;
	d->failing = op->commit_rc < 0;
	if (op->commit_rc < 0) {
		d->commit_errors++;
		say(d->log, "flush failed: %s", spool_error(&d->sp)[0] ?
		    spool_error(&d->sp) : strerror(-op->commit_rc));
	}
	if (d->dirty && !d->flush_armed) {
		d->flush_armed = 1;
		uv_timer_start(&d->flush_timer, on_flush_timer,
			       (uint64_t)d->interval_ms, 0);
	}
}

void disk_changed(struct disk *d)
{
	if (d->sync != DISK_SYNC_INTERVAL)
		return;
	d->dirty = 1;
	if (!d->flush_armed && !d->flushing) {
		d->flush_armed = 1;
		uv_timer_start(&d->flush_timer, on_flush_timer,
			       (uint64_t)d->interval_ms, 0);
	}
}

static void batch_after(uv_work_t *w, int status)
{
	struct disk *d = w->data;
	struct op *op = d->batch, *next;
	uint64_t n = 0;

	d->batch = NULL;
	d->batch_busy = 0;
	if (d->sync_state >= 0)
		d->failing = d->sync_state;
	if (d->commit_rc < 0) {
		d->commit_errors++;
		say(d->log, "commit failed: %s", d->commit_err);
	}
	for (; op; op = next) {
		next = op->next;
		op->next = NULL;
		if (op != &d->flush_op)
			n++;
		if (!op->commit_rc)
			op->commit_rc = d->commit_rc;
		op->commit_why = d->commit_err;
		op->done(op);
	}
	d->batches++;
	d->batch_ops += n;
	if (n)
		disk_changed(d);
	batch_kick(d);
	if (d->idle)
		d->idle(d->ud);
}

static void batch_kick(struct disk *d)
{
	if (d->batch_busy || !d->wq)
		return;
	d->batch = d->wq;
	d->wq = NULL;
	d->wq_tail = &d->wq;
	d->batch_busy = 1;
	d->batch_work.data = d;
	if (uv_queue_work(d->loop, &d->batch_work, batch_work,
			  batch_after) < 0) {
		/* cannot happen with a valid loop; run inline rather than hang */
		batch_work(&d->batch_work);
		batch_after(&d->batch_work, 0);
	}
}

/* ---- the readers ------------------------------------------------------------- */

static void reader_kick(struct disk *d);

static void reader_work(uv_work_t *w)
{
	struct reader *r = w->data;
	r->op->run(r->op, &r->sp);
}

static void reader_after(uv_work_t *w, int status)
{
	struct reader *r = w->data;
	struct disk *d = r->work.loop->data;
	struct op *op = r->op;
	r->op = NULL;
	r->busy = 0;
	op->done(op);
	reader_kick(d);
	if (d->idle)
		d->idle(d->ud);
}

static void reader_kick(struct disk *d)
{
	int i;
	for (i = 0; i < NREADERS && d->rq; i++) {
		struct reader *r = &d->readers[i];
		struct op *op;
		if (r->busy)
			continue;
		op = d->rq;
		d->rq = op->next;
		if (!d->rq)
			d->rq_tail = &d->rq;
		op->next = NULL;
		r->op = op;
		r->busy = 1;
		r->work.data = r;
		uv_queue_work(d->loop, &r->work, reader_work, reader_after);
	}
}

void disk_submit(struct disk *d, struct op *op)
{
	op->next = NULL;
	op->commit_rc = 0;
	if (op->kind == OP_READ) {
		*d->rq_tail = op;
		d->rq_tail = &op->next;
		reader_kick(d);
	} else {
		*d->wq_tail = op;
		d->wq_tail = &op->next;
		batch_kick(d);
	}
}

int disk_busy(const struct disk *d)
{
	int i;
	if (d->batch_busy || d->wq || d->rq)
		return 1;
	for (i = 0; i < NREADERS; i++)
		if (d->readers[i].busy)
			return 1;
	return 0;
}

int disk_open(struct disk *d, uv_loop_t *loop, const char *path,
	      enum disk_sync sync, int64_t interval_ms,
	      const struct logger *log)
{
	int rc, i;

	d->loop = loop;
	d->log = log;
	d->sync = sync;
	d->interval_ms = interval_ms;
	d->wq_tail = &d->wq;
	d->rq_tail = &d->rq;
	rc = spool_open(&d->sp, path, 1);
	if (rc < 0)
		return rc;
	/* a relaxed mode commits without syncing; the flush timer syncs */
	d->sp.nosync = sync != DISK_SYNC_ALWAYS;
	for (i = 0; i < NREADERS; i++) {
		rc = spool_open(&d->readers[i].sp, path, 0);
		if (rc < 0)
			return rc;
		d->readers[i].sp.nosync = d->sp.nosync;
	}
	d->flush_op.kind = OP_WRITE;
	d->flush_op.run = run_flush;
	d->flush_op.done = done_flush;
	uv_timer_init(loop, &d->flush_timer);
	d->flush_timer.data = d;
	return 0;
}

void disk_set_gate(struct disk *d, struct spool_gate *g)
{
	int i;

	spool_set_gate(&d->sp, g);
	for (i = 0; i < NREADERS; i++)
		spool_set_gate(&d->readers[i].sp, g);
}

void disk_stop(struct disk *d)
{
	uv_timer_stop(&d->flush_timer);
	uv_close((uv_handle_t *)&d->flush_timer, NULL);
}

void disk_close(struct disk *d)
{
	int i;
	/* what the interval mode has not flushed yet, flushed at exit */
	if (d->sync == DISK_SYNC_INTERVAL && d->dirty)
		spool_flush(&d->sp);
	for (i = 0; i < NREADERS; i++)
		spool_close(&d->readers[i].sp);
	spool_close(&d->sp);
}
