/*
 * core: the waiting claims, and the claims themselves.
 *
 * A claimer waits in a FIFO (arrival order). Whenever the index may have
 * something for a waiter (a new name in new/, a waiter arriving, a due
 * time reached), dispatch walks the FIFO and, for each waiter, takes the
 * first eligible name out of the index and claims it here, on the loop:
 * one rename of new/NAME to assigned/, no fsync, answered at once
 * (claim_here). A machine crash may undo such a claim, which costs a
 * re-run, never a job (spool-layout.md, "Claims that are not synced"):
 * the writer's next round fsyncs assigned/ (claims_sync), and every sync
 * of new/ by the writer or a reader waits at the gate (lib/gate.c) for
 * the loop's renames and syncs assigned/ first, so no sync of new/ makes
 * a claim's removal durable before its name in assigned/. Dispatch enters
 * the gate without waiting: when a round holds it, dispatch is done again
 * once the writer opens it (on_gate_open).
 *
 * With --sync strict the claim is the writer's instead, in its next batch
 * (claim_start): the rename and the syncs of both directories, sharing
 * the batch's round of fsyncs with the submits and completes beside it,
 * answered once the batch committed. A claim takes up to CLAIM_TRIES
 * names for its waiter, in claim order, and the writer tries them in
 * turn: a local claimer's race for the oldest name then costs a rename,
 * not a round trip (the names it did not try go back). A claim whose
 * commit fails is given back and answered 507/500, so none is answered
 * 200 on a disk that cannot keep it; one whose claimer left meanwhile is
 * given back too.
 *
 * Either way, a claim that finds the file gone (-ENOENT: a local claimer
 * was faster) puts its waiter back in its place and looks further, and
 * the claim is remembered in the claim map for the calls that end it.
 *
 * The waiter's owner hears of the claim through its ops (served), after
 * the waiter left the FIFO, or of its return to the FIFO (requeued).
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void fifo_insert(struct core *k, struct waiter *w)
{
	struct waiter *at = k->wlast;
	/* usually the tail; a waiter coming back goes in before everyone who
	 * arrived after it */
	while (at && at->seq > w->seq)
		at = at->prev;
	w->prev = at;
	w->next = at ? at->next : k->wfirst;
	if (w->next)
		w->next->prev = w;
	else
		k->wlast = w;
	if (at)
		at->next = w;
	else
		k->wfirst = w;
	w->queued = 1;
	k->nwaiting++;
}

void core_unwait(struct core *k, struct waiter *w)
{
	if (w->claiming) {
		/* its claim is on the writer: given back when it is done */
		w->claiming->w = NULL;
		w->claiming = NULL;
	}
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		k->wfirst = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		k->wlast = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
	k->nwaiting--;
}

int waiter_set(struct waiter *w, const struct waiter_ops *ops,
	       const char *worker, int ntags, char tagv[][SPOOL_TAG_MAX + 1],
	       int lease_s, int seed)
{
	int i, rc = 0;
	memset(w, 0, sizeof(*w));
	w->ops = ops;
	snprintf(w->worker, sizeof(w->worker), "%s", worker);
	if (ntags > SPOOL_TAGS_MAX)
		ntags = SPOOL_TAGS_MAX;
	if (ntags > 0) {
		/* the pointers, then the strings they point to */
		w->tags = malloc(ntags * (sizeof(char *) + SPOOL_TAG_MAX + 1));
		if (!w->tags) {
			ntags = 0;	/* fewer tags: fewer orders, never wrong ones */
			rc = -ENOMEM;
		}
	}
	for (i = 0; i < ntags; i++) {
		char *t = (char *)(w->tags + ntags) + i * (SPOOL_TAG_MAX + 1);
		memcpy(t, tagv[i], SPOOL_TAG_MAX + 1);
		t[SPOOL_TAG_MAX] = 0;
		w->tags[i] = t;
	}
	w->cl.worker = w->worker;
	w->cl.ntags = ntags;
	w->cl.tags = w->tags;
	w->cl.lease_s = lease_s;
	w->cl.seed = seed;
	return rc;
}

void waiter_clear(struct waiter *w)
{
	free(w->tags);
	w->tags = NULL;
	w->cl.tags = NULL;
	w->cl.ntags = 0;
}

