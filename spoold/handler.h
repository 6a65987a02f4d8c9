/*
 * handler.h: the handlers' contract (floor 4 "handler").
 *
 * route.c holds the table and is the HTTP layer's callbacks; one file per
 * resource answers its routes: jobs.c, claims.c, orders.c, reads.c,
 * workers.c, metrics.c, web.c (the page), sweeps.c and pages.c (the
 * page's lists), and seed.c, whose routes are adapters onto
 * the same functions. hop.c holds what they share: the request that
 * carries disk work and its answer (struct hop), and the checks of ids,
 * tokens and bodies. A handler runs on the loop thread: it checks
 * everything it can without the disk and answers bad input at once; the
 * rest becomes disk work (core.h) whose done function answers.
 */
#ifndef SPOOLD_HANDLER_H
#define SPOOLD_HANDLER_H

#include "server.h"

#define HTTP_BODY_JOBS	    (16 << 20)	/* POST /v1/jobs (bulk) */
#define HTTP_BODY_LOG	    (SPOOL_LOG_MAX + (64 << 10))
#define CLAIM_WAIT_MAX	    300		/* s, longest long-poll */
#define LIST_LIMIT_DEFAULT  100
#define LIST_LIMIT_MAX	    100000
#define LEADERBOARD_MAX	    1000
#define RESP_MAX	    (256 << 20)	/* ceiling on one answer */

/* ---- routes (route.c) ------------------------------------------------------------ */

typedef void (*route_fn)(struct conn *c);

struct route {
	int method;
	const char *pattern;		/* "/v1/orders/:id/heartbeat" */
	route_fn fn;
	size_t body_max;
};

/* The HTTP layer's callbacks (ud: the struct server). */
extern const struct http_callbacks route_callbacks;

/*
 * Find the route for method and the path segments of req. NULL and *status
 * 404 (no such path) or 405 (path known, method not: *allow names them).
 */
const struct route *route_find(struct request *req, int *status,
			       char *allow, size_t allowlen);

/* The bearer-token check (all paths but / and /healthz). 0 or 401. */
int route_auth(const struct server *srv, const struct request *req);

/* ---- a held request (hop.c) ------------------------------------------------------- */

/* What a held request does when its connection's state changes (http.h:
 * fin, timeout, gone). Every held request starts with a struct held. */
struct held;
struct held_ops {
	void (*fin)(struct held *h);
	void (*timeout)(struct held *h);
	int (*gone)(struct held *h);
};

struct held {
	const struct held_ops *ops;
	struct conn *c;
	struct server *srv;
};

/* The server behind c. */
struct server *srv_of(const struct conn *c);

/* ---- disk work with an answer (hop.c) ------------------------------------------------ */

/*
 * A request that is answered after disk work: embedded first in each
 * family's request struct. out is the answer's body, status and ctype its
 * status and type; run writes them on the disk thread, done (the family's)
 * may correct them after the commit and calls hop_reply.
 */
struct hop {
	struct held held;
	struct op op;
	int status;
	const char *ctype;		/* NULL = JSON */
	struct buf out;
};

#define hop_of(opp) container_of(opp, struct hop, op)

/* A zeroed request of size bytes (a family struct starting with a hop) for
 * c, or NULL after answering 500. */
void *hop_new(struct conn *c, size_t size, enum op_kind kind,
	      op_run_fn run, op_done_fn done);

/* Hold c and queue h's disk work. */
void hop_submit(struct hop *h);

/* Answer h's request (if its connection is still there) and free h. */
void hop_reply(struct hop *h);

/* A hop's done that only answers. */
void hop_done(struct op *op);

/* Free h without answering. */
void hop_free(struct hop *h);

