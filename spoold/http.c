/*
 * http: connections, HTTP/1.1 parsing with nodejs/http-parser, answers.
 *
 * One request at a time per connection: when a message is complete the
 * parser is paused and the request handled; bytes of pipelined requests wait
 * in a read buffer of the connection's own (HTTP_RBUF; when it is full we
 * stop reading) and are parsed once the answer is queued, so answers go out
 * in request order. Every part of a request has a ceiling: the target (414),
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
 * Memory (issue 10): a connection that waits (idle, or a long poll held by
 * its handler) holds its struct conn, its decoded target and its body, no
 * more. Reads land in the server's one buffer (hs->rbuf) and are parsed
 * from there; only bytes left over (pipelined behind a request being
 * answered) get a buffer of the connection's own, freed once parsed. What
 * only receiving needs (the target's bytes, the headers we keep, an error's
 * text) is a scratch allocated at a request's first byte and freed once
 * its handler returns. The timers are one libuv timer over a heap of
 * deadlines (tick_*).
 *
 * A connection owns one handle (the socket) and is freed in its close
 * callback; while disk work for it is in flight
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
#include <stddef.h>
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

static const char none[] = "";	/* a request's strings without a scratch */

struct wreq {
	uv_write_t req;
	struct conn *c;
	struct buf head;
	struct buf body;
};

static const http_parser_settings settings;
static void conn_parse(struct conn *c);
static void reply_early(struct conn *c, int soft);
static void timer_stop(struct conn *c);
static void heap_trim(struct http_server *hs);
static void tick_close(struct http_server *hs);

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

/* Free the scratch, keeping what the answer needs of it (the CORS check). */
static void scratch_drop(struct http_server *hs, struct request *r)
{
	struct http_scratch *s = r->scratch;
	if (!s)
		return;
	r->cors = hs->cfg.allow_origin && s->origin[0] &&
		  !strcmp(hs->cfg.allow_origin, s->origin);
	buf_release(&s->url);
	free(s->path);
	free(s);
	r->scratch = NULL;
	r->seg = NULL;
	r->nseg = 0;
	r->query = NULL;
	r->auth = r->xtoken = r->errmsg = none;
	r->allow = (char *)none;
}

static void req_reset(struct http_server *hs, struct request *r)
{
	scratch_drop(hs, r);
	buf_release(&r->body);
	memset(r, 0, sizeof(*r));
	r->auth = r->xtoken = r->errmsg = none;
	r->allow = (char *)none;
}

/* A scratch for the request just begun; -1 when out of memory. */
static int scratch_new(struct request *r)
{
	struct http_scratch *s = malloc(sizeof(*s));
	if (!s)
		return -1;
	memset(s, 0, offsetof(struct http_scratch, auth));
	s->auth[0] = s->xtoken[0] = s->origin[0] = s->errmsg[0] = s->allow[0] = 0;
	s->path = NULL;
	buf_init(&s->url, HTTP_URL_MAX);
	r->scratch = s;
	r->auth = s->auth;
	r->xtoken = s->xtoken;
	r->errmsg = s->errmsg;
	r->allow = s->allow;
	return 0;
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
	c->req.err = (short)status;
	/* (an error before a request began, a bad first byte, has none yet) */
	if (!c->req.scratch && scratch_new(&c->req) < 0)
		return;		/* out of memory: the reason phrase says it */
	va_start(ap, fmt);
	vsnprintf(c->req.scratch->errmsg, HTTP_ERRMSG_MAX, fmt, ap);
	va_end(ap);
}

/* ---- closing ------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct http_server *hs = c->hs;
	if (c->prev)
		c->prev->next = c->next;
	else
		hs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hs->nconns--;
	http_conn_release(c);
	free(c);
	heap_trim(hs);
	if (hs->draining && !hs->nconns)
		tick_close(hs);
	if (hs->cb->freed)
		hs->cb->freed(hs->ud);
}

void http_conn_release(struct conn *c)
{
	timer_stop(c);
	req_reset(c->hs, &c->req);
	if (!c->rbuf_shared)
		free(c->rbuf);
	c->rbuf = NULL;
	c->rbuf_shared = 0;
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
	timer_stop(c);
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* ---- timers ----------------------------------------------------------------- */

/*
 * Each connection has one deadline at most (c->due, loop ms), kept in a
 * binary min-heap (hs->theap; c->tslot is 1 + its index); hs->tick, the
 * one libuv timer, is set for the heap's top. Until http_listen there is
 * no tick (the unit tests and the fuzzer run no loop): the heap is kept
 * all the same.
 */
