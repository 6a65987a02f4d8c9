/*
 * http: connections, HTTP/1.1 parsing with nodejs/http-parser, answers.
 *
 * One request at a time per connection: when a message is complete the
 * parser is paused and the request handled; bytes of pipelined requests wait
 * in the connection's fixed read buffer (HTTP_RBUF; when it is full we stop
 * reading) and are parsed once the answer is queued, so answers go out in
 * request order. Every part of a request has a ceiling: the target (414),
 * the headers (431), the body per route (413). A request must arrive within
 * cfg.request_ms of its first byte (else 408 and close), an idle keep-alive
 * connection is closed after cfg.idle_ms, and there are at most
 * cfg.max_conns connections.
 *
 * Errors found before the body is read (404, 405, 401, 413, 431, bad
 * syntax) are answered at once with "Connection: close"; the connection
 * then lingers, discarding input, until the peer closes or 2 s pass, so the
 * peer reads the answer instead of a reset.
 *
 * The peer's FIN is taken as a half-close: what it sent whole is answered,
 * then the connection closes (a claim is cancelled instead, see peer_eof).
 * All parsing goes through http_feed, which needs no socket: the fuzzer
 * (tests/fuzz/fuzz_http.c) feeds it the bytes the read callback would.
 *
 * A connection owns two handles (the socket and its timer) and is freed in
 * the close callback of the last one; while disk work for it is in flight
 * (c->held) the handler is asked (gone) whether it still needs it; if so it
 * is only marked, and the handler's answer closes it.
 *
 * Routes, tokens and claims are not this file's business: it is handed
 * callbacks (http.h) and calls nothing above it.
 *
 * Layer: 3 http
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

#define LINGER_MS 2000

/*
 * Headers that must come once (API.md): a repeat of one we keep would be
 * joined to the first with no separator, so two halves could make a token
 * or an allowed origin; a repeat of a framing header is an ambiguity
 * between us and any proxy in front (RFC 9112 sections 3.2 and 6.3).
 */
static const char *const single[] = {
	"authorization", "origin", "content-length", "content-type", "host",
	"transfer-encoding", "x-spool-token",
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	struct buf head;
	struct buf body;
};

static const http_parser_settings settings;
static void conn_parse(struct conn *c);
static void reply_early(struct conn *c, int soft);

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return "Unknown";
}

static void req_reset(struct request *r)
{
	struct buf url = r->url;
	free(r->path);
	buf_reset(&url);
	buf_release(&r->body);
	memset(r, 0, sizeof(*r));
	r->url = url;
	r->url.max = HTTP_URL_MAX;
}

#define req_fail http_fail

const double http_lat_le[LAT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 5,
};

static void stats_add(struct http_stats *m, int status, double seconds)
{
	int i;
	if (status < 100 || status > 599)
		status = 500;
	m->by_status[status]++;
	for (i = 0; i < LAT_BUCKETS && seconds > http_lat_le[i]; i++)
		;
	m->lat_bucket[i]++;
	m->lat_sum += seconds;
	m->lat_count++;
}

void http_fail(struct conn *c, int status, const char *fmt, ...)
{
	va_list ap;
	if (c->req.err)
		return;
	c->req.err = status;
	va_start(ap, fmt);
	vsnprintf(c->req.errmsg, sizeof(c->req.errmsg), fmt, ap);
	va_end(ap);
}

/* ---- closing ------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct http_server *hs = c->hs;
	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		hs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hs->nconns--;
	http_conn_release(c);
	free(c);
	if (hs->cb->freed)
		hs->cb->freed(hs->ud);
}

void http_conn_release(struct conn *c)
{
	buf_release(&c->req.url);
	buf_release(&c->req.body);
	free(c->req.path);
	c->req.path = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->roff = 0;
}

void conn_close(struct conn *c)
{
	c->eof = 1;
	if (c->closing)
		return;
	if (c->held) {
		if (c->hs->cb->gone(c))
			return;		/* its answer comes back here */
		c->held = NULL;
	}
	c->closing = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, on_close);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

/* ---- timers ----------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->lingering || c->closing || c->close_after) {
		conn_close(c);
	} else if (c->held) {
		c->hs->cb->timeout(c);
	} else if (c->busy) {
		/* being answered: it always answers */
	} else if (c->req.t0) {
		c->req.err = 0;
		req_fail(c, 408, "request not received within %lld ms",
			 (long long)c->hs->cfg.request_ms);
		reply_early(c, 0);
	} else {
		conn_close(c);
	}
}

