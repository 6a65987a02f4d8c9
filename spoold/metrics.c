/*
 * metrics: counters kept on the loop thread and their Prometheus text.
 */
#include <stdio.h>
#include <string.h>

#include "spoold.h"

static const double lat_le[LAT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 5,
};

void metrics_request(struct metrics *m, int status, double seconds)
{
	int i;
	if (status < 100 || status > 599)
		status = 500;
	m->by_status[status]++;
	for (i = 0; i < LAT_BUCKETS && seconds > lat_le[i]; i++)
		;
	m->lat_bucket[i]++;
	m->lat_sum += seconds;
	m->lat_count++;
}

static void counter(struct buf *b, const char *name, const char *help,
		    uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help,
		   name, name, (unsigned long long)v);
}

static void gauge(struct buf *b, const char *name, const char *help, double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help,
		   name, name, v);
}

int metrics_text(struct server *srv, const long counts[ST_COUNT],
		 struct buf *b)
{
	const struct metrics *m = &srv->m;
	uint64_t cum = 0;
	int s, i;

	buf_puts(b, "# HELP spool_orders Orders in the spool, per state.\n"
		 "# TYPE spool_orders gauge\n");
	for (s = 0; s < ST_COUNT; s++)
		buf_printf(b, "spool_orders{state=\"%s\"} %ld\n",
			   spool_state_name(s), counts[s]);
	gauge(b, "spool_index_orders", "Orders in the daemon's claim index.",
	      (double)srv->ix.n);
	gauge(b, "spool_index_bytes", "Approximate heap used by the claim index.",
	      (double)index_bytes(&srv->ix));
	gauge(b, "spool_waiting_claims", "Long-polling claims waiting for work.",
	      srv->nwaiting);
	gauge(b, "spool_http_connections", "Open HTTP connections.",
	      srv->nconns);
	counter(b, "spool_submits_total", "Jobs submitted over HTTP.",
		m->submits);
	counter(b, "spool_claims_total", "Orders claimed through the daemon.",
		m->claims);
	counter(b, "spool_completions_total", "Claims completed.",
		m->completions);
	counter(b, "spool_failures_total", "Claims failed by their workers.",
		m->failures);
	counter(b, "spool_retries_total", "Failed claims queued again.",
		m->retries);
	counter(b, "spool_expired_leases_total", "Leases reaped after expiring.",
		m->expired);
	counter(b, "spool_ingested_total", "Dropped job files ingested.",
		m->ingested);
	counter(b, "spool_rejected_total", "Dropped job files rejected.",
		m->rejected);
	counter(b, "spool_lost_claims_total",
		"Claims that found the order taken by another claimant.",
		m->lost_claims);
	counter(b, "spool_commit_batches_total", "Group-commit batches run.",
		m->batches);
	counter(b, "spool_commit_ops_total", "Operations run in batches.",
		m->batch_ops);
	counter(b, "spool_commit_errors_total", "Batches whose commit failed.",
		m->commit_errors);
	buf_puts(b, "# HELP spool_http_requests_total HTTP requests answered, "
		 "by status.\n# TYPE spool_http_requests_total counter\n");
	for (s = 100; s < 600; s++)
		if (m->by_status[s])
			buf_printf(b, "spool_http_requests_total{code=\"%d\"} %llu\n",
				   s, (unsigned long long)m->by_status[s]);
	buf_puts(b, "# HELP spool_http_request_duration_seconds Time from a "
		 "request's first byte to its answer.\n"
		 "# TYPE spool_http_request_duration_seconds histogram\n");
	for (i = 0; i < LAT_BUCKETS; i++) {
		cum += m->lat_bucket[i];
		buf_printf(b, "spool_http_request_duration_seconds_bucket"
			   "{le=\"%g\"} %llu\n", lat_le[i],
			   (unsigned long long)cum);
	}
	cum += m->lat_bucket[LAT_BUCKETS];
	buf_printf(b, "spool_http_request_duration_seconds_bucket{le=\"+Inf\"} "
		   "%llu\n", (unsigned long long)cum);
	buf_printf(b, "spool_http_request_duration_seconds_sum %.6f\n"
		   "spool_http_request_duration_seconds_count %llu\n",
		   m->lat_sum, (unsigned long long)m->lat_count);
	return 0;
}
