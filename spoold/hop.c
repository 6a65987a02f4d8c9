/*
 * hop: what the handlers share. A hop is a request answered after disk
 * work (the op it embeds); the checks of path ids, claim tokens, query
 * values and bodies answer bad input before any disk work is queued.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "json.h"

struct server *srv_of(const struct conn *c)
{
	return c->hs->ud;
}

/* ---- held requests with disk work ------------------------------------------------ */

static void hop_fin(struct held *h)
{
	(void)h;	/* what it sent whole is answered, then it closes */
}

static void hop_timeout(struct held *h)
{
	(void)h;	/* disk work always answers */
}

static int hop_gone(struct held *h)
{
	(void)h;
	return 1;	/* the op refers to it: hop_reply closes it */
}

static const struct held_ops hop_ops = { hop_fin, hop_timeout, hop_gone };

void *hop_new(struct conn *c, size_t size, enum op_kind kind,
	      op_run_fn run, op_done_fn done)
{
	struct hop *h = calloc(1, size);
	if (!h) {
		http_error(c, 500, "out of memory");
		return NULL;
	}
	h->held.ops = &hop_ops;
	h->held.c = c;
	h->held.srv = srv_of(c);
	h->op.kind = kind;
	h->op.run = run;
	h->op.done = done ? done : hop_done;
	h->status = 500;
	buf_init(&h->out, RESP_MAX);
	return h;
}

void hop_submit(struct hop *h)
{
	http_hold(h->held.c, &h->held);
	disk_submit(&h->held.srv->disk, &h->op);
}

void hop_free(struct hop *h)
{
	if (!h)
		return;
	buf_release(&h->out);
	free(h);
}

void hop_reply(struct hop *h)
{
	if (h->status >= 500)
		say(&h->held.srv->log, "answered %d: %.300s", h->status,
		    h->out.data ? h->out.data : "");
	if (h->held.c)
		http_reply_take(h->held.c, h->status, h->ctype, &h->out, NULL);
	hop_free(h);
}

void hop_done(struct op *op)
{
	struct hop *h = hop_of(op);
	if (h->op.kind == OP_WRITE && h->status < 300)
		hop_commit_failed(h);
	hop_reply(h);
}

void hop_error(struct hop *h, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_reset(&h->out);
	buf_puts(&h->out, "{\"error\": ");
	buf_json_str(&h->out, msg, strlen(msg));
	buf_puts(&h->out, "}\n");
	h->status = status;
	h->ctype = NULL;
}

void hop_errno(struct hop *h, struct spool *sp, int rc, const char *what)
{
	const char *why = spool_error(sp);
	int status;
	switch (rc) {
	case -EINVAL: status = 400; break;
	case -ENOENT: status = 404; break;
	case -ESTALE:
	case -EBUSY:
	case -EALREADY: status = 409; break;
	case -E2BIG:
	case -EFBIG: status = 413; break;
	case -ENOSPC:
	case -EDQUOT: status = 507; break;
	default: status = 500; break;
	}
	if (why && why[0])
		hop_error(h, status, "cannot %s: %s", what, why);
	else
		hop_error(h, status, "cannot %s: %s", what, strerror(-rc));
}

int hop_commit_failed(struct hop *h)
{
	int rc = h->op.commit_rc;
	const char *why = h->op.commit_why ? h->op.commit_why : "";
	switch (rc) {
	case 0:
	case -EALREADY:
	case -ESTALE:
		return 0;	/* the family's answer to give */
	case -ENOSPC:
	case -EDQUOT:
		hop_error(h, 507, "not stored (the disk is full): %s", why);
		return 1;
	default:
		hop_error(h, 500, "not stored durably: %s",
			  why[0] ? why : strerror(-rc));
		return 1;
	}
}

void hop_ok_state(struct hop *h, const char *id, enum spool_state st)
{
	buf_puts(&h->out, "{\"id\": ");
	buf_json_str(&h->out, id, strlen(id));
	buf_printf(&h->out, ", \"state\": \"%s\"}\n", spool_state_name(st));
	h->status = 200;
}

/* ---- checks ------------------------------------------------------------------------ */

const char *body_of(const struct conn *c, size_t *len)
{
	*len = c->req.body.len;
	return c->req.body.data ? c->req.body.data : "";
}

int seg_id(struct conn *c, int i, char out[SPOOL_ID_LEN + 1])
{
	char pr[80];
	const char *s = c->req.seg[i];
	if (!id_valid(s)) {
		http_error(c, 400, "invalid id '%s': an id is 24 hex digits",
			   printable(s, pr));
		return -1;
	}
	memcpy(out, s, SPOOL_ID_LEN + 1);
	return 0;
}

int req_token(struct conn *c, char out[SPOOL_TOKEN_LEN + 1], int required)
{
	char t[80], pr[80];
	int rc = query_get(c->req.query, "token", t, sizeof(t));
	if (rc == 0 && c->req.xtoken[0]) {
		snprintf(t, sizeof(t), "%s", c->req.xtoken);
		rc = 1;
	}
	if (rc == 0 && !required) {
		out[0] = 0;
		return 0;
	}
	if (rc == 0) {
		http_error(c, 400, "the claim token is required "
			   "(?token= or X-Spool-Token)");
		return -1;
	}
	if (rc < 0 || !token_valid(t)) {
		http_error(c, 400, "invalid token '%s'", printable(t, pr));
		return -1;
	}
	memcpy(out, t, SPOOL_TOKEN_LEN + 1);
	return 1;
}

int body_object(struct conn *c, const char *what)
{
	char err[200];
	size_t len, i = 0;
	const char *b = body_of(c, &len);
	if (!len) {
		http_error(c, 400, "%s: empty body, expected a JSON object", what);
		return -1;
	}
	if (json_validate(b, len, err, sizeof(err)) < 0) {
		http_error(c, 400, "%s: bad JSON: %s", what, err);
		return -1;
	}
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			   b[i] == '\n'))
		i++;
	if (b[i] != '{') {
		http_error(c, 400, "%s: expected a JSON object", what);
		return -1;
	}
	return 0;
}

int body_json(struct conn *c, const char *what, struct json *j)
{
	char err[200];
	size_t len;
	const char *b = body_of(c, &len);
	int rc;

	if (!len) {
		http_error(c, 400, "%s: empty body, expected a JSON object", what);
		return -1;
	}
	rc = json_parse(j, b, len, JSON_TOKENS_MAX, err, sizeof(err));
	if (rc < 0) {
		http_error(c, rc == -E2BIG ? 413 : 400, "%s: %s", what,
			   rc == -E2BIG ? "too many JSON tokens" : err);
		return -1;
	}
	if (j->tok[0].type != JSMN_OBJECT) {
		json_release(j);
		http_error(c, 400, "%s: expected a JSON object", what);
		return -1;
	}
	return 0;
}

int lease_param(struct conn *c, long def, int *out)
{
	long v;
	if (query_int(c->req.query, "lease", 1, 30L * 86400, def, &v) < 0) {
		http_error(c, 400, "lease must be seconds, 1 to 2592000");
		return -1;
	}
	*out = (int)v;
	return 0;
}
