/*
 * core.h: the core's contract (floor 3 "core": index.c, claimmap.c,
 * disk.c, core.c, watch.c).
 *
 * The core owns what the daemon knows of the spool: the claim order of
 * new/ (index), who waits for a claim and the claims made on the loop
 * (core), the names of the claims it handed out (claimmap), the commit
 * (disk: one writer running batches of state changes, and readers), and
 * keeping the index equal to new/ (watch). It knows no HTTP: whoever waits
 * or queues work hands it callbacks (struct waiter_ops, op->done).
 */
#ifndef SPOOLD_CORE_H
#define SPOOLD_CORE_H

#include <uv.h>

#include "base.h"

#define NREADERS	    2		/* read-only spool handles */

/* ---- the claim index (index.c) ------------------------------------------------ */

/* A set of required tags, interned: equal sets share one pointer. */
struct tagset {
	struct tagset *next;
	int ntags;
	char tags[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];	/* sorted */
};

struct inode;		/* one queued order: a treap node with its name */
struct queue;		/* the orders of one (priority, tagset), in name order */

struct index {
	struct queue **q;	/* sorted: priority descending, then tagset */
	size_t nq, capq;
	struct tagset *tagsets;
	size_t n;		/* entries */
	uint8_t mark;		/* rescan generation bit */
};

void index_init(struct index *ix);
void index_release(struct index *ix);

/* The interned copy of tags (any order, may repeat); NULL when ntags == 0. */
struct tagset *index_tagset(struct index *ix, int ntags,
			    const char *const *tags);

/*
 * Add the queued order file name (parsed as n) requiring tags ts (NULL:
 * none). 1 added, 0 already there (its mark is refreshed), -ENOMEM.
 */
int index_add(struct index *ix, const char *name, const struct order_name *n,
	      struct tagset *ts);

/* Remove name. 1 removed, 0 not there. */
int index_del(struct index *ix, const char *name);

/* 1 if name is in the index. */
int index_has(struct index *ix, const char *name);

/*
 * The first order in claim order that is due at now and whose tags the
 * claimant (ntags, tags) has; it is removed from the index and its name
 * copied to out (SPOOL_NAME_MAX). 1 found, 0 none.
 */
int index_take(struct index *ix, int64_t now, int ntags,
	       const char *const *tags, char *out);

/* index_take that also says the tag set the order needs (*ts), so that it
 * can be added back as it was. */
int index_take_ts(struct index *ix, int64_t now, int ntags,
		  const char *const *tags, char *out, struct tagset **ts);

/* The earliest due time after now of a queue's head, or INT64_MAX. */
int64_t index_next_due(const struct index *ix, int64_t now);

/* Rescan support: flip the mark; index_add refreshes marks; index_sweep
 * removes every entry whose mark is stale and returns how many. */
void index_mark_begin(struct index *ix);
size_t index_sweep(struct index *ix);

/* Bytes of heap the index uses (approximate, for /v1/stats). */
size_t index_bytes(const struct index *ix);
/* ---- the claim map (claimmap.c) ------------------------------------------------ */

/*
 * Order id -> the name of its claim in assigned/, for the claims this
 * daemon handed out (and those it found at start), so that a complete,
 * fail, heartbeat or release need not list assigned/. A hint, never the
 * truth: whoever uses a name checks that the file is there.
 */
struct claimmap {
	struct cm_slot *slot;		/* open addressing, a power of two */
	size_t cap, n;
};

void claimmap_init(struct claimmap *m);
void claimmap_release(struct claimmap *m);

/* Remember file (a claimed name) for id. 0 or -ENOMEM (then forgotten). */
int claimmap_put(struct claimmap *m, const char *id, const char *file);

/* The name remembered for id, or NULL; valid until the next put/del. */
const char *claimmap_get(const struct claimmap *m, const char *id);

void claimmap_del(struct claimmap *m, const char *id);

/* ---- disk work (disk.c) ----------------------------------------------------------- */

struct op;

typedef void (*op_run_fn)(struct op *op, struct spool *sp);
typedef void (*op_done_fn)(struct op *op);

enum op_kind {
	OP_READ,	/* on a reader: nothing changes */
	OP_WRITE,	/* on the writer, in a batch: done after its commit */
};

/*
 * One unit of disk work, embedded first in its owner's request. run is
 * called on a disk thread (the writer for OP_WRITE, a reader for OP_READ);
 * done on the loop thread, after the batch committed for a write, with
 * commit_rc the fate of its changes (0, or the first error: -ESTALE,
 * -EALREADY, -ENOSPC...: see spool_track) and commit_why the batch's error
 * in words.
 */
struct op {
	struct op *next;
	enum op_kind kind;
	op_run_fn run;
	op_done_fn done;
	struct order *track;		/* updated by a complete/fail/reap (may be NULL) */
	int commit_rc;
	const char *commit_why;		/* valid during done */
};

/* How a write is made durable before its answer. */
enum disk_sync {
	DISK_SYNC_ALWAYS,	/* each batch syncs before done (the default) */
	DISK_SYNC_INTERVAL,	/* done at once; a flush at most interval_ms later */
	DISK_SYNC_NONE,		/* never (tests and benchmarks) */
};

