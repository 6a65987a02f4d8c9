/*
 * http.h: the HTTP layer's contract (http.c, floor 3 "http").
 *
 * Bytes in, requests out; answers in, bytes out. The layer owns the
 * connections, the parser, the framing, the ceilings and the timeouts; it
 * knows no route, no token, no claim. What a request means is decided by
 * the callbacks it is handed (struct http_callbacks): route once the
 * headers are in, request once the request is whole, and, while a handler
 * holds a request past its return (http_hold), fin, timeout and gone.
 */
#ifndef SPOOLD_HTTP_H
#define SPOOLD_HTTP_H

#include <uv.h>
#include <http_parser.h>

#include "base.h"

/* ---- ceilings ------------------------------------------------------------ */

#define HTTP_URL_MAX	    8192	/* request target; more is 414 */
#define HTTP_HEADERS_MAX    16384	/* all header bytes; more is 431 */
#define HTTP_NHEADERS_MAX   100		/* header lines; more is 431 */
#define HTTP_RBUF	    16384	/* per-connection read buffer */
#define HTTP_BODY_DEFAULT   (64 << 10)	/* body of requests that take little */
#define HTTP_WQUEUE_MAX	    (4 << 20)	/* unsent answer bytes before we stop reading */
#define HTTP_SEG_MAX	    8		/* path segments */
#define HTTP_HEAD_MAX	    8192	/* an answer's head; more is a 500 */
#define HTTP_ORIGIN_MAX	    256		/* an Origin kept, NUL included; more is 431 */

/* ---- counters ------------------------------------------------------------- */

#define LAT_BUCKETS 12

/* Upper bounds (seconds) of the latency buckets; one more is +Inf. */
extern const double http_lat_le[LAT_BUCKETS];

struct http_stats {
	uint64_t by_status[600];
	uint64_t lat_bucket[LAT_BUCKETS + 1];
	double lat_sum;
	uint64_t lat_count;
};

/* ---- a request -------------------------------------------------------------- */

/* Which header a value being read goes to. */
enum http_hdr { H_OTHER, H_AUTH, H_XTOKEN, H_ORIGIN, H_EXPECT };

#define HTTP_ERRMSG_MAX 160		/* an error's message, NUL included */
#define HTTP_ALLOW_MAX	64		/* the Allow header of a 405 */

/*
 * What only receiving a request needs: allocated at its first byte and
 * freed once its handler has returned (or its error is answered), so a
 * request held past that, a long poll, keeps none of it (issue 10: an idle
 * long-poll's memory).
 */
struct http_scratch {
	struct buf url;
	size_t hbytes;			/* header bytes so far */
	int nheaders;
	char field[64];			/* the header name being read */
	size_t flen;
	int in_value;
	enum http_hdr target;		/* which header the value goes to */
	unsigned seen;			/* headers that must be single, seen (bits) */
	int field_ws;			/* the field name ends in a blank */
	int expect_continue;
	char auth[512];			/* Authorization */
	char xtoken[64];		/* X-Spool-Token */
	char origin[HTTP_ORIGIN_MAX];
	char errmsg[HTTP_ERRMSG_MAX];
	char allow[HTTP_ALLOW_MAX];	/* methods of a path, for 405 */
	char *path;			/* owned; NUL-separated path and query */
	char *seg[HTTP_SEG_MAX];	/* into path */
};

/* The request being received or handled on a connection. The strings
 * auth, xtoken, errmsg, allow and the decoded target (seg, query) point
 * into the scratch while it exists: read them in the route callback and in
 * the handler's own call, not after it returned (then seg and query are
 * NULL, nseg 0, the strings ""). The body stays until the answer. */
