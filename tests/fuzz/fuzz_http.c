/*
 * fuzz_http: a libFuzzer target for spoold's HTTP request path, in process.
 *
 * The bytes go through http_feed (spoold/http.c), the function the daemon's
 * read callback calls on every byte it receives, so what is tested is the
 * daemon's own code: the http_parser callbacks and their ceilings (414,
 * 431, 413), the header checks (repeated single headers, a blank before the
 * colon), the target split and percent-decoding, and, through the route
 * callback the daemon hands the HTTP layer (route_callbacks), the token
 * check (route_auth) and the routing (route_find). No socket is opened and no
 * handler runs: where the daemon would answer, the target checks what the
 * request became, runs the query helpers of util.c on it as the handlers
 * would, and feeds the rest, as after an answer on a keep-alive connection.
 *
 * The first byte picks the configuration (a token or none, an allowed
 * origin, shutting down) and the second how the rest is cut into reads,
 * since the parser calls back once per piece. Beyond "no crash, no
 * sanitizer report" it checks the promises of API.md: nothing is routed
 * without the token when one is set (not even to a 404), a routed request
 * matches its route, its body stays under the route's limit, an error says
 * why in JSON-safe text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "../../spoold/handler.h"

#define TOKEN "0123456789abcdef"
#define ORIGIN "https://lab.example"

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_http: broken promise: %s\n", what);
		abort();
	}
}

/* The Authorization value carries the configured bearer token. */
static int has_token(const struct request *r)
{
	const char *a = r->auth;
	if (strncasecmp(a, "Bearer ", 7))
		return 0;
	for (a += 7; *a == ' '; a++)
		;
	return !strcmp(a, TOKEN);
}

/* The paths that need no token: /, /healthz and the page's /static/NAME. */
static int exempt(const struct request *r)
{
	return !r->bad_target &&
	       (r->nseg == 0 || (r->nseg == 1 && !strcmp(r->seg[0], "healthz")) ||
		(r->nseg == 2 && !strcmp(r->seg[0], "static")));
}

/* What the handlers do with a query: every helper of util.c on it. */
static void check_query(const char *q)
{
	static const char *const keys[] = {
		"worker", "wait", "tags", "lease", "token", "state", "limit",
		"key", "order", "sweep", "attempt",
		"after", "offset", "reason",	/* the page's lists */
	};
	char v[SPOOL_WORKER_MAX + 1], tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	char pr[80];
	size_t i;
	long x;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int rc = query_get(q, keys[i], v, sizeof(v));
		need(rc == 1 || rc == 0 || rc == -EINVAL || rc == -E2BIG,
		     "query_get returns 1, 0, -EINVAL or -E2BIG");
		if (rc == 1) {
			int nt = -1;
			need(strlen(v) < sizeof(v), "a query value fits its buffer");
			if (!strcmp(keys[i], "tags") && tags_parse(v, tagv, &nt) == 0) {
				int t;
				need(nt >= 0 && nt <= SPOOL_TAGS_MAX, "tag count in range");
				for (t = 0; t < nt; t++)
					need(tag_valid(tagv[t]), "a parsed tag is valid");
			}
			printable(v, pr);
			need(strlen(pr) <= 67, "printable keeps 64 bytes and '...'");
		}
		if (query_int(q, keys[i], -1000, 1000, 7, &x) == 0)
			need(x >= -1000 && x <= 1000, "query_int within its bounds");
	}
}

/* A body as POST /v1/jobs takes it apart: each element is JSON itself. */
static void check_body(const struct buf *b)
{
	size_t (*el)[2] = NULL;
	long n, i;

	if (!b->len || json_validate(b->data, b->len, NULL, 0) < 0)
		return;
	n = json_split_array(b->data, b->len, 1000, &el);
	need(n >= 0 || n == -EINVAL || n == -E2BIG || n == -ENOMEM,
	     "json_split_array: a count or an error of its contract");
	for (i = 0; i < n; i++) {
		need(el[i][0] < b->len && el[i][1] > 0 &&
		     el[i][0] + el[i][1] <= b->len, "an element lies in the body");
		need(json_validate(b->data + el[i][0], el[i][1], NULL, 0) == 0,
		     "each element of a valid array is valid JSON");
	}
	free(el);
}