struct reader {
	uv_work_t work;
	struct spool sp;
	struct op *op;
	int busy;
};

struct disk {
	uv_loop_t *loop;
	const struct logger *log;
	struct spool sp;		/* the writer's */
	struct op *wq, **wq_tail;	/* next batch */
	struct op *batch;		/* running batch */
	uv_work_t batch_work;
	int batch_busy;
	int commit_rc;
	char commit_err[256];
	struct reader readers[NREADERS];
	struct op *rq, **rq_tail;	/* reads waiting for a reader */
	enum disk_sync sync;
	int64_t interval_ms;
	uv_timer_t flush_timer;		/* DISK_SYNC_INTERVAL */
	int dirty;			/* changes not flushed yet */
	int flush_armed, flushing;
	struct op flush_op;
	void (*idle)(void *ud);		/* after each piece of work (shutdown) */
	void *ud;
	uint64_t batches, batch_ops, commit_errors, flushes;
	int sync_state;			/* the writer's: its last commit could not sync
					 * (1), synced (0), synced nothing (-1) */
	int failing;			/* the loop's copy, after each batch and flush:
					 * claims are then synced before their answer */
};

/* Open the writer's and the readers' spools at path (created when
 * missing). 0, or a negative errno with the reason in d->sp. */
int disk_open(struct disk *d, uv_loop_t *loop, const char *path,
	      enum disk_sync sync, int64_t interval_ms,
	      const struct logger *log);

/* Close the spools (the loop is done). */
void disk_close(struct disk *d);

/* Give the writer's and the readers' handles the gate of the claims made
 * on the loop (lib/gate.c): their syncs of new/ go through it. */
void disk_set_gate(struct disk *d, struct spool_gate *g);

/* Close the flush timer (shutdown). */
void disk_stop(struct disk *d);

/* Queue op: the writer's next batch, or a reader. */
void disk_submit(struct disk *d, struct op *op);

/* 1 while any disk work is queued or running. */
int disk_busy(const struct disk *d);

/* A change was made outside the writer's batches (a claim on the loop):
 * with DISK_SYNC_INTERVAL, a flush follows at most interval_ms later. */
void disk_changed(struct disk *d);

/* ---- the core: waiting claims, claims (core.c) ------------------------------------- */

struct waiter;

struct waiter_ops {
	/* An order was claimed for w (rc 0, o the claim, opts and created
	 * what its order file says), or claiming failed (rc < 0, errno; text
	 * in *why); w has left the FIFO. */
	void (*served)(struct waiter *w, int rc, struct order *o,
		       const struct job_opts *opts, int64_t created,
		       const char *why);
	/* The core lets go of w (shutdown): it has left the FIFO. */
	void (*dropped)(struct waiter *w);
	/* w is back in the FIFO, in its place: the order its claim was for
	 * was taken by someone else (its wait goes on: re-arm its timer). */
	void (*requeued)(struct waiter *w);
};

struct claim_op;

/* A claimer waiting for an order, embedded in its owner's request. */
struct waiter {
	const struct waiter_ops *ops;
	struct waiter *prev, *next;
	uint64_t seq;			/* arrival order */
	int queued;			/* in the FIFO */
	struct claim_op *claiming;	/* its claim, on the writer now */
	int64_t deadline;		/* ms: its wait is over (the owner's) */
	struct claimant cl;		/* cl.worker, cl.tags point into w */
	char worker[SPOOL_WORKER_MAX + 1];
	/* the claimer's tags, allocated only when it has some (a waiter is
	 * held by every idle long-poll: 656 bytes less each without) */
	const char **tags;		/* NULL, or cl.ntags pointers into it */
};

/* Names a claim on the writer may try, in claim order: the first may be
 * gone (a local claimer was faster), and a round trip to the writer per
 * try would make every such race cost a batch. */
#define CLAIM_TRIES 4

/* A claim for a waiter, run by the writer in its batch: the first of
 * names that is still there. */
struct claim_op {
	struct op op;
	struct core *k;
	struct waiter *w;		/* NULL once its claimer left */
	char names[CLAIM_TRIES][SPOOL_NAME_MAX];
	struct tagset *ts[CLAIM_TRIES];	/* each name's, to give back untried ones */
	int nnames, tried, lost;
	struct claimant cl;		/* points into this op, not the waiter */
	char worker[SPOOL_WORKER_MAX + 1];
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	const char *tags[SPOOL_TAGS_MAX];
	struct order o;
	struct job_opts opts;		/* read by the claim: the answer's */
	int64_t created;
	int rc;
	char why[300];
};

