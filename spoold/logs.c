/*
 * logs: live logs and metric series (spool-layout.md, "Log" and "Series").
 *
 * POST /v1/orders/ID/log?token=T&offset=N and /series?token=T[&offset=N]
 * append a running claim's new bytes at offset N (the library's rule: a
 * retry is taken, a gap or an overlap is 409 with the current length); a
 * log POST without offset is orders.c's whole put, as before, and so is a
 * series POST without one (a whole put, replacing). GET .../log with
 * ?offset= or ?attempt= serves one attempt's bytes with its length and
 * whether it ended in headers (without either: reads.c's answer, as
 * before); GET .../metrics renders an attempt's series.
 *
 * Appends run on a reader: they are outside the spool's commits (a live
 * log is not synced; the flock in the library orders writers), so the
 * writer is never held up by a chatty script.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

#define LOG_SERVE_MAX (1 << 20)		/* bytes per GET with an offset */
#define LOG_SIZE_UNKNOWN -1

enum log_kind { K_LOG, K_SERIES, K_GET, K_METRICS };

struct log_op {
	struct hop h;
	enum log_kind kind;
	char id[SPOOL_ID_LEN + 1];
	char token[SPOOL_TOKEN_LEN + 1];
	char file[SPOOL_NAME_MAX];	/* the claim map's name, or "" */
	const char *body;		/* borrowed */
	size_t blen;
	long off;			/* -1: none */
	int attempt;			/* 0: the order's */
	int whole;			/* K_SERIES without an offset: a put */
	int64_t size;			/* for the headers; LOG_SIZE_UNKNOWN: none */
	int done;			/* the attempt has ended */
};

#define logop_of(opp) container_of(hop_of(opp), struct log_op, h)

/* The claim that T names must be held now. 0, or answered. */
static int held_claim(struct log_op *l, struct spool *sp, struct order *o)
{
	int rc = spool_lookup_claim_hint(sp, l->id, l->token, l->file[0] ? l->file : NULL, o);

	if (rc == -ESTALE || rc == -ENOENT) {
		hop_error(&l->h, 409, "claim %s of order %s is not held: live output is "
			  "taken from a running claim only", l->token, l->id);
		return -1;
	}
	if (rc < 0) {
		hop_errno(&l->h, sp, rc, "find the claim");
		return -1;
	}
	return 0;
}

static void run_append(struct log_op *l, struct spool *sp)
{
	struct order o;
	int rc;

	if (held_claim(l, sp, &o) < 0)
		return;
	if (l->kind == K_SERIES && l->whole)
		rc = spool_series_put(sp, l->id, o.n.attempt, l->body, l->blen);
	else if (l->kind == K_SERIES)
		rc = spool_series_append(sp, l->id, o.n.attempt, l->off, l->body, l->blen,
					 &l->size);
	else
		rc = spool_log_append(sp, l->id, o.n.attempt, l->off, l->body, l->blen,
				      &l->size);
	if (rc == -ESPIPE) {
		hop_error(&l->h, 409, "offset %ld is not where the %s of order %s attempt %d "
			  "ends (%lld bytes)", l->off, l->kind == K_SERIES ? "series" : "log",
			  l->id, o.n.attempt, (long long)l->size);
		/* the error with the length the runner resyncs to */
		buf_reset(&l->h.out);
		buf_printf(&l->h.out, "{\"error\": \"offset %ld is not the end (%lld bytes)\", "
			   "\"size\": %lld}\n", l->off, (long long)l->size, (long long)l->size);
		return;
	}
	if (rc == -EINVAL) {
		hop_error(&l->h, 400, "%s", spool_error(sp));
		return;
	}
	if (rc < 0) {
		hop_errno(&l->h, sp, rc, "append to the log");
		return;
	}
	buf_printf(&l->h.out, "{\"id\": \"%s\", \"attempt\": %d, \"size\": %lld}\n", l->id,
		   o.n.attempt, (long long)l->size);
	l->h.status = 200;
}

/*
 * Which attempt a read means (l->attempt, or the order's), and whether it
 * has ended: only the attempt an assigned order runs has not. 0, or
 * -ENOENT (no order, no log).
 */
static int which_attempt(struct log_op *l, struct spool *sp)
{
	struct order o;
	int rc = spool_lookup(sp, l->id, &o);

	if (rc == -ENOENT)
		rc = spool_lookup(sp, l->id, &o);	/* moved while looking */
	if (rc < 0)
		memset(&o, 0, sizeof(o));
	if (!l->attempt)
		l->attempt = o.n.attempt > 0 ? o.n.attempt : spool_log_last_attempt(sp, l->id);
	l->done = !(rc == 0 && o.state == ST_ASSIGNED && o.n.attempt == l->attempt);
	return l->attempt ? 0 : -ENOENT;
}

static void run_get(struct log_op *l, struct spool *sp)
{
	int rc;

	if (which_attempt(l, sp) < 0) {
		hop_error(&l->h, 404, "no log for order %s", l->id);
		return;
	}
	rc = spool_log_read_at(sp, l->id, l->attempt, l->off < 0 ? 0 : l->off,
			       l->off < 0 ? SPOOL_LOG_MAX + 4096 : LOG_SERVE_MAX, &l->h.out,
			       &l->size);
	if (rc == -ENOENT && !l->done) {
		rc = 0;		/* running, nothing arrived yet */
		l->size = 0;
	}
	if (rc == -ENOENT) {
		hop_error(&l->h, 404, "no log for order %s attempt %d", l->id, l->attempt);
		return;
	}
	if (rc == -ERANGE) {
		hop_error(&l->h, 416, "offset %ld is past the end of the log of order %s "
			  "attempt %d (%lld bytes)", l->off, l->id, l->attempt,
			  (long long)l->size);
		return;
	}
	if (rc < 0) {
		buf_reset(&l->h.out);
		l->size = LOG_SIZE_UNKNOWN;
		hop_errno(&l->h, sp, rc, "read the log");
		return;
	}
	l->h.status = 200;
	l->h.ctype = "text/plain; charset=utf-8";
}