static void check_error(const struct conn *c)
{
	const struct request *r = &c->req;
	struct buf b;
	size_t n = strnlen(r->errmsg, HTTP_ERRMSG_MAX);

	need(r->err == 400 || r->err == 401 || r->err == 404 || r->err == 405 ||
	     r->err == 413 || r->err == 414 || r->err == 431 || r->err == 503,
	     "an error status of API.md");
	need(n > 0 && n < HTTP_ERRMSG_MAX, "an error says why");
	buf_init(&b, 4 * HTTP_ERRMSG_MAX + 8);
	need(buf_json_str(&b, r->errmsg, n) == 0, "message quoted");
	need(json_validate(b.data, b.len, NULL, 0) == 0, "message is UTF-8");
	buf_release(&b);
	if (r->err == 401)
		need(srv_of(c)->cfg.token != NULL, "401 only with a token");
	/* API.md: without the token even unknown paths and bad targets are 401 */
	if ((r->err == 404 || r->err == 405) && srv_of(c)->cfg.token &&
	    r->method != HTTP_OPTIONS)
		need(has_token(r) || exempt(r), "nothing about paths told without the token");
	if (r->err == 405)
		need(r->allow[0] != 0, "405 names the methods");
}

/* A request the daemon would hand to its handler. */
static void check_request(struct conn *c)
{
	struct request *r = &c->req;
	const struct route *rt = r->route;
	int i;

	if (r->preflight && !r->err)
		need(r->method == HTTP_OPTIONS && !rt, "only OPTIONS is a preflight");

	need(r->scratch != NULL, "a request being handled has its scratch");
	need(r->scratch->hbytes <= (size_t)HTTP_HEADERS_MAX + HTTP_URL_MAX,
	     "header bytes bounded");
	need(r->scratch->url.len <= HTTP_URL_MAX, "target within 8 KiB");
	if (r->err) {
		check_error(c);
		return;
	}
	need(rt != NULL || r->preflight, "a request without an error has a route");
	need(!r->bad_target, "a routed target parsed");
	need(r->nseg >= 0 && r->nseg <= 8, "at most 8 segments");
	for (i = 0; i < r->nseg; i++)
		need(r->seg[i][0] != 0, "no empty segment");
	need(r->body.len <= r->body_max || (r->preflight &&
	     r->body.len <= HTTP_BODY_DEFAULT), "body under its route's limit");
	if (rt) {
		need(r->body_max == rt->body_max, "the route's body limit");
		int st = 0;
		char allow[64];
		need(rt->method == r->method, "the route's method is the request's");
		need(route_find(r, &st, allow, sizeof(allow)) == rt,
		     "routing is a function of method and path");
		if (srv_of(c)->cfg.token && !exempt(r))
			need(has_token(r), "routed only with the bearer token");
	}
	if (r->query)
		check_query(r->query);
	check_body(&r->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static int inited;
	static struct server srv;
	struct http_config hc;
	struct conn *c;
	size_t off = 2, piece;

	if (size < 2)
		return 0;
	if (!inited) {
		uv_loop_init(&loop);
		srv.loop = &loop;
		inited = 1;
	}
	srv.cfg.token = data[0] & 1 ? TOKEN : NULL;
	srv.cfg.token_len = srv.cfg.token ? strlen(TOKEN) : 0;
	memset(&hc, 0, sizeof(hc));
	hc.request_ms = 30000;
	hc.idle_ms = 60000;
	hc.allow_origin = data[0] & 2 ? ORIGIN : NULL;
	http_init(&srv.http, &loop, &hc, &route_callbacks, &srv, NULL);
	srv.http.draining = data[0] == 0xff;
	piece = data[1] ? data[1] : size;

	c = calloc(1, sizeof(*c));
	need(c != NULL, "memory");
	uv_tcp_init(&loop, &c->tcp);	/* never connected: a 100 Continue fails */
	http_conn_init(c, &srv.http);

	while (off < size) {
		size_t len = size - off < piece ? size - off : piece;
		enum http_feed st;
		size_t n = http_feed(c, (const char *)data + off, len, &st);

		need(n <= len, "http_feed takes at most what it is given");
		off += n;
		if (st == HTTP_FEED_ERROR) {
			need(c->req.err != 0, "a broken request has a status");
			check_error(c);
			break;
		}
		if (st == HTTP_FEED_REQUEST) {
			check_request(c);
			if (!c->keep_alive && !c->req.err)
				break;	/* the daemon closes after this answer */
			continue;
		}
		need(n == len, "without a complete request every byte is taken");
	}
	if (off >= size) {
		enum http_feed st;
		http_feed(c, NULL, 0, &st);	/* the peer's FIN */
		if (st == HTTP_FEED_ERROR)
			check_error(c);
	}

	uv_close((uv_handle_t *)&c->tcp, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	http_conn_release(c);
	free(c);
	return 0;
}