static int due_before(const struct conn *a, const struct conn *b)
{
	return a->due < b->due;
}

static void heap_put(struct http_server *hs, uint32_t i, struct conn *c)
{
	hs->theap[i] = c;
	c->tslot = i + 1;
}

static void heap_up(struct http_server *hs, uint32_t i)
{
	struct conn *c = hs->theap[i];
	while (i > 0) {
		uint32_t up = (i - 1) / 2;
		if (!due_before(c, hs->theap[up]))
			break;
		heap_put(hs, i, hs->theap[up]);
		i = up;
	}
	heap_put(hs, i, c);
}

static void heap_down(struct http_server *hs, uint32_t i)
{
	struct conn *c = hs->theap[i];
	for (;;) {
		uint32_t l = 2 * i + 1, m = l;
		if (l >= hs->tn)
			break;
		if (l + 1 < hs->tn && due_before(hs->theap[l + 1], hs->theap[l]))
			m = l + 1;
		if (!due_before(hs->theap[m], c))
			break;
		heap_put(hs, i, hs->theap[m]);
		i = m;
	}
	heap_put(hs, i, c);
}

static void on_tick(uv_timer_t *t);

/* With no connection left, give the heap's memory back. */
static void heap_trim(struct http_server *hs)
{
	if (hs->tn || hs->nconns)
		return;
	free(hs->theap);
	hs->theap = NULL;
	hs->tcap = 0;
}

