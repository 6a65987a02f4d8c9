/*
 * stop: GET /v1/orders/ID/stop?step=S&value=V, early stopping for remote
 * runners. A runner whose job names a median rule ("spool"."stop",
 * lib/stop.h) asks, at a point of its run's series, whether to stop; the
 * boss judges the point against the finished runs of the job's sweep in
 * its spool, as a local runner does itself. The finished runs' series are
 * kept in one cache for the process (refreshed at most every second, new
 * done orders only), shared by the readers under a lock (the server's
 * struct stops): so that a sweep's runners asking every second cost no
 * re-reading of every series.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "stop.h"

struct stop_req {
	struct hop h;
	char id[SPOOL_ID_LEN + 1];
	double step, value;
};

#define stop_of(opp) container_of(hop_of(opp), struct stop_req, h)

static void run_stop(struct op *op, struct spool *sp)
{
	struct stop_req *q = stop_of(op);
	struct stops *st = &q->h.held.srv->stops;
	struct stop_rule rule;
	struct stop_verdict v;
	struct buf job;
	char sweep[STOP_SWEEP_MAX + 1];
	int rc;

	buf_init(&job, SPOOL_JOB_MAX + 64);
	rc = spool_read_job(sp, q->id, &job);
	if (rc == -ENOENT) {
		hop_error(&q->h, 404, "no job %s", q->id);
		goto out;
	}
	if (rc < 0) {
		hop_errno(&q->h, sp, rc, "read the job");
		goto out;
	}
	rc = stop_rule_of_job(job.data, job.len, &rule, sweep);
	if (rc <= 0) {
		hop_error(&q->h, 409, "job %s names no stopping rule (\"spool\".\"stop\")", q->id);
		goto out;
	}
	pthread_mutex_lock(&st->mu);
	if (!st->cache)
		st->cache = stop_cache_new();
	rc = st->cache ? stop_judge(st->cache, sp, &rule, sweep, q->id, q->step, q->value, &v) :
	     -ENOMEM;
	pthread_mutex_unlock(&st->mu);
	if (rc < 0) {
		hop_errno(&q->h, sp, rc, "judge the point");
		goto out;
	}
	buf_printf(&q->h.out, "{\"id\":\"%s\",\"stop\":%s,\"rule\":\"%s\",\"step\":%.17g,"
		   "\"value\":%.17g,", q->id, v.stop ? "true" : "false",
		   stop_kind_name(rule.kind), q->step, q->value);
	if (rule.kind == STOP_THRESHOLD)
		buf_printf(&q->h.out, "\"threshold\":%.17g}", v.ref);
	else if (v.has_ref)
		buf_printf(&q->h.out, "\"median\":%.17g,\"runs\":%d}", v.ref, v.runs);
	else	/* too few finished runs reached the step: no median yet */
		buf_printf(&q->h.out, "\"median\":null,\"runs\":%d}", v.runs);
	buf_puts(&q->h.out, "\n");
	q->h.status = 200;
out:
	buf_release(&job);
}

/* A finite number from ?name=. 0, or -1 after answering 400. */
static int num_param(struct conn *c, const char *name, double *out)
{
	char v[64], *end;
	int rc = query_get(c->req.query, name, v, sizeof(v));

	if (rc <= 0 || !v[0] || (*out = strtod(v, &end), *end) || !isfinite(*out)) {
		http_error(c, 400, "%s must be a finite number", name);
		return -1;
	}
	return 0;
}

void stops_init(struct stops *st)
{
	pthread_mutex_init(&st->mu, NULL);
	st->cache = NULL;
}

void stops_release(struct stops *st)
{
	stop_cache_free(st->cache);
	st->cache = NULL;
	pthread_mutex_destroy(&st->mu);
}

void stop_get(struct conn *c)
{
	struct stop_req *q;
	char id[SPOOL_ID_LEN + 1];
	double step, value;

	if (seg_id(c, 2, id) < 0 || num_param(c, "step", &step) < 0 ||
	    num_param(c, "value", &value) < 0)
		return;
	if (!(q = hop_new(c, sizeof(*q), OP_READ, run_stop, hop_done)))
		return;
	memcpy(q->id, id, sizeof(id));
	q->step = step;
	q->value = value;
	hop_submit(&q->h);
}
