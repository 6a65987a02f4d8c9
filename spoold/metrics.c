/*
 * metrics: /healthz, /metrics (Prometheus text) and /v1/stats. The
 * counts per state, the workers seen and the slots they keep busy come
 * from a reader; the rest is read from each module's own counters (http,
 * disk, core, watch, the handlers') and from this file's own struct
 * metrics, which the hooks below fill on the loop thread: requests per
 * route, method and status with their latency, and the histograms of a
 * claim's queue wait and a run's time. API.md lists every metric.
 *
 * A request's latency leaves out the time it was held waiting for work
 * (a long poll): from its first byte to the start of the wait, plus from
 * the end of the wait (an order for it, or its time up) to the answer. A
 * wait=20 claim answered 204 after 20 s is a fast request, not one in
 * +Inf; spool_waiting_claims shows the waiting.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "json.h"
#include "version.h"

#ifndef SPOOL_COMMIT
#define SPOOL_COMMIT "unknown"		/* the Makefile passes git's */
#endif

/* A worker is seen while its record is this fresh: the runner writes it
 * every 30 s (REGISTER_EVERY_MS, runner/main.c), so three missed. */
#define WORKER_SEEN_MS	    90000
#define WORKERS_MAX	    100000	/* records read per scrape, at most */
#define WORKERS_JSON_MAX    (64 << 20)	/* and their bytes */

/* Request latency, seconds: a claim answered from memory is tens of
 * microseconds, a leaderboard of a big spool seconds. */
static const double lat_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* Queue waits and runs, seconds: a millisecond (a test script) to a day
 * (a long training run). */
static const double job_le[] = {
	0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
	3600, 7200, 14400, 28800, 43200, 86400,
};

/* The statuses counted apart (the last index is "other"). */
static const int codes[METRICS_CODES - 1] = {
	100, 200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
	406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 429, 431,
	500, 501, 502, 503, 504, 505, 507,
};

