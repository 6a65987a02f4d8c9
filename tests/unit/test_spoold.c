/*
 * Unit tests of spoold's edge (issue 10), without a socket: tables of raw
 * requests fed to http_feed, the function every byte the daemon reads goes
 * through, with the daemon's own route callbacks (route_callbacks), and
 * what each became (a route, its segments and query, or the status of an
 * error: 400, 401, 404, 405, 413, 414, 431, 503); the query-string and
 * percent-decoding helpers; and each handler's validation: the request is
 * handed to its handler as the daemon would, on a real spool in the test's
 * directory, and the status of the answer is read from the HTTP layer's
 * counters (the answer's write fails: the connection has no socket).
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "check.h"
#include "../../spoold/handler.h"
#include "sockless.h"

#define TOKEN "0123456789abcdef"
#define ID "0123456789abcdef01234567"

static uv_loop_t loop;
static struct server srv;

/* A server on a fresh spool "sp" (created), with or without a token. */
static void server_up(const char *token)
{
	static int was_up;
	struct http_config hc;

	if (was_up) {	/* the last test's server: what it kept in memory */
		jobcache_release(&srv.jobcache);
		stops_release(&srv.stops);
	}
	was_up = 1;
	uv_loop_init(&loop);
	memset(&srv, 0, sizeof(srv));
	jobcache_init(&srv.jobcache);
	stops_init(&srv.stops);
	srv.loop = &loop;
	srv.log.quiet = 1;
	srv.cfg.token = (char *)token;
	srv.cfg.token_len = token ? strlen(token) : 0;
	srv.cfg.lease_s = 300;
	srv.cfg.seed_lease_s = 600;
	memset(&hc, 0, sizeof(hc));
	hc.request_ms = 30000;
	hc.idle_ms = 60000;
	hc.max_conns = 10;
	http_init(&srv.http, &loop, &hc, &route_callbacks, &srv, &srv.log);
	CHECK_INT(0, disk_open(&srv.disk, &loop, "sp", DISK_SYNC_NONE, 0, &srv.log));
	loop.data = &srv.disk;
	CHECK_INT(0, core_open(&srv.core, &loop, "sp", &srv.disk, 1, 0, &srv.log));
}

/* Feed all of s (in pieces of piece bytes, 0: whole) until a request is
 * complete or the framing breaks; *used gets the bytes taken. */
static enum http_feed feed(struct conn *c, const char *s, size_t piece,
			   size_t *used)
{
	size_t len = strlen(s), off = 0;
	enum http_feed st = HTTP_FEED_MORE;
	if (!piece)
		piece = len ? len : 1;
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		off += http_feed(c, s + off, n, &st);
		if (st != HTTP_FEED_MORE)
			break;
	}
	if (used)
		*used = off;
	return st;
}

/* ---- the HTTP edge: what a request becomes ----------------------------------------- */

struct edge_case {
	const char *req;
	enum http_feed want;		/* REQUEST (err may be a soft one) or ERROR */
	int err;			/* 0: routed */
	const char *pattern;		/* the route, when routed */
	const char *seg;		/* the last segment, decoded ("" none) */
	const char *query;		/* the raw query ("" none) */
	const char *body;		/* the body read ("" none) */
};

