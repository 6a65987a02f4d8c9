/*
 * sweeps: GET /v1/sweeps (issue 14), one page of the sweeps with their
 * progress (counts per state), throughput, time left and parameters (which
 * of them vary), answered from the sweep table (sweepmap.c) on a reader.
 * The first request makes the table (reading jobs for a second at most);
 * an answer from a table past its period starts a walk in the background
 * (once the start-up load of the index is over). No walk is made at start.
 *
 * Layer: 4 handler
 */
#include <string.h>

#include "handler.h"

#define SWEEPS_PAGE_MAX	  1000		/* sweeps of one page */
#define FIRST_READ_MS	  1000		/* jobs read by the first table's walk */

struct sweeps_req {
	struct hop h;
	int limit;
	int has_after;
	char after[SPOOL_WORKER_MAX + 1];
	int stale;
};

#define sweeps_of(opp) container_of(hop_of(opp), struct sweeps_req, h)

static void run_sweeps(struct op *op, struct spool *sp)
{
	struct sweeps_req *r = sweeps_of(op);
	struct sweepmap *m = &r->h.held.srv->sweeps;
	int rc = sweepmap_ensure(m, sp, FIRST_READ_MS);

	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "walk the spool");
		return;
	}
	if (sweepmap_json(m, r->has_after ? r->after : NULL, r->limit,
			  &r->h.out, &r->stale) < 0) {
		buf_reset(&r->h.out);
		hop_error(&r->h, 500, "out of memory");
		return;
	}
	r->h.status = 200;
}

static void done_sweeps(struct op *op)
{
	struct sweeps_req *r = sweeps_of(op);
	/* not while the index of new/ loads: the walk would take a reader and
	 * the disk from it (the next request after the load refreshes) */
	if (r->h.status == 200 && r->stale && !r->h.held.srv->core.loading)
		sweepmap_refresh(&r->h.held.srv->sweeps);
	hop_reply(&r->h);
}

int sweeps_param(struct conn *c, const char *key, char out[SPOOL_WORKER_MAX + 1])
{
	int rc = query_get(c->req.query, key, out, SPOOL_WORKER_MAX + 1);
	if (rc < 0) {
		http_error(c, 400, "%s: a sweep's name, at most %d bytes", key,
			   SPOOL_WORKER_MAX);
		return -1;
	}
	return rc > 0;
}

void sweeps_list(struct conn *c)
{
	struct sweeps_req *r;
	char after[SPOOL_WORKER_MAX + 1];
	long limit;
	int has;

	if (query_int(c->req.query, "limit", 1, SWEEPS_PAGE_MAX, 100, &limit) < 0) {
		http_error(c, 400, "limit must be 1 to %d", SWEEPS_PAGE_MAX);
		return;
	}
	/* after="" is the page after the jobs without a sweep */
	if ((has = sweeps_param(c, "after", after)) < 0)
		return;
	if (!(r = hop_new(c, sizeof(*r), OP_READ, run_sweeps, done_sweeps)))
		return;
	r->limit = (int)limit;
	r->has_after = has;
	if (has)
		memcpy(r->after, after, sizeof(after));
	hop_submit(&r->h);
}