static void timer_set(struct conn *c, int64_t ms)
{
	uv_timer_start(&c->timer, on_timer, ms > 0 ? (uint64_t)ms : 0, 0);
}

void http_hold(struct conn *c, void *req)
{
	c->held = req;
}

void http_hold_timer(struct conn *c, int64_t ms)
{
	timer_set(c, ms);
}

/* ---- writing ----------------------------------------------------------------- */

static void reading_resume(struct conn *c);

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;	/* the linger timer or the peer's EOF closes */
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;
	buf_release(&w->head);
	buf_release(&w->body);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->close_after &&
	    !uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp)) {
		if (!c->lingering || c->rd_eof) {
			conn_close(c);
			return;
		}
		/* FIN now, so the peer sees the end; drain its input until it
		 * closes too or the linger timer fires */
		if (!c->shut_sent) {
			c->shut_sent = 1;
			uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown);
		}
		return;
	}
	if (!c->busy && !c->close_after)
		conn_parse(c);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", remade once a second. */
static const char *http_date(struct http_server *hs)
{
	time_t t = time(NULL);
	if ((int64_t)t != hs->date_s) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(hs->date, sizeof(hs->date), "%a, %d %b %Y %H:%M:%S GMT",
			 &tm);
		hs->date_s = (int64_t)t;
	}
	return hs->date;
}

static int cors_ok(struct conn *c)
{
	const char *o = c->hs->cfg.allow_origin;
	return o && c->req.origin[0] && !strcmp(o, c->req.origin);
}

/*
 * The common answer path: head built here, body taken over from *body
 * (which is left empty). Finishes the request.
 */
static void reply_buf(struct conn *c, int status, const char *ctype,
		      struct buf *body, const char *extra)
{
	struct http_server *hs = c->hs;
	struct wreq *w;
	uv_buf_t bufs[2];
	int nbufs = 1, close;
	double secs = c->req.t0 ? (uv_hrtime() - c->req.t0) / 1e9 : 0;

	c->held = NULL;
	stats_add(&hs->st, status, secs);
	if (hs->cb->answered)
		hs->cb->answered(c, status, c->req.t0 ? uv_hrtime() - c->req.t0 : 0);
	if (c->closing || c->eof) {
		buf_release(body);
		c->busy = 0;
		conn_close(c);
		return;
	}
	close = !c->keep_alive || hs->draining || c->lingering;
	w = calloc(1, sizeof(*w));
	if (!w) {
		buf_release(body);
		conn_close(c);
		return;
	}
	w->c = c;
	buf_init(&w->head, 8192);
	w->body = *body;
	buf_init(body, body->max);
	buf_printf(&w->head, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
		   http_reason(status), http_date(hs));
	if (status != 204 && status != 100)
		buf_printf(&w->head, "Content-Type: %s\r\nContent-Length: %zu\r\n",
			   ctype ? ctype : "application/json", w->body.len);
	if (close)
		buf_puts(&w->head, "Connection: close\r\n");
	if (cors_ok(c))
		buf_printf(&w->head, "Access-Control-Allow-Origin: %s\r\n"
			   "Vary: Origin\r\n", hs->cfg.allow_origin);
	if (extra)
		buf_puts(&w->head, extra);
	buf_puts(&w->head, "\r\n");
	bufs[0] = uv_buf_init(w->head.data, (unsigned)w->head.len);
	if (w->body.len && status != 204) {
		bufs[1] = uv_buf_init(w->body.data, (unsigned)w->body.len);
		nbufs = 2;
	}
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write) < 0) {
		buf_release(&w->head);
		buf_release(&w->body);
		free(w);
		c->busy = 0;
		conn_close(c);
		return;
	}
	c->busy = 0;
	if (close) {
		c->close_after = 1;
		timer_set(c, c->lingering ? LINGER_MS : hs->cfg.idle_ms);
		reading_resume(c);	/* to see the peer's EOF */
		return;
	}
	req_reset(&c->req);
	timer_set(c, hs->cfg.idle_ms);
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <=
	    HTTP_WQUEUE_MAX)
		conn_parse(c);	/* the next pipelined request, if any */
}

void http_reply(struct conn *c, int status, const char *ctype,
		const char *body, size_t len, const char *extra)
{
	struct buf b;
	buf_init(&b, len + 1);
	if (len && buf_add(&b, body, len) < 0)
		status = 500;
	reply_buf(c, status, ctype, &b, extra);
}

