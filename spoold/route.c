/*
 * route: the routing table, the bearer-token check, and the callbacks the
 * HTTP layer is handed (route_callbacks): route (the token first, then the
 * table), request (the route's handler), and for a held request fin,
 * timeout and gone, passed to the request's own held_ops. API.md
 * describes every route.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "artifact.h"
#include "handler.h"

#define B_DEF HTTP_BODY_DEFAULT
static const struct route routes[] = {
	{ HTTP_GET,  "/", web_index, B_DEF },
	{ HTTP_GET,  "/static/:name", web_static, B_DEF },
	{ HTTP_GET,  "/healthz", metrics_healthz, B_DEF },
	{ HTTP_GET,  "/metrics", metrics_get, B_DEF },
	{ HTTP_POST, "/v1/jobs", jobs_post, HTTP_BODY_JOBS },
	{ HTTP_GET,  "/v1/jobs/:id", reads_job, B_DEF },
	{ HTTP_GET,  "/v1/jobs/:id/artifacts", artifacts_list, B_DEF },
	{ HTTP_GET,  "/v1/jobs/:id/artifacts/:name", artifacts_get, B_DEF },
	{ HTTP_POST, "/v1/jobs/:id/artifacts/:name", artifacts_put, ARTIFACT_FILE_MAX },
	{ HTTP_PUT,  "/v1/jobs/:id/artifacts/:name", artifacts_put, ARTIFACT_FILE_MAX },
	{ HTTP_GET,  "/v1/jobs/:id/checkpoint", checkpoint_get, B_DEF },
	{ HTTP_POST, "/v1/jobs/:id/checkpoint", checkpoint_put, CKPT_PACK_MAX },
	{ HTTP_PUT,  "/v1/jobs/:id/checkpoint", checkpoint_put, CKPT_PACK_MAX },
	{ HTTP_POST, "/v1/claim", claims_post, B_DEF },
	{ HTTP_GET,  "/v1/orders", pages_orders, B_DEF },
	{ HTTP_GET,  "/v1/orders/:id", reads_order, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/heartbeat", orders_heartbeat, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/complete", orders_complete, SPOOL_OUTCOME_MAX },
	{ HTTP_POST, "/v1/orders/:id/fail", orders_fail, SPOOL_OUTCOME_MAX },
	{ HTTP_POST, "/v1/orders/:id/release", orders_release, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/hold", orders_hold, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/requeue", orders_requeue, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/cancel", orders_cancel, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/log", logs_post, HTTP_BODY_LOG },
	{ HTTP_GET,  "/v1/orders/:id/log", logs_get, B_DEF },
	{ HTTP_POST, "/v1/orders/:id/series", logs_series_post, SPOOL_SERIES_MAX + (64 << 10) },
	{ HTTP_GET,  "/v1/orders/:id/metrics", logs_metrics, B_DEF },
	{ HTTP_GET,  "/v1/orders/:id/stop", stop_get, B_DEF },
	{ HTTP_GET,  "/v1/outcomes/:id", reads_outcome, B_DEF },
	{ HTTP_GET,  "/v1/workers", workers_list, B_DEF },
	{ HTTP_POST, "/v1/workers", workers_post, SPOOL_WORKER_DOC_MAX },
	{ HTTP_GET,  "/v1/stats", metrics_stats, B_DEF },
	{ HTTP_GET,  "/v1/leaderboard", reads_leaderboard, B_DEF },
	{ HTTP_GET,  "/v1/sweeps", sweeps_list, B_DEF },
	{ HTTP_GET,  "/v1/results", pages_results, B_DEF },
	{ HTTP_GET,  "/v1/orders/:id/attempts", pages_attempts, B_DEF },
	/* the seed's */
	{ HTTP_POST, "/job/create", seed_job_create, SPOOL_JOB_MAX },
	{ HTTP_POST, "/worker-node/create", seed_worker_create, SPOOL_WORKER_DOC_MAX },
	{ HTTP_POST, "/bored/:name", seed_bored, B_DEF },
	{ HTTP_GET,  "/retrieve/job/:id", seed_retrieve_job, B_DEF },
	{ HTTP_GET,  "/retrieve/order", seed_retrieve_orders, B_DEF },
	{ HTTP_POST, "/callback", seed_callback, SPOOL_OUTCOME_MAX },
};

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= METRICS_ROUTES,
	       "more routes than METRICS_ROUTES (server.h) counts apart");

