/*
 * stop: early stopping of training runs (issue 12). A job names a rule in
 * its options ("spool": {"stop": {...}}; a sweep spec's "stop" puts it in
 * every job of the sweep), and whoever runs the script judges each point of
 * the run's series (a JSON line with a numeric "step" or "epoch") by it:
 *
 *   {"rule": "median", "key": "loss", "mode": "min", "warmup": 5, "minRuns": 3}
 *	stop a run whose key at step k is worse than the median, at step k,
 *	of the finished runs of the same sweep (done, not pruned) that
 *	reached step k; not before step warmup, and only once minRuns such
 *	runs exist.
 *   {"rule": "threshold", "key": "loss", "mode": "min", "value": 2.0, "after": 10}
 *	stop a run whose key is worse than value, from step after on.
 *
 * "worse" is larger for mode "min" (the default), smaller for "max".
 * A finished run's value at step k is its value at its last point at or
 * before k, and it reached k when its last point's step is k or more.
 *
 * A stopped run is *pruned*: its order ends done, with an outcome carrying
 * "pruned": {"rule", "step", "value", "median" | "threshold", "runs"}
 * (spool-layout.md). The leaderboard leaves pruned runs out of its ranking
 * unless asked (board.c).
 */
#ifndef SPOOL_STOP_H
#define SPOOL_STOP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "spool.h"

#define STOP_KEY_MAX	 63		/* bytes of a metric's name */
#define STOP_SWEEP_MAX	 127		/* bytes of a sweep's name (tools/sweep.h) */
#define STOP_RUNS_MAX	 256		/* finished runs kept per sweep in a cache */
#define STOP_STEPS_MAX	 SPOOL_SERIES_LINES	/* points kept per run (the series' own cap) */
#define STOP_SWEEPS_MAX	 8		/* sweeps a cache holds at once */
#define STOP_SEEN_MAX	 (1 << 18)	/* done orders a sweep's cache remembers having read */
#define STOP_REFRESH_MS	 1000		/* a cache lists done/ at most this often (and
					 * waits 10 times what a listing cost) */
#define STOP_SERIES_READ_MAX (SPOOL_SERIES_MAX + 64)	/* one series, as read */

enum stop_kind { STOP_NONE, STOP_MEDIAN, STOP_THRESHOLD };

struct stop_rule {
	enum stop_kind kind;
	char key[STOP_KEY_MAX + 1];
	int maximize;		/* mode "max" */
	double warmup;		/* median: no stop before this step */
	int min_runs;		/* median: finished runs needed at a step */
	double value;		/* threshold */
	double after;		/* threshold: no stop before this step */
};

/* "median", "threshold" (or "none"). */
const char *stop_kind_name(enum stop_kind k);

/*
 * Parse the rule object at token t of j (strict: an unknown member, an
 * unknown rule, a missing key or value, a value that is not a finite
 * number are errors). 0, or -EINVAL with the reason in err, naming the
 * member as "spool"."stop"."...".
 */
int stop_rule_parse(const struct json *j, int t, struct stop_rule *r,
		    char *err, size_t errlen);

/*
 * The rule of job document json ("spool"."stop") and its "sweep" member
 * (sweep: STOP_SWEEP_MAX + 1 bytes, "" when it has none). 1 (a rule),
 * 0 (none), -EINVAL (one that does not parse: a job older than the check).
 */
int stop_rule_of_job(const char *json, size_t len, struct stop_rule *r,
		     char *sweep);

/*
 * Read a series point from one JSON line: 1 when it is an object with a
 * numeric "step" (else "epoch") and a finite numeric member key (*step and
 * *value set); 0 when it is not a point of that key (no or non-numeric
 * step, no or non-numeric value); never an error.
 */
int stop_point(const char *line, size_t n, const char *key, double *step,
	       double *value);

/* What judging one point said. */
struct stop_verdict {
	int stop;		/* 1: prune the run */
	double step, value;	/* the point judged */
	double ref;		/* the median or the threshold it was compared with */
	int has_ref;		/* a median was found (enough runs reached step) */
	int runs;		/* median: finished runs that reached step */
};

/*
 * The finished runs' series of a few sweeps, read once and refreshed (new
 * done orders only) at most every STOP_REFRESH_MS: judging a point does not
 * read a file. Bounded: STOP_SWEEPS_MAX sweeps, STOP_RUNS_MAX runs each,
 * STOP_STEPS_MAX points per run. Not thread-safe: one user at a time.
 */
struct stop_cache;

/* A new cache, or NULL (no memory). */
struct stop_cache *stop_cache_new(void);
void stop_cache_free(struct stop_cache *c);

/*
 * Judge the point (step, value) of order self_id by rule r, the run being
 * of sweep (the median rule compares it with that sweep's finished runs
 * in sp, through c; the threshold needs neither: c and sp may be NULL).
 * 0 (v filled), or a negative errno from reading the spool.
 */
int stop_judge(struct stop_cache *c, struct spool *sp, const struct stop_rule *r,
	       const char *sweep, const char *self_id, double step, double value,
	       struct stop_verdict *v);

/*
 * The outcome's "pruned" member of verdict v by rule r, as a JSON object
 * appended to b: {"rule","key","step","value","median"|"threshold","runs"}.
 */
int stop_pruned_json(const struct stop_rule *r, const struct stop_verdict *v,
		     struct buf *b);

/* 1 if outcome document s (n bytes) is a pruned run's (has "pruned"). */
int stop_outcome_pruned(const char *s, size_t n);

/*
 * What early stopping saved in sweep: for its pruned runs, the steps not
 * run (the median last step of its finished runs, less the step a pruned
 * run stopped at) and the wall seconds not run (the same fraction of the
 * finished runs' median wall time), as a JSON object appended to b:
 * {"pruned": n, "finished": n, "stepsRun": n, "stepsSaved": n,
 *  "wallSecondsSaved": x, "savedFraction": x}. 0 or a negative errno.
 */
int stop_savings_json(struct spool *sp, const char *sweep, struct buf *b);

#endif
