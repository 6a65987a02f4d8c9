/*
 * Unit tests of the HTTP layer alone (spoold/http.c, issue 10: an idle
 * long-poll's memory), with callbacks of the test's own in place of the
 * daemon's routes: what http.h promises any owner.
 *
 * Two halves. Without a socket, raw requests fed to http_feed: a request
 * split at every byte parses as the whole one; the header ceilings hold at
 * their exact bound and one byte past. With a real loopback socket (the
 * layer listening on 127.0.0.1 port 0, the test the client, one thread
 * turning the loop): bytes sent one at a time, requests pipelined behind a
 * long poll that waits, what a waiting connection still holds, timers run
 * in deadline order, a long poll ended when its client leaves, the idle
 * timeout, the 431 answer on the wire, a 100 Continue behind answers not
 * read yet, and an answer's head past its ceiling (a 500, never torn).
 * Last, what --allow-origin takes (http_origin_valid).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "check.h"
#include "../../spoold/http.h"
#include "sockless.h"

static uv_loop_t loop;
static struct http_server hs;
static const struct logger quiet = { .quiet = 1 };

/* What the callbacks saw. */
static struct {
	int requests, fins, timeouts, gones, freed;
	int rearm;			/* cb_timeout re-arms with 0 ms this often */
	struct conn *held[8];
	int nheld;
	int timed_out[8];		/* index in held[] of each timeout, in order */
	char last[512];			/* the last request, as route_echo writes it */
	int uploads;			/* /upload requests routed */
	size_t queued_at_upload;	/* c's unsent bytes when /upload was routed */
} seen;

/* ---- the owner's callbacks -------------------------------------------------------- */

static int cb_route(struct conn *c)
{
	/* what was still unsent when an upload's head was in */
	if (c->req.nseg && !strcmp(c->req.seg[0], "upload")) {
		seen.uploads++;
		seen.queued_at_upload = uv_stream_get_write_queue_size(
			(uv_stream_t *)&c->tcp);
	}
	/* /big takes a larger body; everything else routes */
	c->req.route = &seen;
	c->req.body_max = c->req.nseg && !strcmp(c->req.seg[0], "big") ?
			  100000 : 1000;
	return 0;
}

static void describe(struct conn *c, char *out, size_t len)
{
	snprintf(out, len, "%s /%s?%s auth=%s xtoken=%s body=%.*s",
		 http_method_str(c->req.method),
		 c->req.nseg ? c->req.seg[c->req.nseg - 1] : "",
		 c->req.query ? c->req.query : "", c->req.auth,
		 c->req.xtoken, (int)c->req.body.len,
		 c->req.body.data ? c->req.body.data : "");
}

enum { BLOB = 1 << 20 };

/* /blob: an answer big enough to queue up behind a client that reads
 * none (BLOB bytes of 'x', so no answer's head can be found in it). */
static void blob_answer(struct conn *c)
{
	char *b = malloc(BLOB);
	CHECK(b != NULL);
	memset(b, 'x', BLOB);
	http_reply(c, 200, "text/plain", b, BLOB, NULL);
	free(b);
}

/* /extra?N: an answer with N bytes of extra header lines. */
static void extra_answer(struct conn *c)
{
	int n = atoi(c->req.query);
	char *x = malloc((size_t)n + 1);
	CHECK(x != NULL && n > 9);
	memcpy(x, "X-Pad: ", 7);
	memset(x + 7, 'p', (size_t)n - 9);
	memcpy(x + n - 2, "\r\n", 3);
	http_reply(c, 200, "text/plain", "padded\n", 7, x);
	free(x);
}

/* /wait and /v1/claim are held (a long poll) until the test answers it; anything else is
 * answered at once with a description of the request. */
static void cb_request(struct conn *c)
{
	seen.requests++;
	describe(c, seen.last, sizeof(seen.last));
	if (c->req.nseg && (!strcmp(c->req.seg[0], "wait") ||
			    !strcmp(c->req.seg[c->req.nseg - 1], "claim"))) {
		CHECK(seen.nheld < 8);
		seen.held[seen.nheld++] = c;
		http_hold(c, &seen);
		return;
	}
	if (c->req.nseg && !strcmp(c->req.seg[0], "blob")) {
		blob_answer(c);
		return;
	}
	if (c->req.nseg && !strcmp(c->req.seg[0], "extra")) {
		extra_answer(c);
		return;
	}
	http_reply(c, 200, "text/plain", seen.last, strlen(seen.last), NULL);
}

static int held_index(struct conn *c)
{
	int i;
	for (i = 0; i < seen.nheld; i++)
		if (seen.held[i] == c)
			return i;
	FAILF("connection %p is not held", (void *)c);
}

