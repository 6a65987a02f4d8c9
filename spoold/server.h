/*
 * server.h: the daemon as a whole (spoold.c, floor 5 "main"): its
 * configuration and struct server, which embeds each module's own struct
 * (the HTTP layer's, the disk's, the core's, the watch's). A module
 * touches only its own struct; the handlers read the others' counters and
 * call their functions.
 */
#ifndef SPOOLD_SERVER_H
#define SPOOLD_SERVER_H

#include <pthread.h>

#include "http.h"
#include "core.h"
#include "jobcache.h"
#include "sweepmap.h"

struct config {
	const char *spool_path;
	struct http_config http;
	char *token;			/* bearer token, or NULL (no auth) */
	size_t token_len;
	int lease_s;			/* default lease of /v1/claim */
	int seed_lease_s;		/* lease of /bored claims */
	int64_t reap_ms;		/* reaper period */
	int64_t rescan_ms;		/* rescan period, 0 = never */
	enum disk_sync sync;		/* --sync */
	int64_t sync_ms;		/* --sync interval=MS */
	int claims_synced;		/* --sync strict */
	int quiet;			/* no per-event log lines */
	int init;			/* --init: a non-empty directory may become a spool */
};

/* The handlers' counters (metrics.c shows them). */
struct hstats {
	uint64_t submits, completions, failures, retries;
};

/* What /metrics shows beyond the modules' own counters (metrics.c owns it;
 * the hooks are in handler.h). Set up on first use: a zeroed one is ready. */
#define METRICS_ROUTES	    64		/* entries of route.c's table, at most */
#define METRICS_METHODS	    8		/* unmatched requests: one per method class */
#define METRICS_CODES	    36		/* statuses counted apart; the last is "other" */

struct route_metrics {
	const char *route;		/* the pattern (static), NULL until first used */
	const char *method;
	uint64_t by_code[METRICS_CODES];
	struct histogram latency;
};

struct metrics {
	int ready;
	uint8_t code_ix[600];		/* status -> by_code index */
	struct route_metrics rt[METRICS_ROUTES + METRICS_METHODS];
	struct histogram queue_wait;	/* due (submitted, retry or not-before) -> claimed */
	struct histogram run;		/* claimed -> completed or failed */
	struct claimclock clock;	/* when each claim was handed out */
};

/* The early-stopping judge's series of finished runs (stop.c owns it): the
 * readers share it under mu; made on first use. */
struct stop_cache;
struct stops {
	pthread_mutex_t mu;
	struct stop_cache *cache;
};

struct server {
	uv_loop_t *loop;
	struct config cfg;
	struct logger log;
	struct http_server http;
	struct disk disk;
	struct core core;
	struct watch watch;
	struct sweepmap sweeps;		/* the page's sweep table (sweepmap.c) */
	struct hstats hs;
	struct metrics metrics;
	struct jobcache jobcache;	/* jobs just submitted, for their claims */
	struct stops stops;
	uv_signal_t sigterm, sigint;
	uv_timer_t reap_timer;
	int draining;
	int reaping;			/* a reap is in flight */
	int all_closed;			/* shutdown closed the server's handles */
	int64_t started_ms;
	uint64_t expired;		/* leases reaped */
};

#endif