struct core {
	uv_loop_t *loop;
	const struct logger *log;
	struct disk *disk;		/* claims, reads of tags, give-backs */
	struct spool sp;		/* the loop's own: reads a claim's answer */
	struct index ix;
	struct claimmap map;
	struct waiter *wfirst, *wlast;
	uint64_t wseq;
	int nwaiting;
	int dispatching, again;
	int draining;
	int loading;			/* the start-up listing is under way */
	int claiming;			/* claims on the writer now */
	uv_timer_t due_timer;
	uint64_t claims, lost_claims;
	/* claims made on the loop, unsynced (all but --sync strict) */
	int claims_synced;		/* --sync strict: the writer makes them */
	int gated;			/* the gate below is set up */
	struct spool_gate gate;		/* vs the writer's syncs of new/ */
	uv_async_t gate_async;		/* the gate opened again */
	uint64_t gate_shut;		/* dispatches that found it shut */
	int gate_waiting;		/* one did: a dispatch is owed when it opens */
	struct op sync_op;		/* the fsync of their assigned/ names */
	int sync_pending;
	uint64_t sync_asked;		/* k->claims when it was asked */
};

/* Set k up on the spool at path (a struct spool of its own, for reads;
 * nosync: the daemon runs --no-sync; claims_synced: --sync strict, each
 * claim synced by the writer before its answer). 0 or a negative errno. */
int core_open(struct core *k, uv_loop_t *loop, const char *path,
	      struct disk *disk, int nosync, int claims_synced,
	      const struct logger *log);

/* Close the due timer (shutdown); core_close after the loop. */
void core_stop(struct core *k);
void core_close(struct core *k);

/* Remember every claim of assigned/ in the map (at start). */
int core_load_claims(struct core *k);

/* Fill w's claimant (worker, tags, lease); tags any order. 0, or -ENOMEM
 * (w is then set, without tags). waiter_clear when done with w. */
int waiter_set(struct waiter *w, const struct waiter_ops *ops,
	       const char *worker, int ntags, char tagv[][SPOOL_TAG_MAX + 1],
	       int lease_s, int seed);
void waiter_clear(struct waiter *w);

/* Queue w (new: it goes last; a waiter coming back keeps its place) and
 * hand it an order if one is there (ops->served, maybe before returning). */
void core_wait(struct core *k, struct waiter *w);

/* Take w out of the FIFO (timeout, disconnect). */
void core_unwait(struct core *k, struct waiter *w);

/* The start-up load is done: waiters whose wait is over and who got
 * nothing are let go (ops->dropped). */
void core_loaded(struct core *k);

/* Hand queued orders to waiters, in arrival order. */
void core_dispatch(struct core *k);

/* Let go of every waiter (shutdown): ops->dropped for each. */
void core_flush(struct core *k);

/* A queued name seen in new/ (by watch or our own change): index it (a
 * tagged one once a reader read its tags). 1 if it went in now. */
int core_seen(struct core *k, const char *name, const struct order_name *n);

/* Our own change put o in new/ (release, retry, requeue...): index it now
 * rather than wait for inotify, and hand it to a waiter. */
void core_queued(struct core *k, const struct order *o);

/* A claim handed out was not heard by its claimer: give it back. */
void core_giveback(struct core *k, const struct order *o);

/* A claim's order has no job document: fail that attempt (the writer). */
void core_fail_orphan(struct core *k, const struct order *o);

/* ---- watching new/ (watch.c) --------------------------------------------------------- */

struct scan;

struct watch {
	uv_loop_t *loop;
	const struct logger *log;
	struct core *core;
	struct disk *disk;
	int64_t rescan_ms;		/* 0 = never */
	int inotify_fd;
	uv_poll_t inotify_poll;
	uv_timer_t rescan_timer;
	int draining;
	int scanning;			/* a rescan is in flight */
	int rescan_again;
	struct index gone;		/* names that left new/ during the listing */
	uint64_t scan_t0;		/* uv_hrtime when it began */
	int64_t scan_ms;		/* how long the last one took */
	size_t scan_n;			/* and how many orders it listed */
	int64_t merge_ms;		/* loop time to merge it into the index */
	int merge_added;
	uint64_t merge_ns;
	uint64_t ingested, rejected;
};

/* Watch new/ of the writer's spool with inotify. 0 or a negative errno. */
int watch_start(struct watch *wa, uv_loop_t *loop, struct core *k,
		struct disk *d, int64_t rescan_ms, const struct logger *log);

/* Stop watching, drop a merge in progress, stop the timers (shutdown). */
void watch_stop(struct watch *wa);

/* Close the timers (the last step of shutdown). */
void watch_close(struct watch *wa);

/* Load the index of new/ in the background (the daemon serves already):
 * mend tmp/ on the writer, list new/ on a reader, merged as it comes;
 * core_loaded at the end. Drops found are ingested. */
void watch_load(struct watch *wa);

/*
 * Mend what a crash left in sp's tmp/ (spool_recover), logging each repair
 * through lg. On the writer: at start and with every reap. 0 or a negative
 * errno.
 */
int watch_recover(const struct logger *lg, struct spool *sp);

/* Queue a rescan now (inotify overflow). */
void watch_rescan(struct watch *wa);

/* Arm the periodic rescan: rescan_ms, or 20x the last scan's cost. */
void watch_schedule(struct watch *wa);

#endif