static void cb_fin(struct conn *c)
{
	seen.fins++;
	seen.held[held_index(c)] = NULL;
	http_reply(c, 204, NULL, NULL, 0, NULL);	/* as a long poll does */
}

static void cb_timeout(struct conn *c)
{
	int i = held_index(c);
	if (seen.rearm > 0) {
		/* as a claim does while a dispatch is under way: ask again
		 * next turn */
		seen.rearm--;
		http_hold_timer(c, 0);
		return;
	}
	seen.timed_out[seen.timeouts++] = i;
	seen.held[i] = NULL;
	http_reply(c, 204, NULL, NULL, 0, NULL);
}

static int cb_gone(struct conn *c)
{
	seen.gones++;
	seen.held[held_index(c)] = NULL;
	return 0;
}

static void cb_freed(void *ud)
{
	(void)ud;
	seen.freed++;
}

static const struct http_callbacks cbs = {
	cb_route, cb_request, cb_fin, cb_timeout, cb_gone, cb_freed, NULL,
};

static void server_init(int64_t idle_ms)
{
	struct http_config hc;
	memset(&hc, 0, sizeof(hc));
	snprintf(hc.host, sizeof(hc.host), "127.0.0.1");
	hc.port = 0;
	hc.request_ms = 30000;
	hc.idle_ms = idle_ms;
	hc.max_conns = 100;
	CHECK_INT(0, uv_loop_init(&loop));
	http_init(&hs, &loop, &hc, &cbs, NULL, &quiet);
	memset(&seen, 0, sizeof(seen));
}

/* ---- without a socket ---------------------------------------------------------------- */

/* Feed s in the pieces cut at the offsets cuts[0..ncuts-1]; the state of
 * the last piece. */
static enum http_feed feed_cut(struct conn *c, const char *s, size_t len,
			       const size_t *cuts, int ncuts)
{
	enum http_feed st = HTTP_FEED_MORE;
	size_t off = 0;
	int i;
	for (i = 0; i <= ncuts && st == HTTP_FEED_MORE; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		size_t n = http_feed(c, s + off, end - off, &st);
		if (st == HTTP_FEED_MORE)
			CHECK_INT(end - off, n);
		off += n;
	}
	return st;
}

static const char whole[] =
	"POST /v1/claim%2Fx?worker=w-1&wait=30 HTTP/1.1\r\n"
	"Host: 127.0.0.1\r\n"
	"Authorization: Bearer 0123456789abcdef\r\n"
	"X-Spool-Token: feedface\r\n"
	"Origin: http://o.example\r\n"
	"Content-Length: 5\r\n"
	"\r\n"
	"hello";
static const char whole_seen[] =
	"POST /claim/x?worker=w-1&wait=30 auth=Bearer 0123456789abcdef "
	"xtoken=feedface body=hello";

TEST(split_at_every_byte)
{
	size_t len = strlen(whole), k, j;
	server_init(60000);
	/* two pieces, cut at every byte */
	for (k = 1; k < len; k++) {
		struct conn *c = sockless_conn(&loop, &hs);
		char got[512];
		CHECK_INT(HTTP_FEED_REQUEST, feed_cut(c, whole, len, &k, 1));
		CHECK_INT(0, c->req.err);
		describe(c, got, sizeof(got));
		CHECK_STR(whole_seen, got);
		sockless_drop(&loop, c);
	}
	/* one byte at a time, and three pieces at every pair of cuts */
	{
		size_t cuts[sizeof(whole)];
		struct conn *c = sockless_conn(&loop, &hs);
		char got[512];
		for (k = 0; k + 1 < len; k++)
			cuts[k] = k + 1;
		CHECK_INT(HTTP_FEED_REQUEST, feed_cut(c, whole, len, cuts, (int)len - 1));
		describe(c, got, sizeof(got));
		CHECK_STR(whole_seen, got);
		sockless_drop(&loop, c);
	}
	for (k = 1; k < len; k += 7)
		for (j = k + 1; j < len; j += 5) {
			size_t cuts[2] = { k, j };
			struct conn *c = sockless_conn(&loop, &hs);
			char got[512];
			CHECK_INT(HTTP_FEED_REQUEST, feed_cut(c, whole, len, cuts, 2));
			describe(c, got, sizeof(got));
			CHECK_STR(whole_seen, got);
			sockless_drop(&loop, c);
		}
	CHECK(hs.theap == NULL);	/* no timer left behind */
}

/* "GET /p HTTP/1.1\r\n" + headers totalling n counted bytes (the target,
 * the names and the values, which is what HTTP_HEADERS_MAX counts) */
static char *request_of_header_bytes(size_t n)
{
	/* target "/p" (2) + "X-Pad" (5) + the value */
	size_t vlen = n - 7;
	char *s = malloc(vlen + 64);
	int off;
	CHECK(s != NULL);
	off = sprintf(s, "GET /p HTTP/1.1\r\nX-Pad: ");
	memset(s + off, 'a', vlen);
	strcpy(s + off + vlen, "\r\n\r\n");
	return s;
}