void core_wait(struct core *k, struct waiter *w)
{
	if (!w->seq)
		w->seq = ++k->wseq;
	fifo_insert(k, w);
	core_dispatch(k);
}

/* Let go of the waiters whose wait is over and who got nothing (their
 * timers left them to us: the start-up load, or the gate, was under way). */
static void let_go_due(struct core *k)
{
	int64_t now = now_ms();
	struct waiter *w;

	if (k->loading || k->gate_waiting)
		return;
	/* one at a time: letting one go may queue another (a pipelined one) */
	for (;;) {
		for (w = k->wfirst; w && w->deadline > now; w = w->next)
			;
		if (!w)
			break;
		core_unwait(k, w);
		w->ops->dropped(w);
	}
}

void core_loaded(struct core *k)
{
	k->loading = 0;
	core_dispatch(k);
	let_go_due(k);
}

void core_flush(struct core *k)
{
	while (k->wfirst) {
		struct waiter *w = k->wfirst;
		core_unwait(k, w);
		w->ops->dropped(w);
	}
}

static void on_due(uv_timer_t *t)
{
	core_dispatch(t->data);
}

/* ---- claims made by the writer (--sync strict) -------------------------------------- */

static void run_claim(struct op *op, struct spool *sp)
{
	struct claim_op *c = container_of(op, struct claim_op, op);
	c->rc = -ENOENT;
	for (c->tried = 0; c->tried < c->nnames && c->rc == -ENOENT; c->tried++) {
		c->rc = spool_claim_file_opts(sp, c->names[c->tried], &c->cl,
					      &c->o, &c->opts, &c->created);
		if (c->rc == -ENOENT)
			c->lost++;
	}
	if (c->rc < 0)
		snprintf(c->why, sizeof(c->why), "%s", spool_error(sp)[0]
			 ? spool_error(sp) : strerror(-c->rc));
}

/* 1 if name is in new/ now, looked at on the loop: for a name indexed
 * after its time off the loop, whose inotify removal may have been handled
 * already (a removal after this look is handled after it). */
static int in_new(struct core *k, const char *name)
{
	char path[SPOOL_NAME_MAX + 8];

	snprintf(path, sizeof(path), "new/%s", name);
	return faccessat(k->sp.root, path, F_OK, 0) == 0;
}

/* The names a claim did not try go back into the index, those still in
 * new/. */
static void give_back_untried(struct core *k, struct claim_op *c)
{
	struct order_name n;
	int i, added = 0;

	for (i = c->tried; i < c->nnames; i++) {
		if (name_parse(c->names[i], &n) == 0 && in_new(k, c->names[i]))
			added += index_add(&k->ix, c->names[i], &n, c->ts[i]) > 0;
	}
	if (added)
		core_dispatch(k);
}

static void done_claim(struct op *op)
{
	struct claim_op *c = container_of(op, struct claim_op, op);
	struct core *k = c->k;
	struct waiter *w = c->w;
	int rc = c->rc;

	if (w)
		w->claiming = NULL;
	k->lost_claims += (uint64_t)c->lost;
	if (rc == 0 && op->commit_rc < 0) {
		/* renamed, but not durable: nobody may hold it */
		rc = op->commit_rc;
		snprintf(c->why, sizeof(c->why), "%s", op->commit_why);
		core_giveback(k, &c->o);
	} else if (rc == 0 && !w) {
		core_giveback(k, &c->o);	/* its claimer left meanwhile */
	} else if (rc == 0) {
		k->claims++;
		claimmap_put(&k->map, c->o.n.id, c->o.file);
	}
	k->claiming--;
	if (rc == -ENOENT) {
		/* all gone: someone else claimed them; the waiter looks further */
		free(c);
		if (w && !k->draining) {
			fifo_insert(k, w);
			core_dispatch(k);
			if (w->queued)
				w->ops->requeued(w);
		} else if (w) {
			w->ops->dropped(w);
		}
		return;
	}
	if (w)
		w->ops->served(w, rc, &c->o, &c->opts, c->created, c->why);
	give_back_untried(k, c);
	free(c);
}

/* Claim the first of name and the next eligible names for w on the
 * writer; w leaves the FIFO. */
static void claim_start(struct core *k, struct waiter *w, const char *name,
			struct tagset *ts, int64_t now)
{
	struct claim_op *c = calloc(1, sizeof(*c));
	int i;

