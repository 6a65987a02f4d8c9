/*
 * sweepmap.h: the sweep table's contract (sweepmap.c, floor 3 "core"):
 * which sweep each order belongs to, each sweep's parameters and counts.
 * Its state is struct sweepmap, embedded in struct server; the handlers
 * (sweeps.c, pages.c) call it from the readers, under its own mutex.
 */
#ifndef SPOOLD_SWEEPMAP_H
#define SPOOLD_SWEEPMAP_H

#include <pthread.h>

#include "core.h"

struct json;
struct sweep;
struct idslot;

struct sweepmap {
	pthread_mutex_t mu;		/* guards all below but the walk's */
	pthread_mutex_t walk_mu;	/* one table walk at a time */
	struct idslot *ids;		/* order id -> sweep index + 1 */
	size_t cap, n;
	struct sweep *sw;		/* [0]: the jobs without a sweep */
	size_t nsw, capsw;
	int64_t table_ms, cost_ms;	/* when the table was made; its walk's cost */
	long unread;			/* orders of the last table whose job was not read */
	int have_table;
	/* the background walk, started and ended on the loop thread */
	struct disk *disk;
	struct op bg;
	int bg_running;
	int draining;			/* read by a walk in flight: stop */
	uint64_t walks;
};

/* Set m up for disk (background walks run on its readers). */
void sweepmap_init(struct sweepmap *m, struct disk *disk);
void sweepmap_release(struct sweepmap *m);

/* Shutdown: no new walk; a walk in flight stops early. */
void sweepmap_stop(struct sweepmap *m);

/* ---- on a reader (any thread) ------------------------------------------------ */

/* The index of the sweep order hexid's job belongs to (0: none), reading
 * the job (into the scratch buffer job) only the first time. */
int sweepmap_of(struct sweepmap *m, struct spool *sp, const char *hexid,
		struct buf *job);

/* 1 if sweep index s (of sweepmap_of) is the sweep named name. A name
 * asked for makes no sweep: only jobs do. */
int sweepmap_is(struct sweepmap *m, int s, const char *name);

/* 1 if member key token k of a job is not a parameter (_id, sweep, spool). */
int sweepmap_reserved(const struct json *j, int k);

/* The table made at least once (the first walk reads jobs for read_ms at
 * most, the rest counted as unread). 0 or a negative errno. */
int sweepmap_ensure(struct sweepmap *m, struct spool *sp, int64_t read_ms);

/*
 * Append one page of the sweeps as GET /v1/sweeps answers it: at most
 * limit sweeps whose names sort after after (NULL: from the first), each
 * with its counts, rate, time left and parameters. *stale is set when the
 * table is older than its period (sweepmap_refresh). 0 or -ENOMEM.
 */
int sweepmap_json(struct sweepmap *m, const char *after, int limit,
		  struct buf *out, int *stale);

/* ---- on the loop thread -------------------------------------------------------- */

/* Remake the table in the background (a reader) unless a walk runs. */
void sweepmap_refresh(struct sweepmap *m);

#endif