struct request {
	int method;			/* enum http_method */
	struct http_scratch *scratch;	/* NULL once the handler returned */
	const char *auth;
	const char *xtoken;
	const char *errmsg;
	char *allow;			/* HTTP_ALLOW_MAX bytes, or "" (read only) */
	struct buf body;
	size_t body_max;		/* set by the route callback */
	const void *route;		/* the route callback's, opaque here */
	size_t discarded;		/* body bytes of a request in error */
	short err;			/* status of an error found while parsing */
	unsigned soft : 1;		/* err leaves the framing intact: answer in turn */
	unsigned bad_target : 1;	/* the target did not parse: no path is exempt */
	unsigned preflight : 1;		/* a CORS preflight: http answers it */
	unsigned cors : 1;		/* its Origin is the one allowed (kept past
					 * the scratch, for the answer) */
	uint64_t t0;			/* uv_hrtime at the first byte */
	uint64_t wait_t0, wait_ns;	/* held waiting for an event (a long poll),
					 * not working: kept out of its latency */
	/* decoded target */
	char **seg;			/* nseg segments, percent-decoded */
	int nseg;
	char *query;			/* raw, "" when none */
};

/* ---- a connection -------------------------------------------------------------- */

struct http_server;

/*
 * One per client, kept small: an idle or long-polling connection holds
 * only this, its socket and what its handler keeps (no read buffer, no
 * scratch, no timer handle: its timer is a slot in the server's heap).
 */
struct conn {
	uv_tcp_t tcp;
	struct http_server *hs;
	struct conn *prev, *next;
	http_parser parser;
	uint64_t due;			/* loop ms its timer runs out */
	uint32_t tslot;			/* 1 + its place in hs->theap; 0: no timer */
	unsigned closing : 1;		/* uv_close called */
	unsigned eof : 1;		/* the peer is gone */
	unsigned rd_eof : 1;		/* the peer half-closed: it sends no more, but
					 * reads the answers to what it sent */
	unsigned busy : 1;		/* a complete request is being answered */
	unsigned in_parse : 1;
	unsigned reading : 1;
	unsigned lingering : 1;		/* answered and shut down: drain, then close */
	unsigned shut_sent : 1;
	unsigned close_after : 1;	/* close once the answer is written */
	unsigned keep_alive : 1;
	unsigned rbuf_shared : 1;	/* rbuf is hs->rbuf, lent for one read */
	uint32_t rlen, roff;
	struct request req;
	void *held;			/* the handler's request past its return */
	char *rbuf;			/* bytes waiting to be parsed: hs->rbuf during
					 * a read, else HTTP_RBUF bytes of its own only
					 * while pipelined bytes wait (an idle or
					 * long-polling connection holds none) */
};

/* ---- what the layer is handed ---------------------------------------------------- */

struct http_callbacks {
	/*
	 * The headers of c's request are in (c->req: method, segments, query,
	 * headers). Set c->req.route and c->req.body_max and return 0, or
	 * record an error with http_fail and return -1.
	 */
	int (*route)(struct conn *c);
	/* c's request is whole: answer it (http_reply...), now or later
	 * (http_hold first). */
	void (*request)(struct conn *c);
	/* While held: the peer sent its FIN (it may only have half-closed). */
	void (*fin)(struct conn *c);
	/* While held: the timer set by http_hold_timer ran out. */
	void (*timeout)(struct conn *c);
	/* While held: c is closing (the peer is gone). Return 1 to keep it
	 * until the handler answers (the answer is then dropped), 0 to let go
	 * of it now (c->held is forgotten). */
	int (*gone)(struct conn *c);
	/* A connection was freed (the owner checks whether it may exit). */
	void (*freed)(void *ud);
	/* c's request was answered with status, ns after its first byte (0:
	 * none came); may be NULL. For the owner's metrics. */
	void (*answered)(struct conn *c, int status, uint64_t ns);
};

struct http_config {
	char host[64];
	int port;
	const char *allow_origin;	/* CORS origin allowed, or NULL */
	int64_t idle_ms;		/* keep-alive idle timeout */
	int64_t request_ms;		/* a request must arrive within this */
	int max_conns;
};