void http_reply_take(struct conn *c, int status, const char *ctype,
		     struct buf *body, const char *extra)
{
	reply_buf(c, status, ctype, body, extra);
}

void http_error(struct conn *c, int status, const char *fmt, ...)
{
	char msg[512];
	struct buf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b, 2048);
	buf_puts(&b, "{\"error\": ");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}\n");
	reply_buf(c, status, NULL, &b,
		  status == 401 ? "WWW-Authenticate: Bearer realm=\"spool\"\r\n"
				: NULL);
}

/*
 * Answer the error found while receiving. A soft one (the request was read
 * whole) keeps the connection; otherwise answer, then linger and close.
 */
static void reply_early(struct conn *c, int soft)
{
	char allow[80] = "";
	struct buf b;

	if (!soft)
		c->lingering = 1;
	if (c->req.err == 405)
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", c->req.allow);
	else if (c->req.err == 401)
		snprintf(allow, sizeof(allow),
			 "WWW-Authenticate: Bearer realm=\"spool\"\r\n");
	if (!c->req.err)
		req_fail(c, 400, "bad request");
	buf_init(&b, 1024);
	buf_puts(&b, "{\"error\": ");
	buf_json_str(&b, c->req.errmsg, strlen(c->req.errmsg));
	buf_puts(&b, "}\n");
	reply_buf(c, c->req.err, NULL, &b, allow[0] ? allow : NULL);
}

/* ---- parser callbacks ---------------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
	struct conn *c = p->data;
	req_reset(&c->req);
	c->req.t0 = uv_hrtime();
	timer_set(c, c->hs->cfg.request_ms);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	c->req.hbytes += len;
	if (buf_add(&c->req.url, at, len) < 0) {
		req_fail(c, 414, "request target longer than %d bytes",
			 HTTP_URL_MAX);
		return -1;
	}
	return 0;
}

static int header_bytes(struct conn *c, size_t len)
{
	c->req.hbytes += len;
	if (c->req.hbytes > HTTP_HEADERS_MAX) {
		req_fail(c, 431, "headers longer than %d bytes",
			 HTTP_HEADERS_MAX);
		return -1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct request *r = &c->req;
	if (header_bytes(c, len) < 0)
		return -1;
	if (r->in_value || !r->nheaders) {
		if (++r->nheaders > HTTP_NHEADERS_MAX) {
			req_fail(c, 431, "more than %d header lines",
				 HTTP_NHEADERS_MAX);
			return -1;
		}
		r->in_value = 0;
		r->flen = 0;
		r->field_ws = 0;
	}
	/* http_parser takes "Name : value" as "Name " (RFC 9112 section 5.1:
	 * no whitespace before the colon, answer 400); only the last byte
	 * of the name can tell, whatever the chunks */
	if (len)
		r->field_ws = at[len - 1] == ' ' || at[len - 1] == '\t';
	if (r->flen + len < sizeof(r->field)) {
		memcpy(r->field + r->flen, at, len);
		r->flen += len;
	} else {
		r->flen = sizeof(r->field) - 1;	/* too long to be one of ours */
		r->field[0] = 0;
	}
	r->field[r->flen] = 0;
	return 0;
}

static int add_value(struct conn *c, char *dst, size_t cap, const char *at,
		     size_t len)
{
	size_t have = strlen(dst);
	if (have + len >= cap) {
		req_fail(c, 431, "header '%s' too long", c->req.field);
		return -1;
	}
	memcpy(dst + have, at, len);
	dst[have + len] = 0;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct request *r = &c->req;
	if (header_bytes(c, len) < 0)
		return -1;
	if (!r->in_value) {
		size_t i;
		r->in_value = 1;
		if (r->field_ws) {
			req_fail(c, 400, "whitespace between a header name and "
				 "its colon");
			return -1;
		}
		for (i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
			if (strcasecmp(r->field, single[i]))
				continue;
			if (r->seen & 1u << i) {
				req_fail(c, 400, "header '%s' repeated", single[i]);
				return -1;
			}
			r->seen |= 1u << i;
		}
		if (!strcasecmp(r->field, "authorization"))
			r->target = H_AUTH;
		else if (!strcasecmp(r->field, "x-spool-token"))
			r->target = H_XTOKEN;
		else if (!strcasecmp(r->field, "origin"))
			r->target = H_ORIGIN;
		else if (!strcasecmp(r->field, "expect"))
			r->target = H_EXPECT;
		else
			r->target = H_OTHER;
	}
	switch (r->target) {
	case H_AUTH:
		return add_value(c, r->auth, sizeof(r->auth), at, len);
	case H_XTOKEN:
		return add_value(c, r->xtoken, sizeof(r->xtoken), at, len);
	case H_ORIGIN:
		return add_value(c, r->origin, sizeof(r->origin), at, len);
	case H_EXPECT:
		if (len >= 12 && !strncasecmp(at, "100-continue", 12))
			r->expect_continue = 1;
		return 0;
	case H_OTHER:
		return 0;
	}
	return 0;
}

