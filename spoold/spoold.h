/*
 * spoold: the boss. A libuv HTTP/1.1 front over the spool library.
 *
 * One process, one loop (spoold.c). Everything that touches the spool runs off
 * the loop thread: state changes go to a single writer that runs them in
 * batches between spool_begin and spool_commit (group commit: one round of
 * fsyncs per batch, answers sent only after it), reads go to a small pool of
 * readers, each with its own struct spool. The loop thread owns the
 * connections, the claim index of new/ (index.c), the FIFO of long-polling
 * claimers (claim.c) and the inotify watch (watch.c).
 *
 * Modules, one file each: spoold.c (main, options, timers, shutdown),
 * http.c (connections, parsing, answers), route.c (the routing table and the
 * handlers of /v1 and the seed's routes), op.c (the disk work: batches and
 * readers), index.c (the in-memory claim order of new/), claim.c (long-poll
 * waiters and dispatch), watch.c (inotify and rescans), metrics.c,
 * page.c (the web page at /), util.c (small helpers: query strings, JSON arrays, time).
 */
#ifndef SPOOLD_H
#define SPOOLD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <http_parser.h>

#include "spool.h"
#include "buf.h"

/* ---- ceilings ------------------------------------------------------------ */

#define HTTP_URL_MAX	    8192	/* request target; more is 414 */
#define HTTP_HEADERS_MAX    16384	/* all header bytes; more is 431 */
#define HTTP_NHEADERS_MAX   100		/* header lines; more is 431 */
#define HTTP_RBUF	    16384	/* per-connection read buffer */
#define HTTP_BODY_DEFAULT   (64 << 10)	/* body of routes that take little */
#define HTTP_BODY_JOBS	    (16 << 20)	/* POST /v1/jobs (bulk) */
#define HTTP_BODY_LOG	    (SPOOL_LOG_MAX + (64 << 10))
#define HTTP_WQUEUE_MAX	    (4 << 20)	/* unsent answer bytes before we stop reading */
#define CLAIM_WAIT_MAX	    300		/* s, longest long-poll */
#define LIST_LIMIT_DEFAULT  100
#define LIST_LIMIT_MAX	    100000
#define LEADERBOARD_MAX	    1000
#define RESP_MAX	    (256 << 20)	/* ceiling on one answer */
#define NREADERS	    2		/* read-only spool handles */

/* ---- configuration ---------------------------------------------------------- */

struct config {
	const char *spool_path;
	char host[64];
	int port;
	char *token;			/* bearer token, or NULL (no auth) */
	size_t token_len;
	const char *allow_origin;	/* CORS origin allowed, or NULL */
	int lease_s;			/* default lease of /v1/claim */
	int seed_lease_s;		/* lease of /bored claims */
	int64_t reap_ms;		/* reaper period */
	int64_t rescan_ms;		/* rescan period, 0 = never */
	int64_t idle_ms;		/* keep-alive idle timeout */
	int64_t request_ms;		/* a request must arrive within this */
	int max_conns;
	int nosync;			/* tests and benchmarks only */
	int quiet;			/* no per-event log lines */
};

/* ---- the claim index (index.c) ------------------------------------------------ */

/* A set of required tags, interned: equal sets share one pointer. */
struct tagset {
	struct tagset *next;
	int ntags;
	char tags[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];	/* sorted */
};

struct inode;		/* one queued order: a treap node with its name */
struct queue;		/* the orders of one (priority, tagset), in name order */

struct index {
	struct queue **q;	/* sorted: priority descending, then tagset */
	size_t nq, capq;
	struct tagset *tagsets;
	size_t n;		/* entries */
	uint8_t mark;		/* rescan generation bit */
};

void index_init(struct index *ix);
void index_release(struct index *ix);

/* The interned copy of tags (any order, may repeat); NULL when ntags == 0. */
struct tagset *index_tagset(struct index *ix, int ntags,
			    const char *const *tags);

/*
 * Add the queued order file name (parsed as n) requiring tags ts (NULL:
 * none). 1 added, 0 already there (its mark is refreshed), -ENOMEM.
 */
int index_add(struct index *ix, const char *name, const struct order_name *n,
	      struct tagset *ts);

/* Remove name. 1 removed, 0 not there. */
int index_del(struct index *ix, const char *name);

/* 1 if name is in the index. */
int index_has(struct index *ix, const char *name);

/*
 * The first order in claim order that is due at now and whose tags the
 * claimant (ntags, tags) has; it is removed from the index and its name
 * copied to out (SPOOL_NAME_MAX). 1 found, 0 none.
 */