/* The method classes of requests no route matched. */
static const int methods[METRICS_METHODS - 1] = {
	HTTP_GET, HTTP_POST, HTTP_HEAD, HTTP_PUT, HTTP_DELETE, HTTP_OPTIONS,
	HTTP_PATCH,
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void setup(struct metrics *m)
{
	int i;
	if (m->ready)
		return;
	memset(m->code_ix, METRICS_CODES - 1, sizeof(m->code_ix));
	for (i = 0; i < N(codes); i++)
		m->code_ix[codes[i]] = (uint8_t)i;
	histogram_init(&m->queue_wait, job_le, N(job_le));
	histogram_init(&m->run, job_le, N(job_le));
	m->ready = 1;
}

void metrics_release(struct metrics *m)
{
	claimclock_release(&m->clock);
}

/* ---- the hooks --------------------------------------------------------------------- */

void metrics_answered(struct conn *c, int route, const char *pattern,
		      int status, uint64_t ns)
{
	struct metrics *m = &srv_of(c)->metrics;
	struct route_metrics *rm;
	int i;

	setup(m);
	if (route < 0 || route >= METRICS_ROUTES || !pattern) {
		for (i = 0; i < N(methods) && methods[i] != c->req.method; i++)
			;
		rm = &m->rt[METRICS_ROUTES + i];
		if (!rm->route) {
			rm->route = "unmatched";
			rm->method = i < N(methods) ? http_method_str(methods[i]) : "other";
		}
	} else {
		rm = &m->rt[route];
		if (!rm->route) {
			rm->route = pattern;
			rm->method = http_method_str(c->req.method);
		}
	}
	if (!rm->latency.le)
		histogram_init(&rm->latency, lat_le, N(lat_le));
	metrics_wait_end(c);		/* answered while waiting: up to here */
	ns = ns > c->req.wait_ns ? ns - c->req.wait_ns : 0;
	rm->by_code[status >= 0 && status < 600 ? m->code_ix[status] :
		    METRICS_CODES - 1]++;
	histogram_observe(&rm->latency, (double)ns / 1e9);
}

void metrics_wait_begin(struct conn *c)
{
	if (!c->req.wait_t0)
		c->req.wait_t0 = uv_hrtime();
}

void metrics_wait_end(struct conn *c)
{
	if (c->req.wait_t0) {
		c->req.wait_ns += uv_hrtime() - c->req.wait_t0;
		c->req.wait_t0 = 0;
	}
}

void metrics_claimed(struct metrics *m, const struct order *o)
{
	int64_t now = now_ms();
	setup(m);
	/* from when it could first be claimed: its submission, or its
	 * not-before or retry time (the name's due) */
	histogram_observe(&m->queue_wait, (double)(now - o->n.due) / 1e3);
	claimclock_put(&m->clock, o->n.id, o->n.attempt, now);
}

void metrics_ended(struct metrics *m, const struct order *o, int ran)
{
	int64_t t0;
	setup(m);
	if (claimclock_take(&m->clock, o->n.id, o->n.attempt, &t0) && ran)
		histogram_observe(&m->run, (double)(now_ms() - t0) / 1e3);
}

void metrics_healthz(struct conn *c)
{
	static const char ok[] = "{\"ok\": true}\n";
	http_reply(c, 200, NULL, ok, sizeof(ok) - 1, NULL);
}

enum stats_kind { S_PROMETHEUS, S_JSON };

/* What the workers' records and the claims in assigned/ say. */
struct fleet {
	long seen, slots, busy;
	char (*names)[SPOOL_WORKER_MAX + 1];	/* the workers seen, sorted */
};

struct stats_req {
	struct hop h;
	enum stats_kind kind;
	int rc;
	long counts[ST_COUNT];
	int fleet_rc;
	struct fleet fl;
};

#define stats_of(opp) container_of(hop_of(opp), struct stats_req, h)

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A claim in assigned/ keeps one slot of its worker busy, if seen. */
static int visit_claim(void *arg, const struct order *o)
{
	struct fleet *fl = arg;
	if (o->n.claimed && fl->seen &&
	    bsearch(o->n.worker, fl->names, (size_t)fl->seen,
		    sizeof(*fl->names), by_name))
		fl->busy++;
	return 0;
}

/* One record: seen lately? Then its name and slots count. */
static void fleet_add(struct fleet *fl, const char *s, size_t len, int64_t now)
{
	char name[SPOOL_WORKER_MAX + 1], when[40];
	int64_t seen_ms, slots = 0;
	struct json j;
	int t;

	char err[8];

	if (json_parse(&j, s, len, 4096, err, sizeof(err)) < 0)
		return;
	if ((t = json_get(&j, 0, "name")) >= 0 &&
	    json_str(&j, t, name, sizeof(name)) >= 0 && worker_valid(name) &&
	    (t = json_get(&j, 0, "lastSeen")) >= 0 &&
	    json_str(&j, t, when, sizeof(when)) >= 0 &&
	    iso_parse(when, &seen_ms) == 0 && now - seen_ms <= WORKER_SEEN_MS) {
		if ((t = json_get(&j, 0, "slots")) < 0 || json_int(&j, t, &slots) < 0 ||
		    slots < 0 || slots > 1000000)
			slots = 0;
		memcpy(fl->names[fl->seen++], name, sizeof(name));
		fl->slots += (long)slots;
	}
	json_release(&j);
}

/* The workers seen, their slots, and how many are busy. 0 or errno. */
static int fleet_count(struct spool *sp, struct fleet *fl)
{
	size_t (*el)[2] = NULL;
	int64_t now = now_ms();
	struct buf b;
	long n, k;
	int rc;

	buf_init(&b, WORKERS_JSON_MAX);
	rc = spool_workers_json(sp, &b);
	n = rc < 0 ? rc : json_split_array(b.data, b.len, WORKERS_MAX, &el);
	if (n < 0) {
		buf_release(&b);
		return (int)n;
	}
	fl->names = n ? calloc((size_t)n, sizeof(*fl->names)) : NULL;
	if (n && !fl->names) {
		free(el);
		buf_release(&b);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++)
		fleet_add(fl, b.data + el[k][0], el[k][1], now);
	free(el);
	buf_release(&b);
	if (fl->seen)
		qsort(fl->names, (size_t)fl->seen, sizeof(*fl->names), by_name);
	return spool_scan(sp, ST_ASSIGNED, visit_claim, fl);
}

static void run_count(struct op *op, struct spool *sp)
{
	struct stats_req *r = stats_of(op);
	r->rc = spool_count(sp, r->counts);
	if (r->rc < 0) {
		hop_errno(&r->h, sp, r->rc, "count orders");
		return;
	}
	if (r->kind == S_PROMETHEUS)
		r->fleet_rc = fleet_count(sp, &r->fl);
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

static const char *code_str(int i, char out[8])
{
	if (i >= N(codes))
		return "other";
	snprintf(out, 8, "%d", codes[i]);
	return out;
}

/* Requests per route, method and status, and their latency. */
static void requests(const struct metrics *m, struct buf *b)
{
	char lab[160], cs[8];
	int i, k;

	buf_puts(b, "# HELP spool_http_requests_total HTTP requests answered, "
		 "by route pattern (\"unmatched\": no route), method and "
		 "status.\n# TYPE spool_http_requests_total counter\n");
	for (i = 0; i < METRICS_ROUTES + METRICS_METHODS; i++)
		for (k = 0; m->rt[i].route && k < METRICS_CODES; k++)
			if (m->rt[i].by_code[k])
				buf_printf(b, "spool_http_requests_total{route=\"%s\","
					   "method=\"%s\",code=\"%s\"} %llu\n",
					   m->rt[i].route, m->rt[i].method,
					   code_str(k, cs),
					   (unsigned long long)m->rt[i].by_code[k]);
	buf_puts(b, "# HELP spool_http_request_duration_seconds Time from a "
		 "request's first byte to its answer, less the time a long "
		 "poll waited for work.\n"
		 "# TYPE spool_http_request_duration_seconds histogram\n");
	for (i = 0; i < METRICS_ROUTES + METRICS_METHODS; i++) {
		if (!m->rt[i].route)
			continue;
		snprintf(lab, sizeof(lab), "route=\"%s\",method=\"%s\"",
			 m->rt[i].route, m->rt[i].method);
		histogram_write(&m->rt[i].latency, b,
				"spool_http_request_duration_seconds", lab);
	}
}

static void histogram(struct buf *b, const struct histogram *h,
		      const char *name, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	histogram_write(h, b, name, NULL);
}

static void prometheus(struct server *srv, const struct stats_req *r,
		       struct buf *b)
{
	const struct hstats *hs = &srv->hs;
	struct metrics *m = &srv->metrics;
	int64_t oldest = index_next_due(&srv->core.ix, INT64_MIN), now = now_ms();
	int s;

	setup(m);
	buf_printf(b, "# HELP spool_build_info The build of this spoold.\n"
		   "# TYPE spool_build_info gauge\n"
		   "spool_build_info{version=\"%s\",commit=\"%s\"} 1\n",
		   SPOOL_VERSION, SPOOL_COMMIT);
	buf_puts(b, "# HELP spool_orders Orders in the spool, per state.\n"
		 "# TYPE spool_orders gauge\n");
	for (s = 0; s < ST_COUNT; s++)
		buf_printf(b, "spool_orders{state=\"%s\"} %ld\n",
			   spool_state_name(s), r->counts[s]);
	gauge(b, "spool_oldest_queued_age_seconds", "Seconds since the "
	      "longest-waiting claimable order in the index could first be "
	      "claimed (0: none).", oldest < now ? (double)(now - oldest) / 1e3 : 0);
	if (r->fleet_rc >= 0) {
		gauge(b, "spool_workers_seen", "Workers whose record was "
		      "refreshed in the last 90 s.", (double)r->fl.seen);
		gauge(b, "spool_worker_slots", "Slots of the workers seen.",
		      (double)r->fl.slots);
		gauge(b, "spool_worker_slots_busy", "Claims in assigned/ held by "
		      "the workers seen (one slot each).", (double)r->fl.busy);
	}
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
	counter(b, "spool_untimed_claims_total", "Claims whose run time is not "
		"measured (more claims held at once than the daemon times).",
		m->clock.untimed);
	histogram(b, &m->queue_wait, "spool_queue_wait_seconds", "Time from "
		  "when an order could be claimed (submitted, or its not-before "
		  "or retry time) to its claim through this daemon.");
	histogram(b, &m->run, "spool_run_seconds", "Time from a claim through "
		  "this daemon to its complete or fail.");
	requests(m, b);
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
			prometheus(r->h.held.srv, r, &r->h.out);
			r->h.ctype = "text/plain; version=0.0.4";
		} else {
			stats_json(r->h.held.srv, r->counts, &r->h.out);
		}
		r->h.status = 200;
	}
	free(r->fl.names);
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