struct http_server {
	uv_loop_t *loop;
	struct http_config cfg;
	const struct http_callbacks *cb;
	void *ud;			/* the callbacks' */
	const struct logger *log;
	uv_tcp_t listener;
	int listening;
	int draining;			/* shutting down: new requests get 503 */
	struct conn *conns;
	int nconns;
	struct http_stats st;
	char date[40];			/* the Date header, remade each second */
	int64_t date_s;
	/* the connections' timers: one libuv timer runs the soonest of a
	 * binary heap (a uv_timer_t each would cost 152 bytes a connection) */
	uv_timer_t tick;
	int ticking;			/* tick initialised (http_listen) */
	int in_tick;			/* on_tick runs: it sets tick at the end */
	uint64_t tick_due;		/* what tick is set for; 0: stopped */
	struct conn **theap;
	uint32_t tn, tcap;
	/* every read lands here first; only bytes left waiting (pipelined
	 * behind a request being answered) are copied to a connection's own */
	char rbuf[HTTP_RBUF];
};

/* Set hs up (no socket yet). */
void http_init(struct http_server *hs, uv_loop_t *loop,
	       const struct http_config *cfg, const struct http_callbacks *cb,
	       void *ud, const struct logger *log);

/* Start listening on cfg host:port; prints "listening on HOST:PORT". */
int http_listen(struct http_server *hs);

/* Stop accepting; idle connections are closed, held ones answer first. */
void http_stop(struct http_server *hs);

/* What http_feed made of the bytes it was given. */
enum http_feed {
	HTTP_FEED_MORE,		/* all taken; no request complete yet */
	HTTP_FEED_REQUEST,	/* a request is complete: c->req holds its route,
				 * or a soft error (req.err) to answer in turn */
	HTTP_FEED_ERROR,	/* the framing is broken (req.err says how):
				 * answer and close */
};

/*
 * The path every byte of a request takes: the parser and its callbacks,
 * the header and target checks, the route callback (no socket is needed;
 * the unit tests and the fuzzer call it directly). Feeds len bytes of buf
 * to c's parser (len 0: the peer sent its last byte) and returns how many
 * were taken; the rest wait for the next call once a request was answered.
 */
size_t http_feed(struct conn *c, const char *buf, size_t len,
		 enum http_feed *out);

/* Prepare c (its socket handle initialised, c->tcp.data = c) to parse its
 * first request. */
void http_conn_init(struct conn *c, struct http_server *hs);

/* Free what c's requests hold and drop its timer (its socket handle is
 * the caller's). */
void http_conn_release(struct conn *c);

/* Record an error status and message for c's request (the first one
 * recorded wins). For the route callback. */
void http_fail(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The handler keeps c's request (req, its own) past its return: until it
 * answers, http tells it of a FIN, the timer and the end of c. */
void http_hold(struct conn *c, void *req);

/* Run the held request's timer: ms from now, then the timeout callback. */
void http_hold_timer(struct conn *c, int64_t ms);

/*
 * Answer the request on c with status and body (ctype NULL = JSON), plus
 * extra header lines (each ending in \r\n, may be NULL). Ends a hold;
 * handles keep-alive and resuming the parser. On a connection that is
 * gone, the answer is counted and dropped.
 */
void http_reply(struct conn *c, int status, const char *ctype,
		const char *body, size_t len, const char *extra);

/* As http_reply, taking over body's storage (body is left empty). */
void http_reply_take(struct conn *c, int status, const char *ctype,
		     struct buf *body, const char *extra);

/* {"error": msg} with status. */
void http_error(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *http_reason(int status);

/*
 * 1 if o is an origin as a browser sends it in Origin (RFC 6454):
 * scheme "://" host [":" port], lowercase, nothing after, shorter than
 * HTTP_ORIGIN_MAX; else 0. An allowed origin that is not one could never
 * match a request, and goes into every CORS answer's head.
 */
int http_origin_valid(const char *o);

#endif