/* Split the target into decoded path segments and the raw query. */
static int parse_target(struct conn *c)
{
	struct request *r = &c->req;
	struct http_parser_url u;
	size_t plen, qlen = 0;
	char *s;

	if (!r->url.len || !r->url.data) {
		req_fail(c, 400, "empty request target");
		return -1;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(r->url.data, r->url.len, 0, &u) ||
	    !(u.field_set & (1 << UF_PATH))) {
		req_fail(c, 400, "bad request target");
		return -1;
	}
	plen = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY))
		qlen = u.field_data[UF_QUERY].len;
	free(r->path);
	if (!(r->path = malloc(plen + qlen + 2))) {
		req_fail(c, 503, "out of memory");
		return -1;
	}
	memcpy(r->path, r->url.data + u.field_data[UF_PATH].off, plen);
	r->path[plen] = 0;
	if (u.field_set & (1 << UF_QUERY)) {
		memcpy(r->path + plen + 1, r->url.data + u.field_data[UF_QUERY].off,
		       qlen);
	}
	r->path[plen + 1 + qlen] = 0;
	r->query = r->path + plen + 1;

	/* "/a/b/" -> segments a, b; each percent-decoded, NUL refused; an
	 * empty one ("/a//b") names nothing (no route has one) */
	r->nseg = 0;
	s = r->path;
	if (*s != '/') {
		req_fail(c, 400, "request target must start with '/'");
		return -1;
	}
	while (*s == '/') {
		*s++ = 0;
		if (!*s)
			break;
		if (*s == '/' ||
		    r->nseg == (int)(sizeof(r->seg) / sizeof(r->seg[0]))) {
			req_fail(c, 404, "no such path");
			return -1;
		}
		r->seg[r->nseg++] = s;
		s += strcspn(s, "/");
	}
	/* decode after splitting, so %2F cannot make a new segment */
	{
		int i;
		for (i = 0; i < r->nseg; i++)
			if (url_decode(r->seg[i], 0) < 0) {
				req_fail(c, 400, "bad percent-escape in path");
				return -1;
			}
	}
	return 0;
}

/* An error that leaves the framing intact: the body (if small) is read and
 * dropped, and the error answered in turn, keeping the connection. */
