/*
 * base: the bottom floor of spoold, under every other file: the one
 * logger and small string helpers (query strings, percent-decoding, JSON
 * arrays, constant-time compare). Nothing here knows a connection, a
 * route or a claim.
 *
 * The floors of spoold, top to bottom (each file's header names its own;
 * tests/t-spoold-layers.sh checks that every call goes down):
 *
 *   5 main     spoold.c: options, the loop, timers, signals, shutdown
 *   4 handler  route.c (the table, auth, the HTTP callbacks), one file per
 *              resource: jobs.c, claims.c, orders.c, reads.c, workers.c,
 *              seed.c (the article's routes, adapters onto the same
 *              functions), metrics.c, web.c, sweeps.c, pages.c (the
 *              page); hop.c (what they share)
 *   3 core     core.c (the waiting claims, the claims made on the loop),
 *              watch.c (inotify, rescans), index.c (the claim order of
 *              new/), claimmap.c (order id -> its assigned/ name),
 *              disk.c (the writer's batches and the readers),
 *              sweepmap.c (order id -> sweep, the sweep table)
 *   3 http     http.c: bytes <-> requests, handed callbacks (beside core)
 *   1 base     say.c, util.c, histogram.c (Prometheus histograms),
 *              claimclock.c (when each claim was handed out)
 *
 * Headers, one per floor: base.h, http.h, core.h (and sweepmap.h, the
 * sweep table's), handler.h, server.h.
 */
#ifndef SPOOLD_BASE_H
#define SPOOLD_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "json_array.h"
#include "spool.h"
#include "buf.h"

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* ---- the logger (say.c) -------------------------------------------------------- */

struct logger {
	int quiet;		/* no per-event lines */
};

/* Log one event line on stderr (unless lg->quiet; lg may be NULL).
 * Thread-safe: one write per line. */
void say(const struct logger *lg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- helpers (util.c) ------------------------------------------------------------ */

/* Decode %XX and (with plus) '+' in place. -EINVAL on a bad escape or NUL. */
int url_decode(char *s, int plus);

/*
 * The value of key in a query string (not modified), decoded into out.
 * 1 found, 0 absent, -EINVAL bad escape, -E2BIG too long.
 */
int query_get(const char *query, const char *key, char *out, size_t cap);

/* An integer query value within [lo, hi]; absent gives def. 0 or -EINVAL. */
int query_int(const char *query, const char *key, long lo, long hi, long def,
	      long *out);

/* A member name asked for in a query (key, param): 1 to 63 of [A-Za-z0-9_.-]. */
int member_name_ok(const char *s);
/* The query's "key" (absent: def) into out, checked by member_name_ok. 0 or -EINVAL. */
int query_key(const char *query, const char *def, char out[64]);
/* The query's "order": asc (the default) or desc into *desc. 0 or -EINVAL. */
int query_order(const char *query, int *desc);

/* (the JSON array splitter is the library's: json_split_array, lib/json_array.h) */

/* Constant-time equality of two byte strings (time depends on lengths only). */
int ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Parse a comma list of tags into tagv; 0 or -EINVAL. */
int tags_parse(const char *s, char tagv[][SPOOL_TAG_MAX + 1], int *ntags);

/* "%s" of s for a message: at most 64 printable bytes, the rest elided. */
const char *printable(const char *s, char out[80]);

/* ---- histograms (histogram.c) ---------------------------------------------------- */

#define HISTOGRAM_MAX 24		/* bounds at most; one more bucket is +Inf */

/*
 * A Prometheus histogram: n upper bounds le[] (ascending, inclusive, owned
 * by the caller and static), one count per bucket plus +Inf, the sum and
 * count of what was observed. A zeroed struct is a histogram of no bounds
 * (everything in +Inf), so an owner that was never set up cannot crash.
 */
struct histogram {
	const double *le;
	int n;
	uint64_t bucket[HISTOGRAM_MAX + 1];	/* per bucket, not cumulative */
	double sum;
	uint64_t count;
};

/* Set h up with n bounds (more than HISTOGRAM_MAX are cut), all counts 0. */
void histogram_init(struct histogram *h, const double *le, int n);

/* Count v (seconds, say; a negative v counts as 0). No allocation. */
void histogram_observe(struct histogram *h, double v);

/* The bucket v falls in: the first i with v <= le[i], or n (+Inf). */
int histogram_bucket(const struct histogram *h, double v);

/* The cumulative count of buckets 0..i (i == n: all): Prometheus' le. */
uint64_t histogram_le(const struct histogram *h, int i);

/*
 * Append h's samples in the Prometheus text format under name: the
 * cumulative name_bucket{labels,le="..."} lines, +Inf, name_sum and
 * name_count. labels is "" or NULL, or label pairs without braces
 * (route="/x",method="GET"); the # HELP and # TYPE lines are the caller's.
 */
void histogram_write(const struct histogram *h, struct buf *b,
		     const char *name, const char *labels);

/* ---- when a claim was handed out (claimclock.c) ------------------------------------ */

#define CLAIMCLOCK_MAX (1u << 17)	/* claims timed at once, at most */

struct cc_slot;

/* Order id -> the time (ms) and attempt of the claim this daemon handed
 * out: a run's start, which the claimed name does not keep. */
struct claimclock {
	struct cc_slot *slot;		/* open addressing, a power of two */
	size_t cap, n;
	uint64_t untimed;		/* claims not remembered (the ceiling, memory) */
};

void claimclock_init(struct claimclock *cc);
void claimclock_release(struct claimclock *cc);

/* Remember that id's attempt was claimed at ms (replacing an older claim
 * of id). 0, -EINVAL (not an id), -ENOSPC (CLAIMCLOCK_MAX), -ENOMEM. */
int claimclock_put(struct claimclock *cc, const char *id, int attempt,
		   int64_t ms);

/* Forget id's claim; 1 with *ms (may be NULL) its claim time when it was
 * attempt's, 0 when none was remembered for that attempt. */
int claimclock_take(struct claimclock *cc, const char *id, int attempt,
		    int64_t *ms);

#endif