/* Set h's answer to status and {"error": msg}. */
void hop_error(struct hop *h, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Map a negative errno from the library to a status and error answer. */
void hop_errno(struct hop *h, struct spool *sp, int rc, const char *what);

/* After the commit: a change that did not reach the disk is a 507 (full)
 * or 500 and is not visible. Returns 1 if it rewrote the answer. */
int hop_commit_failed(struct hop *h);

/* {"id": id, "state": st} 200. */
void hop_ok_state(struct hop *h, const char *id, enum spool_state st);

/* ---- checks of a request (hop.c); each answers 400 (or 413) and returns -1 ---- */

/* The body of c's request and its length ("" when none). */
const char *body_of(const struct conn *c, size_t *len);

/* Segment i of the path as an id into out. */
int seg_id(struct conn *c, int i, char out[SPOOL_ID_LEN + 1]);

/* The claim token from ?token= or X-Spool-Token: 1 found, 0 absent and not
 * required. */
int req_token(struct conn *c, char out[SPOOL_TOKEN_LEN + 1], int required);

/* The body must be one strict JSON object. */
int body_object(struct conn *c, const char *what);

/* The body as a parsed JSON object (j to release); 413 over the tokens. */
struct json;
int body_json(struct conn *c, const char *what, struct json *j);

/* ?lease= seconds, 1 to 30 days; absent gives def. */
int lease_param(struct conn *c, long def, int *out);

/* ---- the resources ------------------------------------------------------------------ */

/* jobs.c: POST /v1/jobs (one or an array) and the seed's /job/create. */
void jobs_post(struct conn *c);
void jobs_submit(struct conn *c, int seed);

/* claims.c: POST /v1/claim; claims_start is /bored's too. */
void claims_post(struct conn *c);
void claims_start(struct conn *c, const char *worker, int ntags,
		  char tagv[][SPOOL_TAG_MAX + 1], int lease_s, long wait_s,
		  int seed);

/* orders.c: the claim-token routes, the person-driven changes, logs. */
void orders_heartbeat(struct conn *c);
void orders_complete(struct conn *c);
void orders_fail(struct conn *c);
void orders_release(struct conn *c);
void orders_hold(struct conn *c);
void orders_requeue(struct conn *c);
void orders_cancel(struct conn *c);
void orders_log_put(struct conn *c);
/* The seed's callback: id's claim ended with the outcome in c's body
 * (failed says how), fenced by token (the assignmentId's; "" for a bare
 * jobId: only a seed claim) and attempt (0: any). */
void orders_callback(struct conn *c, const char *id, const char *token,
		     int attempt, int failed);

/* reads.c: GETs of one order, job, outcome, log; the lists. */
void reads_order(struct conn *c);
void reads_job(struct conn *c);
void reads_outcome(struct conn *c);
void reads_log(struct conn *c);
void reads_list(struct conn *c, long def_limit);
void reads_orders(struct conn *c);
void reads_leaderboard(struct conn *c);

/* logs.c: live logs and series (appends by offset, reads by offset),
 * GET /v1/orders/ID/metrics; the plain log routes fall through to orders.c
 * and reads.c. */
void logs_post(struct conn *c);
void logs_series_post(struct conn *c);
void logs_get(struct conn *c);
void logs_metrics(struct conn *c);
/* artifacts.c: a job's artifacts and checkpoint. */
void artifacts_list(struct conn *c);
void artifacts_get(struct conn *c);
void artifacts_put(struct conn *c);
void checkpoint_get(struct conn *c);
void checkpoint_put(struct conn *c);

/* stop.c: GET /v1/orders/ID/stop?step=S&value=V (early stopping, lib/stop.h) */
void stop_get(struct conn *c);
/* The server's struct stops: set up before serving, released at exit. */
void stops_init(struct stops *st);
void stops_release(struct stops *st);

/* workers.c: worker records. */
void workers_put(struct conn *c, int seed);
void workers_post(struct conn *c);
void workers_list(struct conn *c);

/* metrics.c: /healthz, /metrics, /v1/stats. */
void metrics_healthz(struct conn *c);
void metrics_get(struct conn *c);
void metrics_stats(struct conn *c);

/* metrics.c, the hooks (cheap: no allocation, no lock; the loop thread).
 * c's request was answered with status, ns after its first byte; route is
 * its index in route.c's table and pattern its pattern, or -1 and NULL
 * when no route matched. The time c was held waiting (metrics_wait_*) is
 * left out of its latency. */
void metrics_answered(struct conn *c, int route, const char *pattern,
		      int status, uint64_t ns);
/* c's request starts (or goes on) waiting for an event that is not its
 * own work: a long poll waits for an order. Idempotent. */
void metrics_wait_begin(struct conn *c);
/* ... and stops waiting: what follows is work again. Idempotent. */
void metrics_wait_end(struct conn *c);
/* The daemon handed out claim o (its queue wait; the run's start). */
void metrics_claimed(struct metrics *m, const struct order *o);
/* Claim o ended: ran (completed or failed: its run time is counted) or
 * not (released). */
void metrics_ended(struct metrics *m, const struct order *o, int ran);
/* Free what m holds (shutdown). */
void metrics_release(struct metrics *m);

/* web.c: the page, GET / and GET /static/NAME; web_public: req is one of
 * them (served without the token: they hold no data). */
void web_index(struct conn *c);
void web_static(struct conn *c);
int web_public(const struct request *req);

/* sweeps.c: GET /v1/sweeps; sweeps_param: the query's key as a sweep's
 * name into out (1 given, 0 not, -1 answered 400). */
void sweeps_list(struct conn *c);
int sweeps_param(struct conn *c, const char *key,
		 char out[SPOOL_WORKER_MAX + 1]);

/* pages.c: GET /v1/orders (paged with sweep, after or reason; else
 * reads_orders), GET /v1/results, GET /v1/orders/ID/attempts. */
void pages_orders(struct conn *c);
void pages_results(struct conn *c);
void pages_attempts(struct conn *c);

/* seed.c: the article's routes. */
void seed_job_create(struct conn *c);
void seed_worker_create(struct conn *c);
void seed_bored(struct conn *c);
void seed_retrieve_job(struct conn *c);
void seed_retrieve_orders(struct conn *c);
void seed_callback(struct conn *c);

#endif