static void feed_whole(const char *s, size_t piece, int want_err)
{
	struct conn *c = sockless_conn(&loop, &hs);
	size_t len = strlen(s), off = 0;
	enum http_feed st = HTTP_FEED_MORE;
	while (off < len && st == HTTP_FEED_MORE) {
		size_t n = len - off < piece ? len - off : piece;
		off += http_feed(c, s + off, n, &st);
	}
	if (want_err) {
		CHECK_INT(HTTP_FEED_ERROR, st);
		CHECK_INT(want_err, c->req.err);
		CHECK(c->req.errmsg[0] != 0);
	} else {
		CHECK_INT(HTTP_FEED_REQUEST, st);
		CHECK_INT(0, c->req.err);
	}
	sockless_drop(&loop, c);
}

TEST(headers_at_the_cap)
{
	char *s;
	size_t pieces[] = { 100000, 4096, 1 };
	size_t i;
	server_init(60000);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		s = request_of_header_bytes(HTTP_HEADERS_MAX);
		feed_whole(s, pieces[i], 0);
		free(s);
		s = request_of_header_bytes(HTTP_HEADERS_MAX + 1);
		feed_whole(s, pieces[i], 431);
		free(s);
	}
}

TEST(error_before_a_request_says_why)
{
	/* a bad first byte (a TLS hello): no request began, the error still
	 * has its message (the fuzzer's find, tests/fuzz/regress) */
	server_init(60000);
	feed_whole("\x16\x03\x01garbage\r\n\r\n", 1000, 400);
	feed_whole("\x16\x03\x01garbage\r\n\r\n", 1, 400);
}

/* A header we keep, value of n bytes. */
static char *request_with(const char *name, size_t n)
{
	char *s = malloc(n + 128);
	int off;
	CHECK(s != NULL);
	off = sprintf(s, "GET /p HTTP/1.1\r\n%s: ", name);
	memset(s + off, 'b', n);
	strcpy(s + off + n, "\r\n\r\n");
	return s;
}

TEST(kept_headers_at_their_caps)
{
	static const struct { const char *name; size_t cap; } kept[] = {
		{ "Authorization", sizeof(((struct http_scratch *)0)->auth) },
		{ "X-Spool-Token", sizeof(((struct http_scratch *)0)->xtoken) },
		{ "Origin", sizeof(((struct http_scratch *)0)->origin) },
	};
	size_t i, piece;
	server_init(60000);
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		for (piece = 1; piece <= 4096; piece *= 64) {
			char *s = request_with(kept[i].name, kept[i].cap - 1);
			feed_whole(s, piece, 0);
			free(s);
			s = request_with(kept[i].name, kept[i].cap);
			feed_whole(s, piece, 431);
			free(s);
		}
	/* header lines: HTTP_NHEADERS_MAX pass, one more is 431 */
	{
		char *s = malloc(16 * (HTTP_NHEADERS_MAX + 2) + 64);
		int n, off;
		for (n = HTTP_NHEADERS_MAX; n <= HTTP_NHEADERS_MAX + 1; n++) {
			int k;
			off = sprintf(s, "GET /p HTTP/1.1\r\n");
			for (k = 0; k < n; k++)
				off += sprintf(s + off, "X-%d: v\r\n", k);
			strcpy(s + off, "\r\n");
			feed_whole(s, 1000, n > HTTP_NHEADERS_MAX ? 431 : 0);
		}
		free(s);
	}
	/* the target: HTTP_URL_MAX passes, one more is 414 */
	{
		char *s = malloc(HTTP_URL_MAX + 64);
		size_t len;
		for (len = HTTP_URL_MAX; len <= HTTP_URL_MAX + 1; len++) {
			int off = sprintf(s, "GET /");
			memset(s + off, 'u', len - 1);
			strcpy(s + off + len - 1, " HTTP/1.1\r\n\r\n");
			feed_whole(s, 777, len > HTTP_URL_MAX ? 414 : 0);
		}
		free(s);
	}
}

/* ---- with a socket ------------------------------------------------------------------- */

static int port_of(void)
{
	struct sockaddr_in a;
	int len = sizeof(a);
	CHECK_INT(0, uv_tcp_getsockname(&hs.listener, (struct sockaddr *)&a, &len));
	return ntohs(a.sin_port);
}

static int client(void)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	CHECK(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port_of());
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		CHECK(errno == EINPROGRESS);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			uv_run(&loop, UV_RUN_NOWAIT);
			continue;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Turn the loop (the client's bytes are answered meanwhile) until
 * done(arg) or a generous deadline. */
static void turn_until(int (*done)(void *), void *arg, const char *what)
{
	int i;
	for (i = 0; i < 6000 && !done(arg); i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 5);
	}
	if (!done(arg))
		FAILF("gave up waiting for %s", what);
}