static void run_metrics(struct log_op *l, struct spool *sp)
{
	int rc;

	if (which_attempt(l, sp) < 0) {
		hop_error(&l->h, 404, "order %s has no attempt with a log or a series "
			  "(no such order, or it has not run)", l->id);
		return;
	}
	if ((rc = spool_metrics_json(sp, l->id, l->attempt, &l->h.out)) < 0) {
		buf_reset(&l->h.out);
		hop_errno(&l->h, sp, rc, "read the series");
		return;
	}
	l->h.status = 200;
}

static void run_log_op(struct op *op, struct spool *sp)
{
	struct log_op *l = logop_of(op);

	l->size = LOG_SIZE_UNKNOWN;
	if (l->kind == K_GET)
		run_get(l, sp);
	else if (l->kind == K_METRICS)
		run_metrics(l, sp);
	else
		run_append(l, sp);
}

/* As hop_done, with the headers that tell a poller where it stands. */
static void done_log_op(struct op *op)
{
	struct log_op *l = logop_of(op);
	struct hop *h = &l->h;
	char extra[160] = "";

	if (l->kind == K_GET && l->size != LOG_SIZE_UNKNOWN)
		snprintf(extra, sizeof(extra), "X-Spool-Log-Size: %lld\r\n"
			 "X-Spool-Log-Attempt: %d\r\nX-Spool-Log-Done: %d\r\n",
			 (long long)l->size, l->attempt, l->done);
	else if (l->kind == K_SERIES || l->kind == K_LOG) {
		if (l->size != LOG_SIZE_UNKNOWN)
			snprintf(extra, sizeof(extra), "X-Spool-Log-Size: %lld\r\n",
				 (long long)l->size);
	}
	if (h->held.c)
		http_reply_take(h->held.c, h->status, h->ctype, &h->out,
				extra[0] ? extra : NULL);
	hop_free(h);
}

static struct log_op *log_op_new(struct conn *c, enum log_kind kind)
{
	struct log_op *l;
	char id[SPOOL_ID_LEN + 1];
	long attempt, off;

	if (seg_id(c, 2, id) < 0)
		return NULL;
	if (query_int(c->req.query, "attempt", 1, SPOOL_ATTEMPTS_MAX, 0, &attempt) < 0) {
		http_error(c, 400, "attempt must be 1 to %d", SPOOL_ATTEMPTS_MAX);
		return NULL;
	}
	if (query_int(c->req.query, "offset", 0, SPOOL_LOG_MAX + (1 << 20), -1, &off) < 0) {
		http_error(c, 400, "offset must be a byte count, 0 to %d", SPOOL_LOG_MAX + (1 << 20));
		return NULL;
	}
	if (!(l = hop_new(c, sizeof(*l), OP_READ, run_log_op, done_log_op)))
		return NULL;
	l->kind = kind;
	l->attempt = (int)attempt;
	l->off = off;
	memcpy(l->id, id, sizeof(id));
	return l;
}

static void post(struct conn *c, enum log_kind kind)
{
	struct server *srv = srv_of(c);
	char token[SPOOL_TOKEN_LEN + 1];
	struct log_op *l;
	const char *file;

	if (req_token(c, token, 1) < 0)
		return;
	if (!(l = log_op_new(c, kind)))
		return;
	if (l->attempt) {
		hop_free(&l->h);
		http_error(c, 400, "live output goes to the claim's own attempt: no ?attempt=");
		return;
	}
	memcpy(l->token, token, sizeof(token));
	l->body = body_of(c, &l->blen);
	l->whole = l->off < 0;
	if ((file = claimmap_get(&srv->core.map, l->id)))
		snprintf(l->file, sizeof(l->file), "%s", file);
	hop_submit(&l->h);
}

void logs_post(struct conn *c)
{
	long off;

	/* without an offset: the whole log, as before */
	if (query_int(c->req.query, "offset", 0, SPOOL_LOG_MAX + (1 << 20), -1, &off) == 0 &&
	    off < 0) {
		orders_log_put(c);
		return;
	}
	post(c, K_LOG);
}

void logs_series_post(struct conn *c)
{
	post(c, K_SERIES);
}

void logs_get(struct conn *c)
{
	struct log_op *l;
	long off, attempt;

	/* neither: every attempt's log, as before */
	if (query_int(c->req.query, "offset", 0, SPOOL_LOG_MAX + (1 << 20), -1, &off) == 0 &&
	    off < 0 &&
	    query_int(c->req.query, "attempt", 1, SPOOL_ATTEMPTS_MAX, 0, &attempt) == 0 &&
	    !attempt) {
		reads_log(c);
		return;
	}
	if ((l = log_op_new(c, K_GET)))
		hop_submit(&l->h);
}

void logs_metrics(struct conn *c)
{
	struct log_op *l;

	if ((l = log_op_new(c, K_METRICS))) {
		if (l->off >= 0) {
			hop_free(&l->h);
			http_error(c, 400, "metrics take no offset");
			return;
		}
		hop_submit(&l->h);
	}
}