static const struct edge_case edge[] = {
	{ "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/healthz", "healthz", "", "" },
	{ "GET / HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0, "/", "", "", "" },
	{ "GET /v1/orders/" ID " HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/v1/orders/:id", ID, "", "" },
	{ "GET /v1/orders/" ID "/ HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/v1/orders/:id", ID, "", "" },
	{ "POST /v1/claim?worker=w&wait=3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	  HTTP_FEED_REQUEST, 0, "/v1/claim", "claim", "worker=w&wait=3", "" },
	/* percent-decoding after the split: %2F cannot make a segment */
	{ "GET /v1/jobs/a%2Fb HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/v1/jobs/:id", "a/b", "", "" },
	{ "GET /v1/jobs/%30%31 HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/v1/jobs/:id", "01", "", "" },
	{ "GET /v1/jobs/a+b?x=a+b HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/v1/jobs/:id", "a+b", "x=a+b", "" },
	{ "GET /v1/jobs/%zz HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 400, NULL, "", "", "" },
	{ "GET /v1/jobs/%0 HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 400, NULL, "", "", "" },
	{ "GET /v1/jobs/a%00b HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 400, NULL, "", "", "" },
	/* segments: empty ones and more than eight name nothing */
	{ "GET /v1//jobs HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 404, NULL, "", "", "" },
	{ "GET /a/b/c/d/e/f/g/h/i HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 404, NULL, "", "", "" },
	{ "GET /nowhere HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 404, NULL, "", "", "" },
	{ "GET http://host/healthz HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  "/healthz", "healthz", "", "" },
	{ "GET * HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 400, NULL, "", "", "" },
	/* methods */
	{ "DELETE /v1/jobs HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 405, NULL, "", "", "" },
	{ "GET /v1/claim HTTP/1.1\r\n\r\n", HTTP_FEED_REQUEST, 405, NULL, "", "", "" },
	{ "OPTIONS /v1/jobs HTTP/1.1\r\nOrigin: o\r\n\r\n", HTTP_FEED_REQUEST, 0,
	  NULL, "jobs", "", "" },
	/* bodies: framed by length or chunks, within the route's cap */
	{ "POST /v1/jobs HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
	  HTTP_FEED_REQUEST, 0, "/v1/jobs", "jobs", "", "hello" },
	{ "POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", HTTP_FEED_REQUEST, 0, "/v1/jobs",
	  "jobs", "", "abcde" },
	{ "POST /v1/claim HTTP/1.1\r\nContent-Length: 70000\r\n\r\n",
	  HTTP_FEED_ERROR, 413, NULL, "", "", "" },
	{ "POST /job/create HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n",
	  HTTP_FEED_ERROR, 413, NULL, "", "", "" },
	{ "POST /v1/jobs HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	  HTTP_FEED_ERROR, 400, NULL, "", "", "" },
	/* headers */
	{ "GET /healthz HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
	  HTTP_FEED_ERROR, 400, NULL, "", "", "" },
	{ "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_FEED_ERROR, 400, NULL,
	  "", "", "" },
	{ "GET /healthz HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
	  HTTP_FEED_ERROR, 400, NULL, "", "", "" },
	{ "BREW /healthz HTTP/1.1\r\n\r\n", HTTP_FEED_ERROR, 400, NULL, "", "", "" },
};

TEST(edge_table)
{
	size_t i;
	server_up(NULL);
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		const struct edge_case *e = &edge[i];
		struct conn *c = sockless_conn(&loop, &srv.http);
		const struct route *rt;
		enum http_feed st = feed(c, e->req, 0, NULL);
		if (st != e->want)
			FAILF("case %zu (%.40s): feed %d, want %d (err %d: %s)", i,
			      e->req, st, e->want, c->req.err, c->req.errmsg);
		if (c->req.err != e->err)
			FAILF("case %zu (%.40s): err %d, want %d (%s)", i, e->req,
			      c->req.err, e->err, c->req.errmsg);
		rt = c->req.route;
		if (!e->err && e->pattern) {
			CHECK(rt != NULL);
			CHECK_STR(e->pattern, rt->pattern);
		}
		if (!e->err && !e->pattern)
			CHECK(c->req.preflight);
		if (!e->err) {
			CHECK_STR(e->seg, c->req.nseg ? c->req.seg[c->req.nseg - 1] : "");
			CHECK_STR(e->query, c->req.query ? c->req.query : "");
			CHECK_INT(strlen(e->body), c->req.body.len);
			CHECK(!c->req.body.len ||
			      !memcmp(e->body, c->req.body.data, c->req.body.len));
		}
		if (e->err)
			CHECK(c->req.errmsg[0] != 0);
		sockless_drop(&loop, c);
	}
}

/* The ceilings: target 414, header bytes and lines 431. */
TEST(edge_limits)
{
	struct { size_t url, hbytes, hlines; int want; } t[] = {
		{ HTTP_URL_MAX - 100, 0, 0, 0 },
		{ HTTP_URL_MAX + 1, 0, 0, 414 },
		{ 10, HTTP_HEADERS_MAX - 1000, 1, 0 },
		{ 10, HTTP_HEADERS_MAX + 10, 1, 431 },
		{ 10, 0, HTTP_NHEADERS_MAX - 1, 0 },
		{ 10, 0, HTTP_NHEADERS_MAX + 1, 431 },
	};
	size_t i, k;
	server_up(NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b;
		struct conn *c = sockless_conn(&loop, &srv.http);
		enum http_feed st;
		buf_init(&b, 1 << 20);
		buf_puts(&b, "GET /v1/jobs/");
		for (k = 0; k < t[i].url; k++)
			buf_puts(&b, "a");
		buf_puts(&b, " HTTP/1.1\r\n");
		if (t[i].hbytes) {
			buf_puts(&b, "X-Big: ");
			for (k = 0; k < t[i].hbytes; k++)
				buf_puts(&b, "b");
			buf_puts(&b, "\r\n");
		}
		for (k = 0; k < t[i].hlines; k++)
			buf_printf(&b, "X-%zu: v\r\n", k);
		buf_puts(&b, "\r\n");
		st = feed(c, b.data, 0, NULL);
		if (t[i].want) {
			CHECK_INT(HTTP_FEED_ERROR, st);
			CHECK_INT(t[i].want, c->req.err);
		} else {
			CHECK_INT(HTTP_FEED_REQUEST, st);
			CHECK_INT(0, c->req.err);
		}
		buf_release(&b);
		sockless_drop(&loop, c);
	}
}

/* Framing: byte by byte, pipelined, cut short. */
TEST(edge_framing)
{
	static const char two[] =
		"POST /v1/jobs HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
		"GET /healthz HTTP/1.1\r\n\r\n";
	const struct route *rt;
	struct conn *c;
	size_t used, piece;
	enum http_feed st;

	server_up(NULL);
	for (piece = 1; piece <= 7; piece += 3) {
		c = sockless_conn(&loop, &srv.http);
		st = feed(c, two, piece, &used);
		CHECK_INT(HTTP_FEED_REQUEST, st);
		rt = c->req.route;
		CHECK_STR("/v1/jobs", rt->pattern);
		CHECK_INT(2, c->req.body.len);
		CHECK(used < strlen(two));
		/* the next request waits in the buffer until this one is answered */
		st = feed(c, two + used, 0, NULL);
		CHECK_INT(HTTP_FEED_REQUEST, st);
		rt = c->req.route;
		CHECK_STR("/healthz", rt->pattern);
		sockless_drop(&loop, c);
	}
	/* the peer's FIN in the middle of a body: a broken request */
	c = sockless_conn(&loop, &srv.http);
	st = feed(c, "POST /v1/jobs HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 0, NULL);
	CHECK_INT(HTTP_FEED_MORE, st);
	http_feed(c, NULL, 0, &st);
	CHECK_INT(HTTP_FEED_ERROR, st);
	CHECK(c->req.err != 0);
	sockless_drop(&loop, c);
	/* shutting down: 503 */
	srv.http.draining = 1;
	c = sockless_conn(&loop, &srv.http);
	st = feed(c, "GET /healthz HTTP/1.1\r\n\r\n", 0, NULL);
	CHECK_INT(HTTP_FEED_ERROR, st);
	CHECK_INT(503, c->req.err);
	sockless_drop(&loop, c);
}

/* With a token: nothing is routed without it, not even to a 404. */
TEST(edge_auth)
{
	static const struct { const char *req; int err; } t[] = {
		{ "GET /v1/stats HTTP/1.1\r\n\r\n", 401 },
		{ "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer wrongwrongwrong1\r\n\r\n", 401 },
		{ "GET /v1/stats HTTP/1.1\r\nAuthorization: Basic " TOKEN "\r\n\r\n", 401 },
		{ "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer " TOKEN "x\r\n\r\n", 401 },
		{ "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer " TOKEN "\r\n\r\n", 0 },
		{ "GET /v1/stats HTTP/1.1\r\nAuthorization: bearer  " TOKEN "\r\n\r\n", 0 },
		{ "GET /nowhere HTTP/1.1\r\n\r\n", 401 },
		{ "GET /v1/jobs/%zz HTTP/1.1\r\n\r\n", 401 },
		{ "GET /nowhere HTTP/1.1\r\nAuthorization: Bearer " TOKEN "\r\n\r\n", 404 },
		{ "GET /healthz HTTP/1.1\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\n\r\n", 0 },
		{ "GET /healthz/x HTTP/1.1\r\n\r\n", 401 },
	};
	size_t i;
	server_up(TOKEN);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct conn *c = sockless_conn(&loop, &srv.http);
		enum http_feed st = feed(c, t[i].req, 0, NULL);
		CHECK_INT(HTTP_FEED_REQUEST, st);
		if (c->req.err != t[i].err)
			FAILF("case %zu (%s): err %d, want %d", i, t[i].req,
			      c->req.err, t[i].err);
		sockless_drop(&loop, c);
	}
}

/* ---- query strings and percent-decoding ------------------------------------------ */

TEST(query_table)
{
	static const struct { const char *q, *key; int rc; const char *v; } t[] = {
		{ "worker=w1&wait=3", "worker", 1, "w1" },
		{ "worker=w1&wait=3", "wait", 1, "3" },
		{ "worker=w1&wait=3", "tags", 0, "" },
		{ "a=1&ab=2", "ab", 1, "2" },
		{ "ab=2&a=1", "a", 1, "1" },
		{ "flag", "flag", 1, "" },
		{ "x=a+b%20c", "x", 1, "a b c" },
		{ "x=%41%42", "x", 1, "AB" },
		{ "x=%4", "x", -EINVAL, "" },
		{ "x=%00", "x", -EINVAL, "" },
		{ "x=%gg", "x", -EINVAL, "" },
		{ "x=0123456789abcdef0123456789abcdef", "x", -E2BIG, "" },
		{ "", "x", 0, "" },
	};
	char v[32];
	size_t i;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = query_get(t[i].q, t[i].key, v, sizeof(v));
		if (rc != t[i].rc)
			FAILF("case %zu (%s %s): rc %d, want %d", i, t[i].q,
			      t[i].key, rc, t[i].rc);
		if (rc == 1)
			CHECK_STR(t[i].v, v);
	}
}

TEST(query_int_table)
{
	static const struct { const char *q; long lo, hi, def; int rc; long v; } t[] = {
		{ "n=5", 0, 10, 1, 0, 5 },
		{ "", 0, 10, 7, 0, 7 },
		{ "n=", 0, 10, 7, -EINVAL, 0 },
		{ "n=11", 0, 10, 7, -EINVAL, 0 },
		{ "n=-1", 0, 10, 7, -EINVAL, 0 },
		{ "n=3x", 0, 10, 7, -EINVAL, 0 },
		{ "n=99999999999999999999", 0, 10, 7, -EINVAL, 0 },
		{ "n=%35", 0, 10, 7, 0, 5 },
	};
	size_t i;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long v = -42;
		int rc = query_int(t[i].q, "n", t[i].lo, t[i].hi, t[i].def, &v);
		if (rc != t[i].rc)
			FAILF("case %zu (%s): rc %d, want %d", i, t[i].q, rc, t[i].rc);
		if (!rc)
			CHECK_INT(t[i].v, v);
	}
}

TEST(decode_and_split)
{
	static const struct { const char *in; int plus; int rc; const char *out; } d[] = {
		{ "a%2Fb", 0, 0, "a/b" },
		{ "a+b", 0, 0, "a+b" },
		{ "a+b", 1, 0, "a b" },
		{ "%e2%82%ac", 0, 0, "\xe2\x82\xac" },
		{ "%", 0, -EINVAL, "" },
		{ "%%", 0, -EINVAL, "" },
		{ "%00", 0, -EINVAL, "" },
	};
	static const struct { const char *json; long n; } a[] = {
		{ "[]", 0 },
		{ "[{}]", 1 },
		{ " [ {\"a\": [1, 2]}, \"x,]\", 3 ] ", 3 },
		{ "{}", -EINVAL },
	};
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	size_t i;
	int nt;
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		char s[32];
		snprintf(s, sizeof(s), "%s", d[i].in);
		CHECK_INT(d[i].rc, url_decode(s, d[i].plus));
		if (!d[i].rc)
			CHECK_STR(d[i].out, s);
	}
	for (i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		size_t (*el)[2] = NULL;
		CHECK_INT(a[i].n, json_split_array(a[i].json, strlen(a[i].json), 10, &el));
		free(el);
	}
	{
		size_t (*el)[2] = NULL;
		CHECK_INT(-E2BIG, json_split_array("[1,2,3]", 7, 2, &el));
	}
	CHECK_INT(0, tags_parse("gpu,cpu,,x:1", tagv, &nt));
	CHECK_INT(3, nt);
	CHECK_STR("x:1", tagv[2]);
	CHECK_INT(-EINVAL, tags_parse("a b", tagv, &nt));
	CHECK_INT(-EINVAL, tags_parse("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", tagv, &nt));
	CHECK_INT(-EINVAL, tags_parse("0123456789012345678901234567890123", tagv, &nt));
	CHECK(ct_equal("abc", 3, "abc", 3));
	CHECK(!ct_equal("abd", 3, "abc", 3));
	CHECK(!ct_equal("ab", 2, "abc", 3));
}

/* ---- each handler's validation ----------------------------------------------------- */

/* Hand req to its handler as the daemon would; the status it answered. */
static int answer(const char *req)
{
	struct http_stats before = srv.http.st;
	struct conn *c = sockless_conn(&loop, &srv.http);
	enum http_feed st = feed(c, req, 0, NULL);
	int s;

	if (st != HTTP_FEED_REQUEST || c->req.err) {
		int err = c->req.err;
		sockless_drop(&loop, c);
		return -err;	/* refused by the HTTP layer itself */
	}
	route_callbacks.request(c);	/* answers, now or after disk work */
	uv_run(&loop, UV_RUN_DEFAULT);	/* c is freed once answered */
	for (s = 100; s < 600; s++)
		if (srv.http.st.by_status[s] != before.by_status[s])
			return s;
	FAILF("no answer to %.60s", req);
	return 0;
}

static char *post(const char *target, const char *body)
{
	static char b[4096];
	snprintf(b, sizeof(b), "POST %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
		 target, strlen(body), body);
	return b;
}

static char *get(const char *target)
{
	static char b[4096];
	snprintf(b, sizeof(b), "GET %s HTTP/1.1\r\n\r\n", target);
	return b;
}

struct vcase {
	int post;			/* POST with body, else GET */
	const char *target;
	const char *body;
	int want;
};

static const struct vcase valid[] = {
	/* jobs */
	{ 1, "/v1/jobs", "", 400 },
	{ 1, "/v1/jobs", "{", 400 },
	{ 1, "/v1/jobs", "[]", 400 },
	{ 1, "/v1/jobs", "3", 400 },
	{ 1, "/v1/jobs", "{\"x\": 1}", 400 },
	{ 1, "/v1/jobs", "[{\"scriptName\": \"a.py\"}, {}]", 400 },
	{ 1, "/v1/jobs", "{\"scriptName\": \"a.py\", \"spool\": {\"priority\": 99999}}", 400 },
	{ 1, "/v1/jobs", "{\"scriptName\": \"a.py\", \"spool\": {\"bogus\": 1}}", 400 },
	{ 1, "/job/create", "[{\"scriptName\": \"a.py\"}]", 400 },
	/* claims */
	{ 1, "/v1/claim", "", 400 },
	{ 1, "/v1/claim?worker=", "", 400 },
	{ 1, "/v1/claim?worker=a%20b", "", 400 },
	{ 1, "/v1/claim?worker=-w", "", 400 },
	{ 1, "/v1/claim?worker=w&wait=-1", "", 400 },
	{ 1, "/v1/claim?worker=w&wait=x", "", 400 },
	{ 1, "/v1/claim?worker=w&tags=a%20b", "", 400 },
	{ 1, "/v1/claim?worker=w&tags=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "", 400 },
	{ 1, "/v1/claim?worker=w&lease=0", "", 400 },
	{ 1, "/v1/claim?worker=w&lease=2592001", "", 400 },
	{ 1, "/bored/a%20b", "", 400 },
	/* claim-token routes */
	{ 1, "/v1/orders/xyz/complete?token=0123456789abcdef", "{}", 400 },
	{ 1, "/v1/orders/" ID "/complete", "{}", 400 },
	{ 1, "/v1/orders/" ID "/complete?token=0123", "{}", 400 },
	{ 1, "/v1/orders/" ID "/complete?token=0123456789ABCDEF", "{}", 400 },
	{ 1, "/v1/orders/" ID "/complete?token=0123456789abcdef", "", 400 },
	{ 1, "/v1/orders/" ID "/complete?token=0123456789abcdef", "[1]", 400 },
	{ 1, "/v1/orders/" ID "/complete?token=0123456789abcdef", "{", 400 },
	{ 1, "/v1/orders/" ID "/fail?token=0123456789abcdef", "nope", 400 },
	{ 1, "/v1/orders/" ID "/heartbeat?token=0123456789abcdef&lease=0", "", 400 },
	{ 1, "/v1/orders/" ID "/heartbeat", "", 400 },
	{ 1, "/v1/orders/" ID "/log?token=0123456789abcdef&attempt=0", "x", 400 },
	{ 1, "/v1/orders/" ID "/log?token=0123456789abcdef&attempt=1000", "x", 400 },
	{ 1, "/v1/orders/" ID "x/hold", "", 400 },
	/* ... and well-formed ones for an order that does not exist */
	{ 1, "/v1/orders/" ID "/complete?token=0123456789abcdef", "{}", 404 },
	{ 1, "/v1/orders/" ID "/heartbeat?token=0123456789abcdef", "", 404 },
	{ 1, "/v1/orders/" ID "/cancel", "", 404 },
	/* reads */
	{ 0, "/v1/jobs/xyz", NULL, 400 },
	{ 0, "/v1/jobs/" ID, NULL, 404 },
	{ 0, "/v1/orders/" ID, NULL, 404 },
	{ 0, "/v1/outcomes/" ID, NULL, 404 },
	{ 0, "/v1/orders?state=bogus", NULL, 400 },
	{ 0, "/v1/orders?limit=0", NULL, 400 },
	{ 0, "/v1/orders?limit=100001", NULL, 400 },
	{ 0, "/v1/orders?state=new&limit=5", NULL, 200 },
	{ 0, "/v1/leaderboard?key=a%20b", NULL, 400 },
	{ 0, "/v1/leaderboard?order=up", NULL, 400 },
	{ 0, "/v1/leaderboard?limit=1001", NULL, 400 },
	{ 0, "/v1/leaderboard?sweep=0123456789012345678901234567890123456789"
	     "012345678901234567890123456789", NULL, 400 },
	{ 0, "/v1/leaderboard", NULL, 200 },
	/* workers */
	{ 1, "/v1/workers", "{}", 400 },
	{ 1, "/v1/workers", "[]", 400 },
	{ 1, "/v1/workers", "{\"name\": \"a b\"}", 400 },
	{ 1, "/v1/workers", "{\"name\": 5}", 400 },
	{ 1, "/v1/workers", "{\"nodeName\": \"n1\"}", 400 },
	{ 1, "/worker-node/create", "{\"nodeName\": \"n1\"}", 200 },
	/* the seed's callback */
	{ 1, "/callback", "", 400 },
	{ 1, "/callback", "{\"status\": 200}", 400 },
	{ 1, "/callback", "{\"jobId\": \"nope\"}", 404 },
	{ 1, "/callback", "{\"jobId\": \"" ID "\", \"assignmentId\": \"x\"}", 400 },
	{ 1, "/callback", "{\"jobId\": \"" ID "\"}", 404 },
	/* metrics */
	{ 0, "/healthz", NULL, 200 },
	{ 0, "/metrics", NULL, 200 },
	{ 0, "/v1/stats", NULL, 200 },
	{ 0, "/", NULL, 200 },
};

TEST(handler_validation)
{
	size_t i;
	server_up(NULL);
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		const struct vcase *v = &valid[i];
		int got = answer(v->post ? post(v->target, v->body) : get(v->target));
		if (got != v->want)
			FAILF("case %zu: %s %s '%s': answered %d, want %d", i,
			      v->post ? "POST" : "GET", v->target,
			      v->body ? v->body : "", got, v->want);
	}
}

/* A job in, claimed (on the loop thread), its claim in the map. */
TEST(handler_submit_claim)
{
	server_up(NULL);
	CHECK_INT(201, answer(post("/v1/jobs", "{\"scriptName\": \"a.py\"}")));
	CHECK_INT(201, answer(post("/v1/jobs", "[{\"scriptName\": \"a.py\"}, "
					      "{\"scriptName\": \"b.py\"}]")));
	CHECK_INT(3, srv.hs.submits);
	/* nothing is in the index until watch (or a rescan) sees it: here the
	 * test plays watch, as the daemon's start-up scan would */
	{
		struct spool *sp = &srv.core.sp;
		DIR *d;
		struct dirent *e;
		char path[300];
		snprintf(path, sizeof(path), "%s/new", sp->path);
		d = opendir(path);
		CHECK(d != NULL);
		while ((e = readdir(d))) {
			struct order_name n;
			if (e->d_name[0] != '.' && name_parse(e->d_name, &n) == 0)
				core_seen(&srv.core, e->d_name, &n);
		}
		closedir(d);
	}
	CHECK_INT(3, srv.core.ix.n);
	CHECK_INT(200, answer(post("/v1/claim?worker=w1&wait=0", "")));
	CHECK_INT(200, answer(post("/bored/w2", "")));
	CHECK_INT(2, srv.core.map.n);
	CHECK_INT(1, srv.core.ix.n);
	CHECK_INT(200, answer(post("/v1/claim?worker=w1&wait=0", "")));
	CHECK_INT(204, answer(post("/v1/claim?worker=w1&wait=0", "")));
	CHECK_INT(200, answer(post("/bored/w2", "")));	/* the seed's "no work" */
	CHECK_INT(3, srv.core.claims);
}

/* ---- the claim index (index.c): packed keys, claim order ------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of every shape the grammar allows come back out whole, in name
 * order (strcmp), not before they are due; a rescan's sweep removes what
 * it did not see; a name of another shape is refused. */
TEST(index_packed_order)
{
	static const char *names[] = {
		"1000.0000000000000.0123456789abcdef01234567.fedcba9876543210fedcba98.000.-",
		"1000.0000000000000.0123456789abcdef01234567.fedcba9876543210fedcba98.000.t",
		"1000.0000000000000.0123456789abcdef01234568.0000000000000000000000ff.001.-",
		"1000.1733000000000.ffffffffffffffffffffffff.ffffffffffffffffffffffff.999.-",
		"1000.0000000000001.000000000000000000000000.000000000000000000000000.000.-",
		"1000.9999999999999.aaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbb.012.t",
		"1000.0000000000999.a0a0a0a0a0a0a0a0a0a0a0a0.0a0a0a0a0a0a0a0a0a0a0a0a.100.-",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	const char *sorted[N];
	struct index ix;
	struct order_name n;
	char out[SPOOL_NAME_MAX];
	size_t i;

	index_init(&ix);
	for (i = 0; i < N; i++) {
		CHECK_INT(0, name_parse(names[i], &n));
		CHECK_INT(1, index_add(&ix, names[i], &n, NULL));
		CHECK_INT(0, index_add(&ix, names[i], &n, NULL));	/* there already */
		CHECK_INT(1, index_has(&ix, names[i]));
		sorted[i] = names[i];
	}
	CHECK_INT(-EINVAL, index_add(&ix, "1000.0000000000000.0123456789ABCDEF01234567."
				     "fedcba9876543210fedcba98.000.-", &n, NULL));
	qsort(sorted, N, sizeof(sorted[0]), cmp_str);
	/* at now = 1000 the last two are not due yet */
	for (i = 0; i < N - 2; i++) {
		CHECK_INT(1, index_take(&ix, 1000, 0, NULL, out));
		CHECK_STR(sorted[i], out);
		CHECK_INT(0, index_has(&ix, out));
	}
	CHECK_INT(0, index_take(&ix, 1000, 0, NULL, out));
	CHECK_INT(1733000000000LL, index_next_due(&ix, 1000));
	/* a sweep keeps what the rescan saw */
	index_mark_begin(&ix);
	CHECK_INT(0, name_parse(sorted[N - 1], &n));
	CHECK_INT(0, index_add(&ix, sorted[N - 1], &n, NULL));
	CHECK_INT(1, (long long)index_sweep(&ix));
	CHECK_INT(1, (long long)ix.n);
	CHECK_INT(1, index_del(&ix, sorted[N - 1]));
	CHECK_INT(0, (long long)ix.n);
	index_release(&ix);
}

/* ---- the start-up load while new/ changes (watch.c) ------------------------ */

/* The queued names in sp/new/, sorted (claim order); how many (at most max). */
static int new_names(char names[][SPOOL_NAME_MAX], int max)
{
	const char *sorted[8];
	char got[8][SPOOL_NAME_MAX];
	DIR *d = opendir("sp/new");
	struct dirent *e;
	int n = 0, i;

	CHECK(d != NULL && max <= 8);
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			snprintf(got[n++], SPOOL_NAME_MAX, "%s", e->d_name);
	closedir(d);
	for (i = 0; i < n; i++)
		sorted[i] = got[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	for (i = 0; i < n; i++)
		snprintf(names[i], SPOOL_NAME_MAX, "%s", sorted[i]);
	return n;
}

/* Block until someone closes name (NULL: the directory itself) after
 * reading, in the directory fd watches (IN_CLOSE_NOWRITE), at most 10 s. */
static void wait_closed(int fd, const char *name)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = { fd, POLLIN, 0 };

	for (;;) {
		ssize_t n;
		char *at;

		CHECK_INT(1, poll(&p, 1, 10000));
		n = read(fd, buf, sizeof(buf));
		CHECK(n > 0);
		for (at = buf; at < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)at;

			at += sizeof(*ev) + ev->len;
			if ((ev->mask & IN_CLOSE_NOWRITE) &&
			    (name ? ev->len && !strcmp(ev->name, name) : !ev->len))
				return;
		}
	}
}

/*
 * An order that another process (here a local runner) takes out of new/
 * after the start-up listing read its name, but before the loop merged
 * what the listing read: inotify reports it gone first, and the index must
 * not keep it anyway. Kept, it was counted in spool_index_orders and, being
 * the oldest (local runners claim in name order), in
 * spool_oldest_queued_age_seconds, until a rescan swept it (with
 * --rescan 0, or no claimer through the daemon, never). The test plays the
 * loop's turns in that order: it waits until the reader has closed new/
 * (its listing is read), claims as the runner would, lets watch read
 * inotify, and only then lets the loop take the listing.
 */
TEST(load_leaving_during_listing)
{
	char names[2][SPOOL_NAME_MAX];
	struct claimant cl = { "runner1", 0, NULL, 0, 0 };
	struct spool local;
	struct order o;
	int fd;

	server_up(NULL);
	CHECK_INT(201, answer(post("/v1/jobs", "{\"scriptName\": \"a.py\"}")));
	CHECK_INT(201, answer(post("/v1/jobs", "{\"scriptName\": \"b.py\"}")));
	CHECK_INT(2, new_names(names, 2));
	fd = inotify_init1(IN_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(inotify_add_watch(fd, "sp/new", IN_CLOSE_NOWRITE) >= 0);
	CHECK_INT(0, watch_start(&srv.watch, &loop, &srv.core, &srv.disk, 0,
				 &srv.log));
	watch_load(&srv.watch);
	wait_closed(fd, NULL);	/* the reader has both names */
	CHECK_INT(0, spool_open(&local, "sp", 0));
	CHECK_INT(0, spool_claim(&local, &cl, &o));	/* names[0], the first */
	CHECK_INT(0, strncmp(o.n.id, names[0] + 44, SPOOL_ID_LEN));
	/* the loop's turn that reads inotify, before the listing's is taken */
	srv.watch.inotify_poll.poll_cb(&srv.watch.inotify_poll, 0, UV_READABLE);
	while (srv.core.loading)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(0, index_has(&srv.core.ix, names[0]));
	CHECK_INT(1, index_has(&srv.core.ix, names[1]));
	CHECK_INT(1, srv.core.ix.n);
	spool_close(&local);
	close(fd);
}

/*
 * The same race for a tagged order that arrives: watch has a reader read
 * its tags before it is indexed, and an order claimed meanwhile (its
 * IN_MOVED_FROM handled first) was indexed all the same, with the same
 * costs. The test plays the turns in that order: the order comes back from
 * held/, watch reads inotify, the reader reads the order's file, a local
 * runner with the tag claims it, watch reads inotify, and only then does
 * the loop take the reader's answer.
 */
TEST(tags_read_leaving)
{
	const char *gpu[] = { "gpu" };
	struct claimant cl = { "runner1", 1, gpu, 0, 0 };
	char names[1][SPOOL_NAME_MAX], id[SPOOL_ID_LEN + 1];
	struct spool local;
	struct order o, claimed;
	int fd;

	server_up(NULL);
	CHECK_INT(201, answer(post("/v1/jobs", "{\"scriptName\": \"a.py\", "
				   "\"spool\": {\"tags\": [\"gpu\"]}}")));
	CHECK_INT(1, new_names(names, 1));
	snprintf(id, sizeof(id), "%.*s", SPOOL_ID_LEN, names[0] + 44);
	CHECK_INT(0, spool_open(&local, "sp", 0));
	CHECK_INT(0, spool_hold(&local, id, NULL));
	CHECK_INT(0, watch_start(&srv.watch, &loop, &srv.core, &srv.disk, 0,
				 &srv.log));
	CHECK_INT(0, spool_unhold(&local, id, &o));
	CHECK_STR(names[0], o.file);
	fd = inotify_init1(IN_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(inotify_add_watch(fd, "sp/new", IN_CLOSE_NOWRITE) >= 0);
	/* the loop's turn that reads inotify: the arrival; its tags are read */
	srv.watch.inotify_poll.poll_cb(&srv.watch.inotify_poll, 0, UV_READABLE);
	wait_closed(fd, o.file);
	CHECK_INT(0, spool_claim(&local, &cl, &claimed));
	CHECK_STR(id, claimed.n.id);
	/* the next: the leaving, before the reader's answer is taken */
	srv.watch.inotify_poll.poll_cb(&srv.watch.inotify_poll, 0, UV_READABLE);
	while (disk_busy(&srv.disk))
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(0, index_has(&srv.core.ix, o.file));
	CHECK_INT(0, srv.core.ix.n);
	spool_close(&local);
	close(fd);
}
