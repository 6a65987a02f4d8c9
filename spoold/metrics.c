/*
 * metrics: /healthz, /metrics (Prometheus text) and /v1/stats. The
 * counts per state come from a reader; the rest is read from each
 * module's own counters (http, disk, core, watch, the handlers').
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

void metrics_healthz(struct conn *c)
{
	static const char ok[] = "{\"ok\": true}\n";
	http_reply(c, 200, NULL, ok, sizeof(ok) - 1, NULL);
}

enum stats_kind { S_PROMETHEUS, S_JSON };

struct stats_req {
	struct hop h;
	enum stats_kind kind;
	int rc;
	long counts[ST_COUNT];
};

#define stats_of(opp) container_of(hop_of(opp), struct stats_req, h)

static void run_count(struct op *op, struct spool *sp)
{
	struct stats_req *r = stats_of(op);
	r->rc = spool_count(sp, r->counts);
	if (r->rc < 0)
		hop_errno(&r->h, sp, r->rc, "count orders");
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

static void prometheus(const struct server *srv, const long counts[ST_COUNT],
		       struct buf *b)
{
	const struct http_stats *m = &srv->http.st;
	const struct hstats *hs = &srv->hs;
	uint64_t cum = 0;
	int s, i;

	buf_puts(b, "# HELP spool_orders Orders in the spool, per state.\n"
		 "# TYPE spool_orders gauge\n");
	for (s = 0; s < ST_COUNT; s++)
		buf_printf(b, "spool_orders{state=\"%s\"} %ld\n",
			   spool_state_name(s), counts[s]);
	gauge(b, "spool_index_orders", "Orders in the daemon's claim index.",
	      (double)srv->core.ix.n);
	gauge(b, "spool_index_bytes", "Approximate heap used by the claim index.",
	      (double)index_bytes(&srv->core.ix));
	gauge(b, "spool_waiting_claims", "Long-polling claims waiting for work.",
	      srv->core.nwaiting);
	gauge(b, "spool_http_connections", "Open HTTP connections.",
	      srv->http.nconns);
	counter(b, "spool_submits_total", "Jobs submitted over HTTP.",
		hs->submits);
	counter(b, "spool_claims_total", "Orders claimed through the daemon.",
		srv->core.claims);
	counter(b, "spool_completions_total", "Claims completed.",
		hs->completions);
	counter(b, "spool_failures_total", "Claims failed by their workers.",
		hs->failures);
	counter(b, "spool_retries_total", "Failed claims queued again.",
		hs->retries);
	counter(b, "spool_expired_leases_total", "Leases reaped after expiring.",
		srv->expired);
	counter(b, "spool_ingested_total", "Dropped job files ingested.",
		srv->watch.ingested);
	counter(b, "spool_rejected_total", "Dropped job files rejected.",
		srv->watch.rejected);
	counter(b, "spool_lost_claims_total",
		"Claims that found the order taken by another claimant.",
		srv->core.lost_claims);
	counter(b, "spool_commit_batches_total", "Group-commit batches run.",
		srv->disk.batches);
	counter(b, "spool_commit_ops_total", "Operations run in batches.",
		srv->disk.batch_ops);
	counter(b, "spool_commit_errors_total", "Batches whose commit failed.",
		srv->disk.commit_errors);
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
			   "{le=\"%g\"} %llu\n", http_lat_le[i],
			   (unsigned long long)cum);
	}
	cum += m->lat_bucket[LAT_BUCKETS];
	buf_printf(b, "spool_http_request_duration_seconds_bucket{le=\"+Inf\"} "
		   "%llu\n", (unsigned long long)cum);
	buf_printf(b, "spool_http_request_duration_seconds_sum %.6f\n"
		   "spool_http_request_duration_seconds_count %llu\n",
		   m->lat_sum, (unsigned long long)m->lat_count);
}

static void stats_json(const struct server *srv, const long n[ST_COUNT],
		       struct buf *b)
{
	const struct hstats *hs = &srv->hs;
	int s;

	buf_puts(b, "{\"orders\": {");
	for (s = 0; s < ST_COUNT; s++)
		buf_printf(b, "%s\"%s\": %ld", s ? ", " : "",
			   spool_state_name(s), n[s]);
	buf_printf(b, "}, \"queued\": %zu, \"waiting\": %d, "
		   "\"connections\": %d, \"indexBytes\": %zu, "
		   "\"uptimeS\": %lld, \"lastScanMs\": %lld, "
		   "\"lastScanOrders\": %zu, \"lastMergeMs\": %lld, ",
		   srv->core.ix.n, srv->core.nwaiting, srv->http.nconns,
		   index_bytes(&srv->core.ix),
		   (long long)((now_ms() - srv->started_ms) / 1000),
		   (long long)srv->watch.scan_ms, srv->watch.scan_n,
		   (long long)srv->watch.merge_ms);
	buf_printf(b, "\"submits\": %llu, \"claims\": %llu, "
		   "\"completions\": %llu, \"failures\": %llu, "
		   "\"expiredLeases\": %llu, \"ingested\": %llu, "
		   "\"rejected\": %llu, \"batches\": %llu, "
		   "\"batchOps\": %llu, \"flushes\": %llu, \"unflushed\": %s, \"claimsKnown\": %zu}\n",
		   (unsigned long long)hs->submits,
		   (unsigned long long)srv->core.claims,
		   (unsigned long long)hs->completions,
		   (unsigned long long)hs->failures,
		   (unsigned long long)srv->expired,
		   (unsigned long long)srv->watch.ingested,
		   (unsigned long long)srv->watch.rejected,
		   (unsigned long long)srv->disk.batches,
		   (unsigned long long)srv->disk.batch_ops,
		   (unsigned long long)srv->disk.flushes,
		   srv->disk.dirty || srv->disk.flushing ? "true" : "false",
		   srv->core.map.n);
}

static void done_stats(struct op *op)
{
	struct stats_req *r = stats_of(op);
	if (r->rc >= 0) {
		buf_reset(&r->h.out);
		if (r->kind == S_PROMETHEUS) {
			prometheus(r->h.held.srv, r->counts, &r->h.out);
			r->h.ctype = "text/plain; version=0.0.4";
		} else {
			stats_json(r->h.held.srv, r->counts, &r->h.out);
		}
		r->h.status = 200;
	}
	hop_reply(&r->h);
}

static void stats(struct conn *c, enum stats_kind kind)
{
	struct stats_req *r = hop_new(c, sizeof(*r), OP_READ, run_count,
				      done_stats);
	if (!r)
		return;
	r->kind = kind;
	hop_submit(&r->h);
}

void metrics_get(struct conn *c)
{
	stats(c, S_PROMETHEUS);
}

void metrics_stats(struct conn *c)
{
	stats(c, S_JSON);
}