	core_unwait(k, w);
	if (!c) {
		w->ops->served(w, -ENOMEM, NULL, NULL, 0, "out of memory");
		return;
	}
	snprintf(c->names[0], sizeof(c->names[0]), "%s", name);
	c->ts[0] = ts;
	for (c->nnames = 1; c->nnames < CLAIM_TRIES; c->nnames++)
		if (!index_take_ts(&k->ix, now, w->cl.ntags, w->tags,
				   c->names[c->nnames], &c->ts[c->nnames]))
			break;
	c->op.kind = OP_WRITE;
	c->op.run = run_claim;
	c->op.done = done_claim;
	c->k = k;
	c->w = w;
	/* the writer reads the claimant from the op: the waiter may go */
	memcpy(c->worker, w->worker, sizeof(c->worker));
	for (i = 0; i < w->cl.ntags; i++) {
		snprintf(c->tagv[i], sizeof(c->tagv[i]), "%s", w->tags[i]);
		c->tags[i] = c->tagv[i];
	}
	c->cl = w->cl;
	c->cl.worker = c->worker;
	c->cl.tags = c->tags;
	w->claiming = c;
	k->claiming++;
	disk_submit(k->disk, &c->op);
}

/*
 * Claim name for w here, on the loop, with the core's handle (inside the
 * gate): one rename, synced after its answer (claims_sync; interval: the
 * flush that follows; none: never).
 * -ENOENT: the name was gone (w still waits), else w was served.
 */
static int claim_here(struct core *k, struct waiter *w, const char *name)
{
	struct order o;
	struct job_opts opts;
	int64_t created = 0;
	char why[300];
	int rc = spool_claim_file_opts(&k->sp, name, &w->cl, &o, &opts, &created);

	if (rc == -ENOENT) {
		k->lost_claims++;
		return rc;
	}
	snprintf(why, sizeof(why), "%s", rc < 0 && spool_error(&k->sp)[0]
		 ? spool_error(&k->sp) : rc < 0 ? strerror(-rc) : "");
	core_unwait(k, w);
	if (rc == 0) {
		k->claims++;
		claimmap_put(&k->map, o.n.id, o.file);
		disk_changed(k->disk);
	}
	w->ops->served(w, rc, &o, &opts, created, why);
	return 0;
}

/* ---- claims made here: durable soon after their answer ------------------------------ */

static void run_claims_sync(struct op *op, struct spool *sp)
{
	(void)op;
	spool_sync_claims(sp);
}

static void claims_sync(struct core *k);

static void done_claims_sync(struct op *op)
{
	struct core *k = container_of(op, struct core, sync_op);

	k->sync_pending = 0;
	if (op->commit_rc < 0)
		say(k->log, "claims not synced: %s (the next round tries again)",
		    op->commit_why);
	if (k->claims != k->sync_asked)
		claims_sync(k);	/* claims made meanwhile */
}

/*
 * The claims just answered (claim_here, unsynced) get their fsync of
 * assigned/ in the writer's next round, so a machine crash soon after
 * cannot undo them (and so the window in which another process's sync of
 * new/ could make a claim's removal durable before its name in assigned/
 * stays one round). Only with --sync always: interval's flush covers
 * them, none syncs nothing.
 */
static void claims_sync(struct core *k)
{
	if (k->disk->sync != DISK_SYNC_ALWAYS || k->sync_pending || k->draining)
		return;
	k->sync_pending = 1;
	k->sync_asked = k->claims;
	k->sync_op.kind = OP_WRITE;
	k->sync_op.run = run_claims_sync;
	k->sync_op.done = done_claims_sync;
	disk_submit(k->disk, &k->sync_op);
}

/* The writer's round of syncs of new/ is over (called on its thread). */
static void gate_opened(void *arg)
{
	struct core *k = arg;

	uv_async_send(&k->gate_async);
}

static void on_gate_open(uv_async_t *a)
{
	struct core *k = a->data;

	if (!k->gate_waiting)
		return;
	k->gate_waiting = 0;
	core_dispatch(k);	/* (may find it shut again) */
	let_go_due(k);
}

/*
 * One claim for the first waiter that has an eligible order: 1 if a
 * waiter was served or its claim went to the writer (the FIFO changed),
 * 0 if none can be.
 */