struct inbox {
	int fd;
	char data[8192];
	size_t len;
	int eof;
	const char *want;	/* done once this was received */
};

static int inbox_done(void *arg)
{
	struct inbox *in = arg;
	for (;;) {
		ssize_t n = recv(in->fd, in->data + in->len,
				 sizeof(in->data) - 1 - in->len, 0);
		if (n > 0) {
			in->len += (size_t)n;
			in->data[in->len] = 0;
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			in->eof = 1;
		break;
	}
	return in->want ? strstr(in->data, in->want) != NULL : in->eof;
}

/* Read from fd until want arrived (NULL: until EOF). */
static void read_until(struct inbox *in, int fd, const char *want)
{
	in->fd = fd;
	in->want = want;
	turn_until(inbox_done, in, want ? want : "the server's end");
}

/* Turn the loop until *counter reaches n. */
static void turn_count(int *counter, int n, const char *what)
{
	int i;
	for (i = 0; i < 6000 && *counter < n; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 5);
	}
	if (*counter < n)
		FAILF("gave up waiting for %s (%d of %d)", what, *counter, n);
}

static void server_up(int64_t idle_ms)
{
	server_init(idle_ms);
	CHECK_INT(0, http_listen(&hs));
}

/* Stop the server, let every connection go, close the loop: nothing of
 * the layer may be left open (its one timer included). */
static void server_down(void)
{
	int i;
	http_stop(&hs);
	for (i = 0; i < 6000 && hs.nconns; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 5);
	}
	CHECK_INT(0, hs.nconns);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(0, uv_loop_close(&loop));
	CHECK(hs.theap == NULL);
}

static const char echo_req[] =
	"POST /echo?x=1 HTTP/1.1\r\nX-Spool-Token: abc\r\n"
	"Content-Length: 3\r\n\r\nhey";
static const char echo_seen[] = "POST /echo?x=1 auth= xtoken=abc body=hey";

