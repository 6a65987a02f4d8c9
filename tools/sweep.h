/*
 * sweep: expanding a sweep specification into jobs (spoolctl sweep).
 *
 * A spec is a JSON object:
 *   "name":   the sweep's name, stored in every job as "sweep" (required)
 *   "base":   the job every point starts from (an object with "scriptName")
 *   "grid":   {"param": [v1, v2, ...], ...}: every combination
 *   "random": {"count": N, "seed": S, "params": {"param": DIST, ...}}:
 *             N samples per grid point, DIST one of {"uniform": [lo, hi]},
 *             {"logUniform": [lo, hi]}, {"int": [lo, hi]}, {"choice": [v...]}
 *   "stop":   an early-stopping rule for every run (lib/stop.h), e.g.
 *             {"rule": "median", "key": "loss", "warmup": 5, "minRuns": 3}:
 *             written into each job as "spool": {"stop": ...}
 * Parameters are top-level members of the job; a value may be any JSON
 * value (to sweep a whole "hiddenLayers" list, give each list as a value).
 * Each job is written in canonical JSON and its id is derived from it, so a
 * sweep submitted twice names its jobs the same way twice.
 */
#ifndef SPOOL_SWEEP_H
#define SPOOL_SWEEP_H

#include <stddef.h>

#include "spool.h"

#define SWEEP_JOBS_MAX 100000

struct sweep_job {
	char id[SPOOL_ID_LEN + 1];
	char *json;		/* canonical, owned */
	size_t len;
};

struct sweep {
	char name[128];
	struct sweep_job *jobs;
	size_t n;
};

/* Expand spec into s. 0, or -EINVAL with the reason in err. */
int sweep_expand(const char *spec, size_t len, struct sweep *s, char *err,
		 size_t errlen);

void sweep_release(struct sweep *s);

#endif