static int dispatch_one(struct core *k, int64_t now)
{
	char name[SPOOL_NAME_MAX];
	struct waiter *w;

	for (w = k->wfirst; w && k->ix.n; w = w->next) {
		struct tagset *ts;
		while (index_take_ts(&k->ix, now, w->cl.ntags, w->tags, name, &ts)) {
			/* on a disk that fails its syncs, a claim too is
			 * answered only once synced (507 otherwise) */
			if (k->claims_synced || k->disk->failing) {
				claim_start(k, w, name, ts, now);
				return 1;
			}
			if (claim_here(k, w, name) == 0)
				return 1;
			/* gone: someone else claimed it; look further */
		}
	}
	return 0;
}

void core_dispatch(struct core *k)
{
	int64_t now, due;
	uint64_t before;
	int gated;

	if (k->draining)
		return;
	if (k->dispatching) {
		k->again = 1;	/* the dispatch under way looks again */
		return;
	}
	before = k->claims;
	if (!k->claims_synced && k->wfirst && k->ix.n &&
	    spool_gate_enter(&k->gate) < 0) {
		/* a round of syncs of new/ is under way: we hear when it is
		 * over (on_gate_open) */
		k->gate_shut++;
		k->gate_waiting = 1;
		return;
	}
	gated = !k->claims_synced && k->wfirst && k->ix.n;
	k->dispatching = 1;
	now = now_ms();
	do {
		k->again = 0;
		while (k->wfirst && k->ix.n && dispatch_one(k, now))
			;
	} while (k->again);
	k->dispatching = 0;
	if (gated) {
		spool_gate_leave(&k->gate, (unsigned)(k->claims - before));
		if (k->claims != before)
			claims_sync(k);
	}
	/* orders not due yet: look again when the first one is */
	uv_timer_stop(&k->due_timer);
	if (k->wfirst && k->ix.n) {
		due = index_next_due(&k->ix, now);
		if (due != INT64_MAX)
			uv_timer_start(&k->due_timer, on_due,
				       (uint64_t)(due - now) + 1, 0);
	}
}

/* ---- orders arriving in new/ ---------------------------------------------------- */

/* Reading the tags of a tagged order, on a reader. */
struct tags_op {
	struct op op;
	struct core *k;
	struct order o;
	int rc;
	int ntags;
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
};

static void run_tags(struct op *op, struct spool *sp)
{
	struct tags_op *t = container_of(op, struct tags_op, op);
	struct job_opts opts;
	int64_t created;
	int i;
	t->rc = spool_read_opts(sp, &t->o, &opts, &created);
	if (t->rc < 0)
		return;
	t->ntags = opts.ntags;
	for (i = 0; i < opts.ntags && i < SPOOL_TAGS_MAX; i++)
		memcpy(t->tagv[i], opts.tags[i], sizeof(t->tagv[i]));
}

static void done_tags(struct op *op)
{
	struct tags_op *t = container_of(op, struct tags_op, op);
	struct core *k = t->k;
	/* (claimed, held or cancelled while its tags were read: not indexed) */
	if (t->rc == 0 && in_new(k, t->o.file)) {
		const char *tp[SPOOL_TAGS_MAX];
		struct tagset *ts;
		int i;
		for (i = 0; i < t->ntags; i++)
			tp[i] = t->tagv[i];
		ts = index_tagset(&k->ix, t->ntags, tp);
		if (index_add(&k->ix, t->o.file, &t->o.n, ts) > 0)
			core_dispatch(k);
	}
	free(t);
}

int core_seen(struct core *k, const char *name, const struct order_name *n)
{
	struct tags_op *t;
	if (n->claimed)
		return 0;	/* not a queued name: not claimable from new/ */
	if (!n->tagged)
		return index_add(&k->ix, name, n, NULL) > 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return 0;
	t->op.kind = OP_READ;
	t->op.run = run_tags;
	t->op.done = done_tags;
	t->k = k;
	t->o.state = ST_NEW;
	snprintf(t->o.file, sizeof(t->o.file), "%s", name);
	t->o.n = *n;
	disk_submit(k->disk, &t->op);
	return 0;
}

void core_queued(struct core *k, const struct order *o)
{
	if (o->state == ST_NEW && core_seen(k, o->file, &o->n))
		core_dispatch(k);
}

/* ---- claims that do not go ahead --------------------------------------------------- */