TEST(socket_one_byte_at_a_time)
{
	struct inbox in = { 0 };
	size_t i, len = strlen(echo_req);
	int fd;
	server_up(60000);
	fd = client();
	for (i = 0; i < len; i++) {
		send_all(fd, echo_req + i, 1);
		uv_run(&loop, UV_RUN_NOWAIT);
		uv_run(&loop, UV_RUN_NOWAIT);
		if (hs.conns) {
			/* a request in progress holds its scratch; no read
			 * buffer is kept between the bytes */
			CHECK(hs.conns->rbuf == NULL);
		}
	}
	read_until(&in, fd, echo_seen);
	CHECK(strncmp(in.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_INT(1, hs.nconns);
	/* answered and idle: nothing but the connection itself */
	CHECK(hs.conns->rbuf == NULL);
	CHECK(hs.conns->req.scratch == NULL);
	CHECK(hs.conns->tslot != 0);	/* its keep-alive timer */
	close(fd);
	server_down();
}

static int held_n(void *arg)
{
	return seen.nheld >= *(int *)arg;
}

static size_t pending_want;

static int pending_is(void *arg)
{
	struct conn *c = arg;
	return c->rlen - c->roff == pending_want;
}

TEST(pipelined_behind_a_long_poll)
{
	static const char three[] =
		"POST /wait?worker=a HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
		"GET /echo?n=1 HTTP/1.1\r\n\r\n"
		"GET /echo?n=2 HTTP/1.1\r\nX-Spool-Token: t2\r\n\r\n";
	size_t first = strstr(three, "GET") - three;
	struct inbox in = { 0 };
	struct conn *c;
	char *a, *b, *w;
	int fd, one = 1;

	server_up(60000);
	fd = client();
	send_all(fd, three, strlen(three));
	turn_until(held_n, &one, "the long poll");
	c = seen.held[0];
	/* (should the rest come in a later read, it goes behind it too) */
	pending_want = strlen(three) - first;
	turn_until(pending_is, c, "the pipelined bytes");
	/* while it waits: the two behind it are in c's own buffer, not
	 * parsed yet; the request's scratch is gone, as is its target */
	CHECK(c->rbuf != NULL && c->rbuf != hs.rbuf);
	CHECK_INT(strlen(three) - first, c->rlen - c->roff);
	CHECK(c->req.scratch == NULL && c->req.seg == NULL && c->req.query == NULL);
	CHECK_STR("", c->req.xtoken);
	CHECK_INT(1, seen.requests);
	CHECK(c->tslot == 0);		/* held without a timer */
	/* more bytes meanwhile go behind them */
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK_INT(1, seen.requests);

	seen.held[0] = NULL;
	http_reply(c, 200, "text/plain", "served\n", 7, NULL);
	read_until(&in, fd, "xtoken=t2");
	CHECK_INT(3, seen.requests);
	/* in request order */
	w = strstr(in.data, "served\n");
	a = strstr(in.data, "n=1 ");
	b = strstr(in.data, "n=2 ");
	CHECK(w && a && b && w < a && a < b);
	CHECK(strstr(in.data, "GET /echo?n=2 auth= xtoken=t2 body=") != NULL);
	CHECK(c->rbuf == NULL);		/* all parsed: given back */
	close(fd);
	server_down();
}

/* What bench-gen idle sends. */
static const char poll_req[] = "POST /v1/claim?worker=bench-7&wait=60 HTTP/1.1\r\n"
	"Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";

TEST(waiting_holds_little)
{
	enum { N = 8 };
	int fds[N], i, n = N;
	server_up(60000);
	for (i = 0; i < N; i++) {
		fds[i] = client();
		send_all(fds[i], poll_req, strlen(poll_req));
	}
	turn_until(held_n, &n, "eight long polls");
	for (i = 0; i < N; i++) {
		struct conn *c = seen.held[i];
		CHECK(c->rbuf == NULL);
		CHECK(c->req.scratch == NULL);
		CHECK(c->req.body.data == NULL);
		CHECK(!c->rbuf_shared);
	}
	/* no big array per connection: the socket's handle (uv_tcp_t, 248
	 * bytes here), the parser and ~200 bytes of our own */
	CHECK(sizeof(struct conn) <= sizeof(uv_tcp_t) + sizeof(http_parser) + 256);
	for (i = 0; i < N; i++)
		close(fds[i]);
	turn_count(&seen.fins, N, "the long polls to end");
	server_down();
}

TEST(timers_run_in_deadline_order)
{
	enum { N = 6 };
	static const int64_t ms[N] = { 40, 10, 30, 20, 50, 35 };
	static const int order[N] = { 1, 3, 2, 5, 0, 4 };
	int fds[N], i;
	server_up(60000);
	for (i = 0; i < N; i++) {
		int n = i + 1;
		fds[i] = client();
		send_all(fds[i], "POST /wait HTTP/1.1\r\n\r\n", 23);
		turn_until(held_n, &n, "a long poll");
	}
	/* set in one turn of the loop (uv_now the same for all): each
	 * deadline is now + ms, so the order does not depend on the load;
	 * one is set late first, then sooner; one far, then answered */
	http_hold_timer(seen.held[5], 100000);
	for (i = 0; i < N; i++)
		http_hold_timer(seen.held[i], ms[i]);
	CHECK_INT(N, hs.tn);
	turn_count(&seen.timeouts, N, "the timers");
	for (i = 0; i < N; i++)
		CHECK_INT(order[i], seen.timed_out[i]);
	CHECK_INT(N, seen.timeouts);
	for (i = 0; i < N; i++)
		close(fds[i]);
	server_down();
}

TEST(timer_rearmed_from_its_callback)
{
	int fd, one = 1, i;
	server_up(60000);
	fd = client();
	send_all(fd, "POST /wait HTTP/1.1\r\n\r\n", 23);
	turn_until(held_n, &one, "a long poll");
	/* a 0 ms timer set again by its own callback runs once a turn of the
	 * loop, not over and over in one (that would never return) */
	seen.rearm = 1000;
	http_hold_timer(seen.held[0], 0);
	for (i = 0; i < 3; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(seen.rearm > 0);
	seen.rearm = 2;
	turn_count(&seen.timeouts, 1, "the timer");
	CHECK_INT(0, seen.rearm);
	close(fd);
	server_down();
}

TEST(long_poll_ends_when_the_client_leaves)
{
	struct linger lg = { 1, 0 };
	int fd1, fd2, one = 1, two = 2;
	server_up(60000);
	/* a FIN: the fin callback answers (a long poll says 204 at once) */
	fd1 = client();
	send_all(fd1, "POST /wait HTTP/1.1\r\n\r\n", 23);
	turn_until(held_n, &one, "a long poll");
	shutdown(fd1, SHUT_WR);
	turn_count(&seen.fins, 1, "the FIN");
	{
		struct inbox in = { 0 };
		read_until(&in, fd1, NULL);
		CHECK(strncmp(in.data, "HTTP/1.1 204 ", 13) == 0);
	}
	close(fd1);
	turn_count(&seen.freed, 1, "the first connection freed");
	/* a reset: gone, and the connection freed */
	fd2 = client();
	send_all(fd2, "POST /wait HTTP/1.1\r\n\r\n", 23);
	turn_until(held_n, &two, "a second long poll");
	setsockopt(fd2, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd2);
	turn_count(&seen.freed, 2, "the second connection freed");
	CHECK_INT(1, seen.gones);
	CHECK_INT(1, seen.fins);
	CHECK_INT(0, hs.nconns);
	server_down();
}

TEST(idle_connection_times_out)
{
	struct inbox in = { 0 };
	int fd;
	server_up(100);
	fd = client();
	send_all(fd, "GET /echo HTTP/1.1\r\n\r\n", 22);
	read_until(&in, fd, "body=");
	/* then nothing: the keep-alive timer closes it */
	read_until(&in, fd, NULL);
	CHECK(in.eof);
	turn_count(&seen.freed, 1, "the connection freed");
	close(fd);
	server_down();
}

TEST(header_over_the_cap_answered_431_and_closed)
{
	struct inbox in = { 0 };
	char *s = request_of_header_bytes(HTTP_HEADERS_MAX + 1);
	int fd;
	server_up(60000);
	fd = client();
	send_all(fd, s, strlen(s));
	read_until(&in, fd, NULL);
	CHECK(strncmp(in.data, "HTTP/1.1 431 ", 13) == 0);
	CHECK(strstr(in.data, "Connection: close\r\n") != NULL);
	CHECK(strstr(in.data, "headers longer than") != NULL);
	CHECK_INT(0, seen.requests);
	close(fd);
	free(s);
	turn_count(&seen.freed, 1, "the connection freed");
	server_down();
}

/* The end of "HTTP/1.1 200 OK\r\n" answers counted in a stream read in
 * pieces (a marker may be cut between two reads). */
struct counter {
	int fd;
	long answers;
	char tail[32];
	size_t tlen;
};

static void count_answers(struct counter *k)
{
	static const char mark[] = "HTTP/1.1 200 OK\r\n";
	char b[65536 + sizeof(k->tail)];
	for (;;) {
		ssize_t n;
		char *p;
		memcpy(b, k->tail, k->tlen);
		n = recv(k->fd, b + k->tlen, 65536, 0);
		if (n <= 0)
			return;
		n += (ssize_t)k->tlen;
		for (p = b; (p = memmem(p, (size_t)n - (size_t)(p - b), mark,
					 sizeof(mark) - 1)); p += sizeof(mark) - 1)
			k->answers++;
		k->tlen = (size_t)n < sizeof(mark) - 2 ? (size_t)n : sizeof(mark) - 2;
		memcpy(k->tail, b + n - k->tlen, k->tlen);
	}
}

static long answers_want;
static const char *rest;	/* of the last request, sent as answers are read */
static size_t rest_len;

static int all_answered(void *arg)
{
	struct counter *k = arg;
	if (rest_len) {
		ssize_t n = send(k->fd, rest, rest_len, MSG_NOSIGNAL);
		if (n > 0) {
			rest += n;
			rest_len -= (size_t)n;
		}
	}
	count_answers(k);
	return !rest_len && k->answers >= answers_want;
}

TEST(pipelining_without_reading_is_bounded)
{
	/* a client that pipelines requests and reads none of the answers:
	 * past HTTP_WQUEUE_MAX of unsent answers the connection stops being
	 * read (http.h), so its memory is bounded whatever the client sends */
	static const char one[] = "GET /echo HTTP/1.1\r\n\r\n";
	enum { N = 4096 };
	char *burst = malloc(N * (sizeof(one) - 1));
	size_t blen = N * (sizeof(one) - 1), off = 0, sent = 0, queued = 0;
	struct counter k = { 0 };
	int fd, i, still = 0;

	CHECK(burst != NULL);
	for (i = 0; i < N; i++)
		memcpy(burst + i * (sizeof(one) - 1), one, sizeof(one) - 1);
	server_up(60000);
	fd = client();
	{
		int small = 65536;	/* fewer requests in the kernel's buffers */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	}
	/* send until the server stops taking bytes for a second (200 turns
	 * of the loop in a row), or far more than a bounded server takes */
	while (still < 200 && sent < ((size_t)64 << 20)) {
		ssize_t n = send(fd, burst + off, blen - off, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			off = (off + (size_t)n) % blen;
			still = 0;
		} else {
			CHECK(errno == EAGAIN);
			still++;
			poll(NULL, 0, 5);
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		if (hs.conns) {
			size_t q = uv_stream_get_write_queue_size(
				(uv_stream_t *)&hs.conns->tcp);
			if (q > queued)
				queued = q;
		}
		/* one answer past the ceiling at most (the last one parsed) */
		if (queued > HTTP_WQUEUE_MAX + 1024)
			FAILF("%zu bytes of answers queued for a client that "
			      "reads none (at most %d): the connection is read "
			      "on (%zu bytes of requests taken)", queued,
			      HTTP_WQUEUE_MAX, sent);
	}
	CHECK(queued > HTTP_WQUEUE_MAX / 2);	/* the ceiling was reached */
	/* the last request made whole as the answers are read: every
	 * request is answered, none lost while the connection waited */
	rest = burst + off;
	rest_len = (sizeof(one) - 1 - off % (sizeof(one) - 1)) % (sizeof(one) - 1);
	answers_want = (long)((sent + rest_len) / (sizeof(one) - 1));
	k.fd = fd;
	/* (woken by the answers, not by a 5 ms tick: there are many) */
	for (i = 0; i < 60000 && !all_answered(&k); i++) {
		struct pollfd pf = { fd, POLLIN, 0 };
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(&pf, 1, 1);
	}
	if (!all_answered(&k))
		FAILF("gave up waiting for every pipelined request answered "
		      "(%ld of %ld)", k.answers, answers_want);
	CHECK_INT(answers_want, k.answers);
	close(fd);
	free(burst);
	server_down();
}

/* ---- answers on the wire, whole ------------------------------------------------------ */

/* Every byte a client received, however many (an inbox keeps 8 KiB). */
struct stream {
	int fd;
	char *data;
	size_t len, cap;
	int eof;
};

static void stream_read(struct stream *st)
{
	for (;;) {
		ssize_t n;
		if (st->cap - st->len < 65536 + 1) {
			st->cap = st->cap ? 2 * st->cap : (size_t)1 << 20;
			st->data = realloc(st->data, st->cap);
			CHECK(st->data != NULL);
		}
		n = recv(st->fd, st->data + st->len, st->cap - st->len - 1, 0);
		if (n > 0) {
			st->len += (size_t)n;
			st->data[st->len] = 0;
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			st->eof = 1;
		return;
	}
}

/*
 * Split what st received into answers, each a head ending in a blank line
 * and Content-Length bytes of body: the statuses of the first max whole
 * ones in status[], their offsets in at[]; how many. Bytes that do not
 * begin an answer (a torn head) fail the test.
 */
static int stream_answers(const struct stream *st, int *status, size_t *at,
			  int max)
{
	size_t off = 0;
	int n = 0;
	while (n < max && st->len - off >= 9) {
		const char *h = st->data + off, *end, *cl;
		size_t hlen, blen = 0;
		if (memcmp(h, "HTTP/1.1 ", 9))
			FAILF("answer %d at byte %zu is not an answer: '%.40s'",
			      n + 1, off, h);
		if (!(end = memmem(h, st->len - off, "\r\n\r\n", 4)))
			break;
		hlen = (size_t)(end - h) + 4;
		cl = memmem(h, hlen, "\r\nContent-Length: ", 18);
		if (cl)
			blen = strtoul(cl + 18, NULL, 10);
		if (st->len - off < hlen + blen)
			break;
		status[n] = atoi(h + 9);
		at[n++] = off;
		off += hlen + blen;
	}
	return n;
}

/* Turn the loop and read until st holds want whole answers, or ms
 * passed, or the server's end; how many it holds. */
static int stream_wait(struct stream *st, int want, int ms, int *status,
		       size_t *at)
{
	uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000;
	int n = 0;
	while ((n = stream_answers(st, status, at, want)) < want && !st->eof &&
	       uv_hrtime() < until) {
		struct pollfd pf = { st->fd, POLLIN, 0 };
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(&pf, 1, 5);
		stream_read(st);
	}
	return n;
}

static int uploads_routed(void *arg)
{
	(void)arg;
	return seen.uploads > 0;
}

static int accepted(void *arg)
{
	(void)arg;
	return hs.conns != NULL;
}

TEST(continue_in_order_behind_queued_answers)
{
	/* three answers the client has not read yet, then an upload that
	 * waits for 100 Continue before it sends its body (as curl does): the
	 * 100 comes after them, whole, and then the answer to the upload */
	static const char pipelined[] =
		"GET /blob HTTP/1.1\r\n\r\n"
		"GET /blob HTTP/1.1\r\n\r\n"
		"GET /blob HTTP/1.1\r\n\r\n"
		"POST /upload HTTP/1.1\r\nExpect: 100-continue\r\n"
		"Content-Length: 5\r\n\r\n";
	struct stream st = { 0 };
	int status[5], i, n, small = 16384;
	size_t at[5];

	server_up(60000);
	st.fd = client();
	turn_until(accepted, NULL, "the connection");
	/* (a small send buffer: the kernel takes little, the rest queues) */
	CHECK_INT(0, uv_send_buffer_size((uv_handle_t *)&hs.conns->tcp, &small));
	send_all(st.fd, pipelined, strlen(pipelined));
	turn_until(uploads_routed, NULL, "the upload's head");
	CHECK_INT(3, seen.requests);
	CHECK(seen.queued_at_upload > BLOB);	/* answers were waiting */
	n = stream_wait(&st, 4, 3000, status, at);
	if (n < 4)
		FAILF("%d answers within 3 s, want the three blobs and then "
		      "'100 Continue'", n);
	for (i = 0; i < 3; i++)
		CHECK_INT(200, status[i]);
	CHECK_INT(100, status[3]);
	CHECK(!memcmp(st.data + at[3], "HTTP/1.1 100 Continue\r\n\r\n", 25));
	CHECK_INT(3, seen.requests);	/* no body yet: not handled */
	send_all(st.fd, "hello", 5);
	n = stream_wait(&st, 5, 10000, status, at);
	CHECK_INT(5, n);
	CHECK_INT(200, status[4]);
	CHECK(strstr(st.data + at[4], "POST /upload? auth= xtoken= body=hello"));
	CHECK_INT(4, seen.requests);
	close(st.fd);
	free(st.data);
	server_down();
}

TEST(head_over_its_ceiling_is_500_not_torn)
{
	/* extra header lines from 256 bytes under the head's ceiling to past
	 * it: each answer is whole, with all of them, or a 500 */
	int n, ok = 0, errs = 0;
	server_up(60000);
	for (n = 8192 - 256; n <= 8192 + 8; n++) {
		struct stream st = { 0 };
		char req[128];
		int status[2];
		size_t at[2];
		st.fd = client();
		snprintf(req, sizeof(req), "GET /extra?%d HTTP/1.1\r\n"
			 "Connection: close\r\n\r\n", n);
		send_all(st.fd, req, strlen(req));
		stream_wait(&st, 2, 5000, status, at);
		if (!st.eof)
			FAILF("extra of %d bytes: no end of the answer", n);
		if (stream_answers(&st, status, at, 2) != 1)
			FAILF("extra of %d bytes: not one whole answer but "
			      "'%.60s'...", n, st.data);
		if (status[0] == 200) {
			const char *x = strstr(st.data, "X-Pad: ");
			if (!x || strspn(x + 7, "p") != (size_t)n - 9)
				FAILF("extra of %d bytes: a 200 without it", n);
			ok++;
		} else {
			CHECK_INT(500, status[0]);
			CHECK(strstr(st.data, "Connection: close\r\n"));
			errs++;
		}
		close(st.fd);
		free(st.data);
	}
	CHECK(ok > 0 && errs > 0);	/* both sides of the ceiling */
	turn_count(&seen.freed, ok + errs, "the connections freed");
	server_down();
}

TEST(allowed_origin_must_be_an_origin)
{
	/* what --allow-origin takes: an Origin as a browser sends it */
	static const struct { const char *o; int ok; } t[] = {
		{ "https://lab.example", 1 },
		{ "http://127.0.0.1:8080", 1 },
		{ "http://[::1]:3000", 1 },
		{ "app+x-1.y://h", 1 },
		{ "https://a.example:65535", 1 },
		{ "", 0 },
		{ "*", 0 },
		{ "null", 0 },				/* opaque: any sandboxed page */
		{ "lab.example", 0 },
		{ "https://", 0 },
		{ "https://lab.example/", 0 },		/* a URL, not an origin */
		{ "https://lab.example/x", 0 },
		{ "https://Lab.example", 0 },		/* browsers send lowercase */
		{ "HTTPS://lab.example", 0 },
		{ "https://lab.example:", 0 },
		{ "https://lab.example:0", 0 },
		{ "https://lab.example:65536", 0 },
		{ "https://lab.example:080800", 0 },
		{ "https://lab.example:80x", 0 },
		{ "https://-lab.example", 0 },
		{ "https://[::1", 0 },
		{ "https://[]", 0 },
		{ "https://a b", 0 },
		{ "https://lab.example\r\nSet-Cookie: x=1", 0 },
		{ "https://lab.example\n", 0 },
		{ "https://lab.\x7f", 0 },
		{ "1http://lab.example", 0 },
		{ "https:/lab.example", 0 },
		{ "https://user@lab.example", 0 },
	};
	char longest[HTTP_ORIGIN_MAX + 1];
	size_t i;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (http_origin_valid(t[i].o) != t[i].ok)
			FAILF("'%s': want %s", t[i].o, t[i].ok ? "valid" : "refused");
	/* as long as an Origin a request may carry, and one byte more */
	memcpy(longest, "https://", 8);
	memset(longest + 8, 'a', HTTP_ORIGIN_MAX - 1 - 8);
	longest[HTTP_ORIGIN_MAX - 1] = 0;
	CHECK_INT(1, http_origin_valid(longest));
	longest[HTTP_ORIGIN_MAX - 1] = 'a';
	longest[HTTP_ORIGIN_MAX] = 0;
	CHECK_INT(0, http_origin_valid(longest));
}