static int route_match(const char *pattern, const struct request *req)
{
	const char *p = pattern + 1;
	int i = 0;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (i >= req->nseg)
			return 0;
		if (p[0] != ':' &&
		    (strlen(req->seg[i]) != len || strncmp(p, req->seg[i], len)))
			return 0;
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == req->nseg;
}

const struct route *route_find(struct request *req, int *status,
			       char *allow, size_t allowlen)
{
	size_t i;
	int known = 0;
	allow[0] = 0;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].pattern, req))
			continue;
		if (routes[i].method == req->method)
			return &routes[i];
		if (!strstr(allow, http_method_str(routes[i].method))) {
			size_t l = strlen(allow);
			snprintf(allow + l, allowlen - l, "%s%s", l ? ", " : "",
				 http_method_str(routes[i].method));
		}
		known = 1;
	}
	*status = known ? 405 : 404;
	return NULL;
}

int route_auth(const struct server *srv, const struct request *req)
{
	const char *a = req->auth;
	/* /healthz, and the page at /, which holds no data (it asks for the
	 * token when the API answers 401); a target that did not parse is
	 * neither, whatever its segments so far */
	if (!srv->cfg.token)
		return 0;
	if (!req->bad_target && web_public(req))
		return 0;
	if (!req->bad_target && (req->nseg == 0 ||
	    (req->nseg == 1 && !strcmp(req->seg[0], "healthz"))))
		return 0;
	if (strncasecmp(a, "Bearer ", 7))
		return 401;
	a += 7;
	while (*a == ' ')
		a++;
	return ct_equal(a, strlen(a), srv->cfg.token, srv->cfg.token_len) ?
		       0 : 401;
}

/* ---- the HTTP layer's callbacks ---------------------------------------------------- */

static int cb_route(struct conn *c)
{
	struct request *r = &c->req;
	const struct route *rt;
	char allow[64];
	int status = 0;

	/* before the routes and before the target's errors, so that without
	 * the token nothing is told, not even which paths exist or how many
	 * segments one may have */
	if ((status = route_auth(srv_of(c), r))) {
		/* (the route only labels the 401 in /metrics) */
		r->route = r->bad_target ? NULL : route_find(r, &status, allow, sizeof(allow));
		status = 401;
		r->err = 0;
		http_fail(c, status, "missing or wrong bearer token");
		return -1;
	}
	if (r->bad_target)
		return -1;
	rt = route_find(r, &status, allow, sizeof(allow));
	if (!rt) {
		if (status == 405) {
			http_fail(c, 405, "method %s not allowed here",
				  http_method_str(r->method));
			if (r->scratch)
				snprintf(r->scratch->allow, HTTP_ALLOW_MAX, "%s", allow);
		} else {
			char pr[80];
			http_fail(c, 404, "no such path '%s'",
				  printable(r->scratch && r->scratch->url.data ?
					    r->scratch->url.data : "", pr));
		}
		return -1;
	}
	r->route = rt;
	r->body_max = rt->body_max;
	return 0;
}

static void cb_request(struct conn *c)
{
	((const struct route *)c->req.route)->fn(c);
}

static void cb_fin(struct conn *c)
{
	struct held *h = c->held;
	h->ops->fin(h);
}

static void cb_timeout(struct conn *c)
{
	struct held *h = c->held;
	h->ops->timeout(h);
}

static int cb_gone(struct conn *c)
{
	struct held *h = c->held;
	if (h->ops->gone(h))
		return 1;
	return 0;
}

static void cb_answered(struct conn *c, int status, uint64_t ns)
{
	const struct route *rt = c->req.route;
	metrics_answered(c, rt ? (int)(rt - routes) : -1, rt ? rt->pattern : NULL,
			 status, ns);
}

/* (freed is the owner's: spoold.c sets its own) */
const struct http_callbacks route_callbacks = {
	cb_route, cb_request, cb_fin, cb_timeout, cb_gone, NULL, cb_answered,
};