/* A give-back or the failing of an order without its job, on the writer. */
struct back_op {
	struct op op;
	struct core *k;
	struct order o;
	int fail;
	int rc, retried;
};

static void run_back(struct op *op, struct spool *sp)
{
	struct back_op *b = container_of(op, struct back_op, op);
	static const char why[] = "{\"status\": 500, \"error\": "
				  "\"the job document is missing\"}";
	if (b->fail)
		b->rc = spool_fail(sp, &b->o, why, sizeof(why) - 1, &b->retried);
	else
		b->rc = spool_release(sp, &b->o);
}

static void done_back(struct op *op)
{
	struct back_op *b = container_of(op, struct back_op, op);
	struct core *k = b->k;
	int rc = b->rc ? b->rc : op->commit_rc;
	if (b->fail) {
		say(k->log, "order %s has no job document: %s", b->o.n.id,
		    rc < 0 ? strerror(-rc) : b->retried ? "attempt failed"
							 : "failed");
	} else {
		say(k->log, "claim %s given back: its claimer did not get it (%s)",
		    b->o.n.id, rc < 0 ? strerror(-rc) : "ok");
	}
	if (rc == 0 && (!b->fail || b->retried))
		core_queued(k, &b->o);
	free(b);
}

static void back(struct core *k, const struct order *o, int fail)
{
	struct back_op *b = calloc(1, sizeof(*b));
	claimmap_del(&k->map, o->n.id);
	if (!b)
		return;		/* its lease ends it */
	b->op.kind = OP_WRITE;
	b->op.run = run_back;
	b->op.done = done_back;
	b->op.track = &b->o;
	b->k = k;
	b->o = *o;
	b->fail = fail;
	disk_submit(k->disk, &b->op);
}

void core_giveback(struct core *k, const struct order *o)
{
	back(k, o, 0);
}

void core_fail_orphan(struct core *k, const struct order *o)
{
	back(k, o, 1);
}

/* ---- set-up ------------------------------------------------------------------------- */

int core_open(struct core *k, uv_loop_t *loop, const char *path,
	      struct disk *disk, int nosync, int claims_synced,
	      const struct logger *log)
{
	int rc;
	k->loop = loop;
	k->log = log;
	k->disk = disk;
	index_init(&k->ix);
	claimmap_init(&k->map);
	rc = spool_open(&k->sp, path, 0);
	if (rc < 0)
		return rc;
	/* the loop's own handle reads (a claim's answer, from the page
	 * cache); claims are the writer's (see the top), or, when the daemon
	 * answers before it syncs, this handle's, unsynced */
	k->sp.nosync = nosync || disk->sync != DISK_SYNC_ALWAYS;
	/* claims are made here, unsynced, through the gate (the top), or
	 * with --sync strict by the writer, synced */
	k->claims_synced = claims_synced;
	if (!claims_synced) {
		spool_gate_init(&k->gate, gate_opened, k);
		k->gated = 1;
		spool_set_claim_sync(&k->sp, 0);	/* (it syncs nothing) */
		disk_set_gate(disk, &k->gate);
		uv_async_init(loop, &k->gate_async, on_gate_open);
		k->gate_async.data = k;
		/* it keeps nothing alive: a waiter it may serve has its conn */
		uv_unref((uv_handle_t *)&k->gate_async);
	}
	uv_timer_init(loop, &k->due_timer);
	k->due_timer.data = k;
	return 0;
}

static int load_visit(void *arg, const struct order *o)
{
	struct core *k = arg;
	if (o->n.claimed)
		claimmap_put(&k->map, o->n.id, o->file);
	return 0;
}

int core_load_claims(struct core *k)
{
	return spool_list(&k->sp, ST_ASSIGNED, load_visit, k);
}

void core_stop(struct core *k)
{
	k->draining = 1;
	uv_timer_stop(&k->due_timer);
	uv_close((uv_handle_t *)&k->due_timer, NULL);
	if (k->gated) {
		/* the writer is idle now (the server waits for it); the flush
		 * at exit must not wake a closed handle */
		k->gate.opened = NULL;
		uv_close((uv_handle_t *)&k->gate_async, NULL);
	}
}

void core_close(struct core *k)
{
	index_release(&k->ix);
	claimmap_release(&k->map);
	spool_close(&k->sp);
	if (k->gated)
		spool_gate_destroy(&k->gate);
}
