/*
 * artifacts: a job's artifacts and its checkpoint over HTTP.
 *
 *	GET  /v1/jobs/ID/artifacts		the list: name, size, sha256
 *	GET  /v1/jobs/ID/artifacts/NAME		one file, application/octet-stream
 *	POST /v1/jobs/ID/artifacts/NAME?token=T	a runner keeps one (PUT too)
 *	GET  /v1/jobs/ID/checkpoint		the newest checkpoint, as a pack
 *	POST /v1/jobs/ID/checkpoint?token=T	a runner saves one (PUT too)
 *
 * A write is fenced by a claim token of the job: the claim still held, or
 * one that ended with an outcome on file (as a log's is), so that a runner
 * that finished may still hand over what its run left. The HTTP layer caps
 * the body by the route (ARTIFACT_FILE_MAX, CKPT_PACK_MAX) before it is
 * read; the per-job total and count are the library's to check. All disk
 * work runs on the pool (writes on the writer, each durable by its own
 * fsyncs: nothing of the queue's commit depends on it).
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "handler.h"

enum art_kind { A_LIST, A_GET, A_PUT, C_GET, C_PUT };

struct art_req {
	struct hop h;
	enum art_kind kind;
	char id[SPOOL_ID_LEN + 1];
	char token[SPOOL_TOKEN_LEN + 1];
	char file[SPOOL_NAME_MAX];		/* the claim map's name, or "" */
	char name[ARTIFACT_NAME_MAX + 1];
	const char *body;			/* borrowed from the request */
	size_t blen;
};

#define art_of(opp) container_of(hop_of(opp), struct art_req, h)

/* The library's refusal as an answer: caps are 413, not 507. */
static void art_errno(struct art_req *r, struct spool *sp, int rc, const char *what)
{
	const char *why = spool_error(sp);

	if (rc == -EFBIG || rc == -EDQUOT || rc == -EMLINK)
		hop_error(&r->h, 413, "cannot %s: %s", what, why[0] ? why : strerror(-rc));
	else
		hop_errno(&r->h, sp, rc, what);
}

/*
 * Is token a claim of job id: held now, or ended with its outcome on file
 * (the rule of the log route, orders.c)? 0, or the answer is set and -1.
 */
static int fence(struct art_req *r, struct spool *sp)
{
	struct order o;
	int rc = spool_lookup_claim_hint(sp, r->id, r->token, r->file[0] ? r->file : NULL, &o);

	if (rc == -ESTALE) {
		struct buf b;

		o.state = ST_ASSIGNED;
		o.n.claimed = 1;
		memcpy(o.n.token, r->token, sizeof(o.n.token));
		buf_init(&b, SPOOL_OUTCOME_MAX + 2);
		if (spool_read_outcome(sp, &o, &b) == 0)
			rc = 0;
		buf_release(&b);
	}
	if (rc == -ESTALE) {
		hop_error(&r->h, 409, "claim %s is not a claim of job %s", r->token, r->id);
		return -1;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "find the claim");
		return -1;
	}
	return 0;
}

static void run_art(struct op *op, struct spool *sp)
{
	struct art_req *r = art_of(op);
	struct artifact_caps caps;
	int rc = 0;

	artifact_caps_default(&caps);
	switch (r->kind) {
	case A_LIST:
		if ((rc = spool_artifact_list(sp, r->id, &r->h.out)) < 0) {
			buf_reset(&r->h.out);
			art_errno(r, sp, rc, "list the artifacts");
			return;
		}
		buf_puts(&r->h.out, "\n");
		break;
	case A_GET:
		if ((rc = spool_artifact_read(sp, r->id, r->name, &r->h.out)) < 0) {
			buf_reset(&r->h.out);
			art_errno(r, sp, rc, "read the artifact");
			return;
		}
		r->h.ctype = "application/octet-stream";
		break;
	case A_PUT:
		if (fence(r, sp) < 0)
			return;
		if ((rc = spool_artifact_put(sp, r->id, r->name, r->body, r->blen, &caps)) < 0) {
			art_errno(r, sp, rc, "keep the artifact");
			return;
		}
		buf_printf(&r->h.out, "{\"id\": \"%s\", \"name\": \"%s\", \"size\": %zu}\n",
			   r->id, r->name, r->blen);
		break;
	case C_GET:
		r->h.out.max = CKPT_PACK_MAX;
		if ((rc = spool_checkpoint_get(sp, r->id, &r->h.out, NULL)) < 0) {
			buf_reset(&r->h.out);
			art_errno(r, sp, rc, "read the checkpoint");
			return;
		}
		r->h.ctype = "application/octet-stream";
		break;
	case C_PUT:
		if (fence(r, sp) < 0)
			return;
		if ((rc = spool_checkpoint_put(sp, r->id, r->body, r->blen)) < 0) {
			art_errno(r, sp, rc, "save the checkpoint");
			return;
		}
		buf_printf(&r->h.out, "{\"id\": \"%s\", \"checkpoint\": true, \"bytes\": %zu}\n",
			   r->id, r->blen);
		break;
	}
	r->h.status = 200;
}

/* The request for path /v1/jobs/ID/(artifacts[/NAME] | checkpoint). */
static void art_start(struct conn *c, enum art_kind kind)
{
	struct server *srv = srv_of(c);
	struct art_req *r;
	char id[SPOOL_ID_LEN + 1], token[SPOOL_TOKEN_LEN + 1] = "", why[96], pr[80];
	const char *file;
	int write = kind == A_PUT || kind == C_PUT;

	if (seg_id(c, 2, id) < 0)
		return;
	if ((kind == A_GET || kind == A_PUT) &&
	    artifact_name_check(c->req.seg[4], why, sizeof(why)) < 0) {
		http_error(c, 400, "bad artifact name '%s': %s", printable(c->req.seg[4], pr), why);
		return;
	}
	if (write && req_token(c, token, 1) < 0)
		return;
	if (!(r = hop_new(c, sizeof(*r), write ? OP_WRITE : OP_READ, run_art, hop_done)))
		return;
	r->kind = kind;
	memcpy(r->id, id, sizeof(id));
	memcpy(r->token, token, sizeof(token));
	if (kind == A_GET || kind == A_PUT)
		snprintf(r->name, sizeof(r->name), "%s", c->req.seg[4]);
	if (write) {
		r->body = body_of(c, &r->blen);
		if ((file = claimmap_get(&srv->core.map, id)))
			snprintf(r->file, sizeof(r->file), "%s", file);
	}
	hop_submit(&r->h);
}

void artifacts_list(struct conn *c)
{
	art_start(c, A_LIST);
}

void artifacts_get(struct conn *c)
{
	art_start(c, A_GET);
}

void artifacts_put(struct conn *c)
{
	art_start(c, A_PUT);
}

void checkpoint_get(struct conn *c)
{
	art_start(c, C_GET);
}

void checkpoint_put(struct conn *c)
{
	art_start(c, C_PUT);
}