/* Room in the heap for n connections' timers; -ENOMEM. */
static int heap_reserve(struct http_server *hs, uint32_t n)
{
	struct conn **h;
	uint32_t cap = hs->tcap ? hs->tcap : 64;
	if (n <= hs->tcap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (!(h = realloc(hs->theap, cap * sizeof(*h))))
		return -ENOMEM;
	hs->theap = h;
	hs->tcap = cap;
	return 0;
}

/* Set the tick for the heap's top (or stop it), when that changed. */
static void tick_arm(struct http_server *hs)
{
	uint64_t due, now;
	if (!hs->ticking)
		return;
	if (!hs->tn) {
		if (hs->tick_due)
			uv_timer_stop(&hs->tick);
		hs->tick_due = 0;
		return;
	}
	due = hs->theap[0]->due;
	if (due == hs->tick_due)
		return;
	now = uv_now(hs->loop);
	hs->tick_due = due;
	uv_timer_start(&hs->tick, on_tick, due > now ? due - now : 0, 0);
}

static void timer_stop(struct conn *c)
{
	struct http_server *hs = c->hs;
	uint32_t i;
	if (!c->tslot)
		return;
	i = c->tslot - 1;
	c->tslot = 0;
	if (i != --hs->tn) {
		struct conn *last = hs->theap[hs->tn];
		heap_put(hs, i, last);
		heap_up(hs, i);
		heap_down(hs, last->tslot - 1);
	}
	heap_trim(hs);
	if (!hs->in_tick)
		tick_arm(hs);
}

static void on_timer(struct conn *c)
{
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

/* Run on_timer for c ms from now (replacing its deadline, if any). */
static void timer_set(struct conn *c, int64_t ms)
{
	struct http_server *hs = c->hs;
	uint64_t now = uv_now(hs->loop);
	uint64_t due = now + (ms > 0 ? (uint64_t)ms : 0);
	/* one set while the tick runs waits for the next one (a 0 ms timer
	 * re-armed by its own callback must not spin this turn) */
	if (hs->in_tick && due <= now)
		due = now + 1;
	if (c->tslot) {
		uint32_t i = c->tslot - 1;
		int sooner = due < c->due;
		c->due = due;
		if (sooner)
			heap_up(hs, i);
		else
			heap_down(hs, i);
		if (!hs->in_tick)
			tick_arm(hs);
		return;
	}
	/* (on_connection reserved room for every connection) */
	if (heap_reserve(hs, hs->tn + 1) < 0) {
		conn_close(c);		/* no timer for it: close it */
		return;
	}
	c->due = due;
	hs->theap[hs->tn] = c;
	heap_up(hs, hs->tn++);
	if (!hs->in_tick)
		tick_arm(hs);
}

/* The soonest deadlines are due: run them (each may set new ones). */
static void on_tick(uv_timer_t *t)
{
	struct http_server *hs = t->data;
	uint64_t now = uv_now(hs->loop);
	hs->tick_due = 0;
	hs->in_tick = 1;
	while (hs->tn && hs->theap[0]->due <= now) {
		struct conn *c = hs->theap[0];
		timer_stop(c);
		on_timer(c);
	}
	hs->in_tick = 0;
	tick_arm(hs);
}

static void tick_close(struct http_server *hs)
{
	if (!hs->ticking)
		return;
	uv_close((uv_handle_t *)&hs->tick, NULL);
	hs->ticking = 0;
	hs->tick_due = 0;
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
	(void)status;	/* the linger timer or the peer's EOF closes */
	free(req);	/* (called, with UV_ECANCELED, if the socket closes first) */
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
			uv_shutdown_t *sh = malloc(sizeof(*sh));
			c->shut_sent = 1;
			/* (without it the linger timer still closes) */
			if (sh && uv_shutdown(sh, (uv_stream_t *)&c->tcp,
					      on_shutdown) < 0)
				free(sh);
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

int http_origin_valid(const char *o)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *s = o;
	size_t n;

	if (strlen(o) >= HTTP_ORIGIN_MAX)
		return 0;	/* longer than any Origin a request may carry */
	if (*s < 'a' || *s > 'z')
		return 0;
	s += strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+-.");	/* scheme */
	if (strncmp(s, "://", 3))
		return 0;
	s += 3;
	if (*s == '[') {
		n = strspn(s + 1, "0123456789abcdef:.");
		if (!n || s[1 + n] != ']')
			return 0;
		s += n + 2;
	} else {
		if (!*s || !strchr(alnum, *s))
			return 0;	/* a name begins with a letter or digit */
		s += strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.");
	}
	if (*s == ':') {
		n = strspn(++s, "0123456789");
		if (!n || n > 5 || atol(s) < 1 || atol(s) > 65535)
			return 0;
		s += n;
	}
	return !*s;
}

static int cors_ok(struct conn *c)
{
	const char *o = c->hs->cfg.allow_origin;
	const struct http_scratch *s = c->req.scratch;
	if (!s)
		return c->req.cors;	/* judged when the scratch went */
	return o && s->origin[0] && !strcmp(o, s->origin);
}

/* The head of an answer with a body of blen bytes, into h: 0, or -E2BIG
 * past HTTP_HEAD_MAX (extra lines too long), -ENOMEM. */
static int head_build(struct conn *c, struct buf *h, int status,
		      const char *ctype, size_t blen, int close,
		      const char *extra)
{
	struct http_server *hs = c->hs;
	int rc = buf_printf(h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
			    http_reason(status), http_date(hs));
	if (!rc && status != 204 && status != 100)
		rc = buf_printf(h, "Content-Type: %s\r\nContent-Length: %zu\r\n",
				ctype ? ctype : "application/json", blen);
	if (!rc && close)
		rc = buf_puts(h, "Connection: close\r\n");
	if (!rc && cors_ok(c))
		rc = buf_printf(h, "Access-Control-Allow-Origin: %s\r\n"
				"Vary: Origin\r\n", hs->cfg.allow_origin);
	if (!rc && extra)
		rc = buf_puts(h, extra);
	if (!rc)
		rc = buf_puts(h, "\r\n");
	return rc;
}

/* What is sent when an answer's head cannot be built: a head with a line
 * missing would be read on into its body, and every answer after it. */
static char head_failed[] = "HTTP/1.1 500 Internal Server Error\r\n"
	"Content-Type: application/json\r\nContent-Length: 36\r\n"
	"Connection: close\r\n\r\n"
	"{\"error\": \"cannot make the answer\"}\n";

/*
 * The common answer path: head built here, body taken over from *body
 * (which is left empty). Finishes the request.
 */
static void reply_buf(struct conn *c, int status, const char *ctype,
		      struct buf *body, const char *extra)
{
	struct http_server *hs = c->hs;
	struct wreq *w = NULL;
	uv_buf_t bufs[2];
	int nbufs = 1, close;
	double secs = c->req.t0 ? (uv_hrtime() - c->req.t0) / 1e9 : 0;

	c->held = NULL;
	close = !c->keep_alive || hs->draining || c->lingering;
	if (!c->closing && !c->eof && (w = calloc(1, sizeof(*w)))) {
		w->c = c;
		buf_init(&w->head, HTTP_HEAD_MAX);
		w->body = *body;
		buf_init(body, body->max);
		if (head_build(c, &w->head, status, ctype, w->body.len, close,
			       extra) < 0) {
			buf_release(&w->head);
			buf_release(&w->body);
			status = 500;
			close = 1;
			c->lingering = 1;	/* so the peer reads it */
		}
	}
	/* counted as what is sent: the 500, when the head failed */
	stats_add(&hs->st, status, secs);
	if (hs->cb->answered)
		hs->cb->answered(c, status, c->req.t0 ? uv_hrtime() - c->req.t0 : 0);
	if (!w) {
		buf_release(body);
		c->busy = 0;
		conn_close(c);
		return;
	}
	if (w->head.data)
		bufs[0] = uv_buf_init(w->head.data, (unsigned)w->head.len);
	else
		bufs[0] = uv_buf_init(head_failed, sizeof(head_failed) - 1);
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
	req_reset(hs, &c->req);
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
	/* room for the message escaped whole: \u00XX is 6 bytes a byte */
	buf_init(&b, sizeof(msg) * 6 + 32);
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
	const char *msg = c->req.errmsg;
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
	if (!c->req.errmsg[0])
		msg = http_reason(c->req.err);	/* no scratch: out of memory */
	buf_init(&b, HTTP_ERRMSG_MAX * 6 + 32);	/* escaped whole, as above */
	buf_puts(&b, "{\"error\": ");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}\n");
	reply_buf(c, c->req.err, NULL, &b, allow[0] ? allow : NULL);
}

/* ---- parser callbacks ---------------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
	struct conn *c = p->data;
	req_reset(c->hs, &c->req);
	c->req.t0 = uv_hrtime();
	timer_set(c, c->hs->cfg.request_ms);
	if (scratch_new(&c->req) < 0) {
		req_fail(c, 503, "out of memory");
		return -1;
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	c->req.scratch->hbytes += len;
	if (buf_add(&c->req.scratch->url, at, len) < 0) {
		req_fail(c, 414, "request target longer than %d bytes",
			 HTTP_URL_MAX);
		return -1;
	}
	return 0;
}

static int header_bytes(struct conn *c, size_t len)
{
	struct http_scratch *s = c->req.scratch;
	s->hbytes += len;
	if (s->hbytes > HTTP_HEADERS_MAX) {
		req_fail(c, 431, "headers longer than %d bytes",
			 HTTP_HEADERS_MAX);
		return -1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct http_scratch *r = c->req.scratch;
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
		req_fail(c, 431, "header '%s' too long", c->req.scratch->field);
		return -1;
	}
	memcpy(dst + have, at, len);
	dst[have + len] = 0;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct http_scratch *r = c->req.scratch;
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
	struct http_scratch *sc = r->scratch;
	const struct buf *url = &sc->url;
	struct http_parser_url u;
	size_t plen, qlen = 0;
	char *s, *path;

	if (!url->len || !url->data) {
		req_fail(c, 400, "empty request target");
		return -1;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(url->data, url->len, 0, &u) ||
	    !(u.field_set & (1 << UF_PATH))) {
		req_fail(c, 400, "bad request target");
		return -1;
	}
	plen = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY))
		qlen = u.field_data[UF_QUERY].len;
	free(sc->path);
	if (!(sc->path = path = malloc(plen + qlen + 2))) {
		req_fail(c, 503, "out of memory");
		return -1;
	}
	memcpy(path, url->data + u.field_data[UF_PATH].off, plen);
	path[plen] = 0;
	if (u.field_set & (1 << UF_QUERY)) {
		memcpy(path + plen + 1, url->data + u.field_data[UF_QUERY].off,
		       qlen);
	}
	path[plen + 1 + qlen] = 0;
	r->query = path + plen + 1;
	r->seg = sc->seg;

	/* "/a/b/" -> segments a, b; each percent-decoded, NUL refused; an
	 * empty one ("/a//b") names nothing (no route has one) */
	r->nseg = 0;
	s = path;
	if (*s != '/') {
		req_fail(c, 400, "request target must start with '/'");
		return -1;
	}
	while (*s == '/') {
		*s++ = 0;
		if (!*s)
			break;
		if (*s == '/' ||
		    r->nseg == HTTP_SEG_MAX) {
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
	if (c->req.scratch->expect_continue ||
	    ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTP_BODY_DEFAULT)) {
		/* the body is not worth waiting for (or not even sent yet) */
		c->req.soft = 0;
		return -1;
	}
	return 0;
}

/*
 * The interim 100 Continue, queued behind the answers not sent yet like
 * any write: a uv_try_write fails while they wait (the 100 is lost and the
 * client stalls) or writes part of it (a torn head). -1 without memory; a
 * socket that takes no write fails the answer too, which closes it.
 */
static int continue_send(struct conn *c)
{
	static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
	struct wreq *w = calloc(1, sizeof(*w));	/* (no head, no body) */
	if (!w)
		return -1;
	w->c = c;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0)
		free(w);
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
	/* the target's bytes are decoded into r->path: they are done with */
	buf_release(&r->scratch->url);
	if (r->scratch->expect_continue &&
	    (p->flags & (F_CONTENTLENGTH | F_CHUNKED)) && continue_send(c) < 0) {
		req_fail(c, 503, "out of memory");
		return -1;
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

/* Called from conn_parse only (in_parse is set): no other request of c can
 * begin before this returns, so a scratch still there is this request's. */
static void request_handle(struct conn *c)
{
	c->busy = 1;
	timer_stop(c);
	if (c->req.err)
		reply_early(c, 1);
	else if (c->req.preflight)
		preflight_answer(c);
	else
		c->hs->cb->request(c);
	/* answered later (a long poll, disk work): keep only what the answer
	 * needs */
	if (!c->closing)
		scratch_drop(c->hs, &c->req);
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

/*
 * After parsing: a buffer with nothing left in it is given back (or, the
 * shared one, returned); bytes left in the shared one (pipelined behind a
 * request being answered, or a read while busy) move to one of c's own.
 */
static void rbuf_settle(struct conn *c)
{
	size_t left = c->rlen - c->roff;
	char *own;

	/* (a connection that answered its last request reads only to see the
	 * peer's end: what it sends is discarded) */
	if (!left || c->closing || c->lingering || c->close_after) {
		if (!c->rbuf_shared)
			free(c->rbuf);
		c->rbuf = NULL;
		c->rbuf_shared = 0;
		c->rlen = c->roff = 0;
		return;
	}
	if (!c->rbuf_shared) {
		if (c->roff)
			memmove(c->rbuf, c->rbuf + c->roff, left);
	} else if ((own = malloc(HTTP_RBUF))) {
		memcpy(own, c->rbuf + c->roff, left);
		c->rbuf = own;
		c->rbuf_shared = 0;
	} else {
		c->rbuf = NULL;
		c->rbuf_shared = 0;
		c->rlen = c->roff = 0;
		conn_close(c);
		return;
	}
	c->rlen = (uint32_t)left;
	c->roff = 0;
}

static void conn_parse(struct conn *c)
{
	if (c->in_parse || c->closing)
		return;
	c->in_parse = 1;
	/* past HTTP_WQUEUE_MAX of unsent answers the bytes wait (on_write
	 * parses on): the connection's buffer fills and reading stops */
	while (c->roff < c->rlen && !c->busy && !c->closing && !c->lingering &&
	       !c->close_after &&
	       uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <=
	       HTTP_WQUEUE_MAX) {
		enum http_feed st;
		c->roff += (uint32_t)http_feed(c, c->rbuf + c->roff,
					       c->rlen - c->roff, &st);
		if (st == HTTP_FEED_REQUEST) {
			request_handle(c);
			continue;
		}
		if (st == HTTP_FEED_ERROR)
			reply_early(c, 0);
		break;
	}
	rbuf_settle(c);
	if (c->rd_eof && conn_idle(c))
		conn_input_end(c);
	c->in_parse = 0;
	reading_resume(c);
}

/* ---- reading ------------------------------------------------------------------ */

/* Into the bytes c keeps waiting, or else the shared buffer: libuv calls
 * on_read right after on_alloc, so one connection at a time borrows it. */
static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct conn *c = h->data;
	(void)want;
	if (c->lingering || c->close_after)
		c->rlen = c->roff = 0;	/* discard */
	if (!c->rbuf) {
		b->base = c->hs->rbuf;
		b->len = HTTP_RBUF;
		return;
	}
	b->base = c->rbuf + c->rlen;
	b->len = HTTP_RBUF - c->rlen;	/* 0 when full: UV_ENOBUFS */
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
	if (!c->rbuf) {
		c->rbuf = c->hs->rbuf;	/* lent until rbuf_settle */
		c->rbuf_shared = 1;
		c->rlen = c->roff = 0;
	}
	c->rlen += (uint32_t)nread;
	if (!c->busy)
		conn_parse(c);
	else
		rbuf_settle(c);
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
	req_reset(hs, &c->req);
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
	c->tcp.data = c;
	c->next = hs->conns;
	if (hs->conns)
		hs->conns->prev = c;
	hs->conns = c;
	hs->nconns++;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (hs->nconns > hs->cfg.max_conns ||
	    heap_reserve(hs, (uint32_t)hs->nconns) < 0) {
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
	uv_timer_init(hs->loop, &hs->tick);
	hs->tick.data = hs;
	hs->ticking = 1;
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
	if (!hs->nconns)
		tick_close(hs);
}