int index_take(struct index *ix, int64_t now, int ntags,
	       const char *const *tags, char *out);

/* The earliest due time after now of a queue's head, or INT64_MAX. */
int64_t index_next_due(const struct index *ix, int64_t now);

/* Rescan support: flip the mark; index_add refreshes marks; index_sweep
 * removes every entry whose mark is stale and returns how many. */
void index_mark_begin(struct index *ix);
size_t index_sweep(struct index *ix);

/* Bytes of heap the index uses (approximate, for /v1/stats). */
size_t index_bytes(const struct index *ix);

/* ---- disk work (op.c) ---------------------------------------------------------- */

struct server;
struct conn;
struct op;

typedef void (*op_run_fn)(struct op *op, struct spool *sp);
typedef void (*op_done_fn)(struct server *srv, struct op *op);

/*
 * One unit of disk work. run is called on a disk thread (the writer for
 * state changes, a reader for reads); done on the loop thread after the
 * batch committed. An op with a conn answers it in done (op_answer).
 */
struct op {
	struct op *next;
	struct conn *conn;		/* NULL for internal work */
	op_run_fn run;
	op_done_fn done;
	int readonly;
	int durable;			/* its answer needs the batch committed */
	int status;			/* HTTP status of the answer */
	const char *ctype;		/* answer content type, NULL = JSON */
	struct buf out;			/* the answer body */
	int rc;				/* what run found, for done */
	int commit_rc;			/* its changes' result at commit (spool_track) */

	/* request fields, filled by the handler */
	char id[SPOOL_ID_LEN + 1];
	char token[SPOOL_TOKEN_LEN + 1];
	char file[SPOOL_NAME_MAX];
	const char *body;		/* borrowed from the connection */
	size_t blen;
	struct claimant cl;
	const char *tags[SPOOL_TAGS_MAX];
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	char worker[SPOOL_WORKER_MAX + 1];
	int lease_s, attempt, limit, flag, state, seed, failed;
	char key[64];
	/* bulk submits: element slices of body */
	size_t nel;
	size_t (*el)[2];
	/* results */
	struct order o;
	int retried;
	int64_t num;
	void *data;			/* op-specific, freed by op_free */
};

/* A zeroed op with the given functions, or NULL. */
struct op *op_new(op_run_fn run, op_done_fn done, int readonly);
void op_free(struct op *op);

/* Queue op: the writer's next batch, or a reader. */
void disk_submit(struct server *srv, struct op *op);

/* 1 while any disk work is queued or running. */
int disk_busy(const struct server *srv);

/* Set error answer on op: status and {"error": msg}. */
void op_error(struct op *op, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Map a negative errno from the library to a status and error answer. */
void op_errno(struct op *op, struct spool *sp, int rc, const char *what);

/* Correct op's answer after its batch committed with result rc for it. */
void op_committed(struct op *op, int rc, const char *why);

/* Send op's answer to its connection (if still there) and free op. */
void op_answer(struct server *srv, struct op *op);

/* ---- HTTP (http.c) ---------------------------------------------------------- */

/* The request being received or handled on a connection. */
struct request {
	int method;			/* enum http_method */
	struct buf url;
	struct buf body;
	char auth[512];			/* Authorization */
	char xtoken[64];		/* X-Spool-Token */
	char origin[256];
	int expect_continue;
	size_t hbytes;			/* header bytes so far */
	int nheaders;
	char field[64];			/* the header name being read */
	size_t flen;
	int in_value;
	int target;			/* which header the value goes to */
	unsigned seen;			/* headers that must be single, seen (bits) */
	int field_ws;			/* the field name ends in a blank */
	int bad_target;			/* the target did not parse: no path is exempt */
	const struct route *route;
	int err;			/* status of an error found while parsing */
	int soft;			/* err leaves the framing intact: answer in turn */
	size_t discarded;		/* body bytes of a request in error */
	char errmsg[160];
	char allow[64];			/* methods of a path, for 405 */
	uint64_t t0;			/* uv_hrtime at the first byte */
	/* decoded target */
	char *path;			/* owned; NUL-separated path and query */
	char *seg[8];
	int nseg;
	char *query;
};

/* A long-polling claimer (claim.c). */
struct waiter {
	struct waiter *prev, *next;
	uint64_t seq;			/* arrival order */
	int64_t deadline;		/* ms */
	int queued;			/* in the FIFO */
	int seed;			/* a /bored claim: answer in the seed's shape */
	char worker[SPOOL_WORKER_MAX + 1];
	int lease_s;
	int ntags;
	char tagv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
	const char *tags[SPOOL_TAGS_MAX];
};

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shut;		/* FIN after an answer that closes */
	struct server *srv;
	struct conn *prev, *next;
	http_parser parser;
	int handles;			/* open libuv handles; freed at 0 */
	int closing;			/* uv_close called */
	int eof;			/* the peer is gone */
	int rd_eof;			/* the peer half-closed: it sends no more, but
					 * reads the answers to what it sent */
	int busy;			/* a complete request is being answered */
	int in_parse;
	int reading;
	int lingering;			/* answered and shut down: drain, then close */
	int shut_sent;
	int close_after;		/* close once the answer is written */
	int keep_alive;
	size_t rlen, roff;
	struct request req;
	struct waiter w;
	struct op *op;			/* disk work in flight for this request */
	char *rbuf;			/* HTTP_RBUF bytes, only while bytes wait in it:
					 * an idle or long-polling connection holds none */
};

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
 * the header and target checks, the auth and routing decision (no socket
 * is needed; the fuzzer calls it directly). Feeds len bytes of buf to c's
 * parser (len 0: the peer sent its last byte) and returns how many were
 * taken; the rest wait for the next call once a request was answered.
 */