static int soft_fail(struct conn *c, http_parser *p)
{
	c->req.soft = 1;
	if (c->req.expect_continue ||
	    ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTP_BODY_DEFAULT)) {
		/* the body is not worth waiting for (or not even sent yet) */
		c->req.soft = 0;
		return -1;
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;
	struct http_server *hs = c->hs;
	struct request *r = &c->req;
	size_t max;

	r->method = p->method;
	if (p->upgrade) {
		req_fail(c, 400, "protocol upgrade not supported");
		return -1;
	}
	if (hs->draining) {
		req_fail(c, 503, "shutting down");
		return -1;
	}
	r->bad_target = parse_target(c) < 0;
	/* a CORS preflight carries no credentials: it is answered here, and
	 * says nothing but the methods and headers allowed */
	if (r->method == HTTP_OPTIONS) {
		if (r->bad_target)
			return soft_fail(c, p);
		r->preflight = 1;
		max = HTTP_BODY_DEFAULT;
	} else {
		/* the route callback checks the token before it looks at the
		 * target's errors or the routes (an error kept from parsing the
		 * target is its to replace) */
		if (hs->cb->route(c) < 0 || r->bad_target)
			return soft_fail(c, p);
		max = r->body_max;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > max) {
		req_fail(c, 413, "body of %llu bytes is over the limit of %zu",
			 (unsigned long long)p->content_length, max);
		return -1;
	}
	buf_init(&r->body, max);
	if (r->expect_continue && (p->flags & (F_CONTENTLENGTH | F_CHUNKED))) {
		static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
		uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	if (c->req.err) {
		c->req.discarded += len;
		if (c->req.discarded <= HTTP_BODY_DEFAULT)
			return 0;
		c->req.soft = 0;
		return -1;
	}
	if (buf_add(&c->req.body, at, len) < 0) {
		req_fail(c, 413, "body over the limit of %zu bytes",
			 c->req.body.max);
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = p->data;
	c->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

static void preflight_answer(struct conn *c)
{
	if (cors_ok(c))
		http_reply(c, 204, NULL, NULL, 0,
			   "Access-Control-Allow-Methods: GET, POST\r\n"
			   "Access-Control-Allow-Headers: Authorization, "
			   "Content-Type, X-Spool-Token\r\n"
			   "Access-Control-Max-Age: 600\r\n");
	else
		http_error(c, 403, "origin not allowed");
}

static void request_handle(struct conn *c)
{
	c->busy = 1;
	uv_timer_stop(&c->timer);
	if (c->req.err)
		reply_early(c, 1);
	else if (c->req.preflight)
		preflight_answer(c);
	else
		c->hs->cb->request(c);
}

size_t http_feed(struct conn *c, const char *buf, size_t len,
		 enum http_feed *out)
{
	size_t n = http_parser_execute(&c->parser, &settings, buf, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

	*out = HTTP_FEED_MORE;
	if (e == HPE_PAUSED) {
		http_parser_pause(&c->parser, 0);
		*out = HTTP_FEED_REQUEST;
	} else if (e != HPE_OK) {
		if (!c->req.err)
			req_fail(c, 400, "bad request: %s",
				 http_errno_description(e));
		*out = HTTP_FEED_ERROR;
	}
	return n;
}

/* 1 when nothing of c is in progress: no request being answered or held,
 * no answer that closes, no bytes waiting to be parsed. */
static int conn_idle(const struct conn *c)
{
	return !c->busy && !c->held && !c->closing &&
	       !c->lingering && !c->close_after && c->roff == c->rlen;
}

/*
 * The peer half-closed and everything it sent is answered: a request it
 * cut short is a 400; then close, once the answers are out.
 */
static void conn_input_end(struct conn *c)
{
	enum http_feed st;

	http_feed(c, NULL, 0, &st);
	if (st == HTTP_FEED_ERROR) {
		if (!c->req.t0)
			c->req.t0 = uv_hrtime();
		reply_early(c, 0);
	} else if (!uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp)) {
		conn_close(c);
	} else {
		c->close_after = 1;	/* on_write closes */
	}
}

static void conn_parse(struct conn *c)
{
	if (c->in_parse || c->closing)
		return;
	c->in_parse = 1;
	while (c->roff < c->rlen && !c->busy && !c->closing && !c->lingering &&
	       !c->close_after) {
		enum http_feed st;
		c->roff += http_feed(c, c->rbuf + c->roff, c->rlen - c->roff, &st);
		if (st == HTTP_FEED_REQUEST) {
			request_handle(c);
			continue;
		}
		if (st == HTTP_FEED_ERROR)
			reply_early(c, 0);
		break;
	}
	if (c->roff == c->rlen) {
		c->roff = c->rlen = 0;
		free(c->rbuf);	/* nothing waits: give the memory back */
		c->rbuf = NULL;
	} else if (c->roff) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (c->rd_eof && conn_idle(c))
		conn_input_end(c);
	c->in_parse = 0;
	reading_resume(c);
}

/* ---- reading ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct conn *c = h->data;
	if (c->lingering || c->close_after)
		c->rlen = c->roff = 0;	/* discard */
	if (!c->rbuf && !(c->rbuf = malloc(HTTP_RBUF))) {
		b->base = NULL;	/* libuv reads this as UV_ENOBUFS */
		b->len = 0;
		return;
	}
	b->base = c->rbuf + c->rlen;
	b->len = HTTP_RBUF - c->rlen;
}

/*
 * The peer sent its FIN. It may only have half-closed (HTTP/1.0 style:
 * send, shutdown, read), so what it sent is answered before we close; a
 * peer that is really gone makes the write fail, which closes too. The
 * two cannot be told apart, so a route whose answer must be heard (a
 * claim) is cancelled instead: a long-poll still waiting is answered at
 * once (nothing was claimed for it), one being made is dropped (its op
 * gives the order back), and no order goes to a claimer that may have left.
 */
static void peer_eof(struct conn *c)
{
	c->rd_eof = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = 0;
	if (c->lingering || c->close_after) {
		/* the end we waited for; close once the answer is out */
		if (!uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp))
			conn_close(c);
		return;
	}
	if (c->held) {
		c->hs->cb->fin(c);	/* a long poll may answer at once */
		return;
	}
	if (!c->busy)
		conn_parse(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;
	if (nread == UV_ENOBUFS || nread == 0) {
		if (nread == UV_ENOBUFS) {
			uv_read_stop(s);
			c->reading = 0;
		}
		return;
	}
	if (nread == UV_EOF) {
		peer_eof(c);
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (c->lingering || c->close_after) {
		c->rlen = 0;
		return;
	}
	c->rlen += nread;
	if (!c->busy)
		conn_parse(c);
}

static void reading_resume(struct conn *c)
{
	if (c->closing || c->reading || c->rd_eof)
		return;
	if (c->rlen >= HTTP_RBUF)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = 1;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- accepting ---------------------------------------------------------------- */

void http_conn_init(struct conn *c, struct http_server *hs)
{
	c->hs = hs;
	/* process-wide in http_parser; our own ceilings (414, 431) come
	 * first, this is the parser's backstop */
	http_parser_set_max_header_size(HTTP_HEADERS_MAX + HTTP_URL_MAX + 1024);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	buf_init(&c->req.url, HTTP_URL_MAX);
	req_reset(&c->req);
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct http_server *hs = ls->data;
	struct conn *c;

	if (status < 0 || hs->draining)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->hs = hs;
	uv_tcp_init(hs->loop, &c->tcp);
	uv_timer_init(hs->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	c->next = hs->conns;
	if (hs->conns)
		hs->conns->prev = c;
	hs->conns = c;
	hs->nconns++;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (hs->nconns > hs->cfg.max_conns) {
		static char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			"Content-Type: application/json\r\nContent-Length: 34\r\n"
			"Connection: close\r\n\r\n"
			"{\"error\": \"too many connections\"}\n";
		uv_buf_t b = uv_buf_init(busy, sizeof(busy) - 1);
		uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		stats_add(&hs->st, 503, 0);
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	http_conn_init(c, hs);
	timer_set(c, hs->cfg.idle_ms);
	reading_resume(c);
}

void http_init(struct http_server *hs, uv_loop_t *loop,
	       const struct http_config *cfg, const struct http_callbacks *cb,
	       void *ud, const struct logger *log)
{
	memset(hs, 0, sizeof(*hs));
	hs->loop = loop;
	hs->cfg = *cfg;
	hs->cb = cb;
	hs->ud = ud;
	hs->log = log;
}

int http_listen(struct http_server *hs)
{
	struct sockaddr_storage ss;
	int rc, namelen = sizeof(ss);
	char host[64];
	int port;

	if (strchr(hs->cfg.host, ':'))
		rc = uv_ip6_addr(hs->cfg.host, hs->cfg.port,
				 (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(hs->cfg.host, hs->cfg.port,
				 (struct sockaddr_in *)&ss);
	if (rc < 0)
		return rc;
	uv_tcp_init(hs->loop, &hs->listener);
	hs->listener.data = hs;
	rc = uv_tcp_bind(&hs->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&hs->listener, 511, on_connection);
	if (rc < 0) {
		uv_close((uv_handle_t *)&hs->listener, NULL);
		return rc;
	}
	hs->listening = 1;
	uv_tcp_getsockname(&hs->listener, (struct sockaddr *)&ss, &namelen);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		uv_ip6_name(a, host, sizeof(host));
		port = ntohs(a->sin6_port);
		printf("listening on [%s]:%d\n", host, port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		uv_ip4_name(a, host, sizeof(host));
		port = ntohs(a->sin_port);
		printf("listening on %s:%d\n", host, port);
	}
	fflush(stdout);
	say(hs->log, "listening on %s port %d", host, port);
	return 0;
}

void http_stop(struct http_server *hs)
{
	struct conn *c, *next;
	hs->draining = 1;
	if (hs->listening) {
		uv_close((uv_handle_t *)&hs->listener, NULL);
		hs->listening = 0;
	}
	for (c = hs->conns; c; c = next) {
		next = c->next;
		/* busy ones answer first; close_after ones close once their
		 * last answer is written (closing now would cancel it) */
		if (!c->busy && !c->held && !c->close_after)
			conn_close(c);
	}
}