size_t http_feed(struct conn *c, const char *buf, size_t len,
		 enum http_feed *out);

/* Prepare c (srv set, handles initialised) to parse its first request. */
void http_conn_init(struct conn *c);

/* Free what c's requests hold (its handles are the caller's). */
void http_conn_release(struct conn *c);

/* Start listening on cfg host:port; prints "listening on HOST:PORT". */
int http_listen(struct server *srv);

/* Stop accepting; idle connections are closed. */
void http_stop(struct server *srv);

/*
 * Answer the request on c with status and body (ctype NULL = JSON), plus
 * extra header lines (each ending in \r\n, may be NULL). Handles metrics,
 * keep-alive and resuming the parser.
 */
void http_reply(struct conn *c, int status, const char *ctype,
		const char *body, size_t len, const char *extra);

/* As http_reply, taking over body's storage (body is left empty). */
void http_reply_take(struct conn *c, int status, const char *ctype,
		     struct buf *body, const char *extra);

/* Start c's timer: ms from now (its meaning depends on c's state). */
void conn_timer(struct conn *c, int64_t ms);

/* {"error": msg} with status. */
void http_error(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The peer of c went away while its request was pending: close it now. */
void conn_close(struct conn *c);

const char *http_reason(int status);

/* ---- routes (route.c) ------------------------------------------------------ */

typedef void (*route_fn)(struct conn *c);

struct route {
	int method;
	const char *pattern;		/* "/v1/orders/:id/heartbeat" */
	route_fn fn;
	size_t body_max;
};

/*
 * Find the route for method and the path segments of req. NULL and *status
 * 404 (no such path) or 405 (path known, method not: *allow names them).
 */
const struct route *route_find(struct request *req, int *status,
			       char *allow, size_t allowlen);

/* The bearer-token check (all paths but /healthz). 0 or 401. */
int route_auth(struct server *srv, struct request *req);

/* 1 if the client's FIN before the answer of route r cancels the request
 * (the claims: no order is handed to a peer that may have left). */
int route_cancel_on_fin(const struct route *r);

/* The web page (page.c): GET /. */
void page_answer(struct conn *c);

/* ---- claims (claim.c) ---------------------------------------------------------- */

/* Queue c's waiter (filled) and try to serve it. */
void claim_wait(struct server *srv, struct conn *c);

/* Take c's waiter out of the FIFO (timeout, disconnect, shutdown). */
void claim_unwait(struct server *srv, struct conn *c);

/* Hand queued orders to waiters, in arrival order. */
void claim_dispatch(struct server *srv);

/* The wait of c ran out: answer 204 (or the seed's "no work"). */
void claim_expire(struct server *srv, struct conn *c);

/* Answer every waiter 204 (shutdown). */
void claim_flush(struct server *srv);

/* ---- watching new/ (watch.c) ---------------------------------------------------- */

int watch_start(struct server *srv);
void watch_stop(struct server *srv);

/* A file name appeared in new/ (event or scan): index it or ingest it. */
void watch_name(struct server *srv, const char *name);

/* Our own op put o in new/ (release, retry, requeue...): index it now
 * rather than wait for inotify, and hand it to a waiter. */
void watch_order(struct server *srv, const struct order *o);

/* The initial scan, on the loop thread before serving. */
int watch_scan_sync(struct server *srv);

/*
 * Mend what a crash left in sp's tmp/ (spool_recover), logging each repair
 * through srv (may be NULL). On the writer: at start and with every reap.
 * 0 or a negative errno.
 */
int watch_recover(struct server *srv, struct spool *sp);

/* Queue a rescan now (inotify overflow). */
void watch_rescan(struct server *srv);

/* Drop a merge in progress (shutdown). */
void watch_abandon(struct server *srv);

/* Arm the periodic rescan: cfg.rescan_ms, or 5x the last scan's duration
 * when listing new/ is that slow (a million orders). */
void watch_schedule(struct server *srv);

/* ---- metrics (metrics.c) ------------------------------------------------------ */

#define LAT_BUCKETS 12

struct metrics {
	uint64_t by_status[600];
	uint64_t lat_bucket[LAT_BUCKETS + 1];
	double lat_sum;
	uint64_t lat_count;
	uint64_t submits, claims, completions, failures, retries;
	uint64_t expired, ingested, rejected, batches, batch_ops;
	uint64_t commit_errors, lost_claims;
};

void metrics_request(struct metrics *m, int status, double seconds);

/* Append the Prometheus text to b; counts per state from the spool. */
int metrics_text(struct server *srv, const long counts[ST_COUNT],
		 struct buf *b);

/* ---- the server (spoold.c) ------------------------------------------------------ */

struct reader {
	uv_work_t work;
	struct spool sp;
	struct op *op;
	int busy;
};

struct server {
	uv_loop_t *loop;
	struct config cfg;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	uv_timer_t reap_timer, rescan_timer, due_timer;
	uv_poll_t inotify_poll;
	int inotify_fd;
	int listening;
	int draining;
	int64_t started_ms;

	/* connections */
	struct conn *conns;
	int nconns;

	/* disk work */
	struct spool sp;		/* the writer's */
	struct op *wq, **wq_tail;	/* next batch */
	struct op *batch;		/* running batch */
	uv_work_t batch_work;
	int batch_busy;
	int commit_rc;
	char commit_err[256];
	struct reader readers[NREADERS];
	struct op *rq, **rq_tail;	/* reads waiting for a reader */

	/* claims */
	struct index ix;
	struct waiter *wfirst, *wlast;
	uint64_t wseq;
	int nwaiting;
	int scanning;			/* a rescan is in flight */
	uint64_t scan_t0;		/* uv_hrtime when it began */
	int64_t scan_ms;		/* how long the last one took */
	size_t scan_n;			/* and how many orders it listed */
	int64_t merge_ms;		/* loop time to merge it into the index */
	struct op *merge;		/* a listing being merged, a slice a turn */
	size_t merge_pos;
	int merge_added;
	uint64_t merge_ns;
	uv_timer_t merge_timer;
	int reaping;			/* a reap is in flight */
	int all_closed;			/* shutdown closed the server's handles */
	int rescan_again;

	struct metrics m;
	char date[40];			/* the Date header, remade each second */
	int64_t date_s;
};

/* Log one event line on stderr (unless quiet). */
void say(struct server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Close everything once draining and idle (called after each completion). */
void server_maybe_exit(struct server *srv);

/* ---- helpers (util.c) ------------------------------------------------------------ */

/* Decode %XX and (with plus) '+' in place. -EINVAL on a bad escape or NUL. */
int url_decode(char *s, int plus);

/*
 * The value of key in a query string (not modified), decoded into out.
 * 1 found, 0 absent, -EINVAL bad escape, -E2BIG too long.
 */
int query_get(const char *query, const char *key, char *out, size_t cap);

/* An integer query value within [lo, hi]; absent gives def. 0 or -EINVAL. */
int query_int(const char *query, const char *key, long lo, long hi, long def,
	      long *out);

/*
 * Split the top-level elements of a JSON array s[0..len) (already validated)
 * into slices; *el is malloc'd. Count, or -EINVAL (not an array), -ENOMEM,
 * -E2BIG (more than max).
 */
long json_array_split(const char *s, size_t len, size_t max, size_t (**el)[2]);

/* Constant-time equality of two byte strings (time depends on lengths only). */
int ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Parse a comma list of tags into tagv; 0 or -EINVAL. */
int tags_parse(const char *s, char tagv[][SPOOL_TAG_MAX + 1], int *ntags);

/* "%s" of s for a message: at most 64 printable bytes, the rest elided. */
const char *printable(const char *s, char out[80]);

#endif
