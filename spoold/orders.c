/*
 * orders: changes to one order. The claim-token routes (heartbeat,
 * complete, fail, release), the person-driven ones (hold, requeue,
 * cancel) and the attempt's log; the seed's POST /callback (seed.c) ends a
 * claim through the very same functions (find_claim, finish, file_late),
 * only its fence and its answers are the seed's.
 *
 * A claim is found by the name the core remembered when it handed it out
 * (the claim map), handed to spool_lookup_claim_hint: one stat instead of
 * a listing of assigned/; when the map has no name, or a stale one, the
 * library looks as spool_lookup_claim does.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

enum verb { V_HEARTBEAT, V_COMPLETE, V_FAIL, V_RELEASE };
enum api { API_V1, API_SEED };

/* A change to a claim, presented with its token. */
struct claim_change {
	struct hop h;
	enum verb verb;
	enum api api;
	char id[SPOOL_ID_LEN + 1];
	char token[SPOOL_TOKEN_LEN + 1];	/* "": none (release, a bare seed jobId) */
	char file[SPOOL_NAME_MAX];		/* the claim map's name, or "" */
	int attempt;				/* the seed's fence: 0 = any */
	int lease_s;				/* heartbeat */
	const char *body;			/* the outcome, borrowed */
	size_t blen;
	struct order o;
	int retried;
	int duplicate;				/* repeats an answer given before */
	enum spool_state state;			/* what a duplicate at commit says */
};

#define change_of(opp) container_of(hop_of(opp), struct claim_change, h)

/* ---- the claim: find, end, or keep aside ------------------------------------------ */

/* The claim (id, token): 0 (r->o), -ESTALE (r->o the lost claim), errno:
 * as spool_lookup_claim, in one stat when the map's name is right. */
static int find_claim(struct claim_change *r, struct spool *sp)
{
	return spool_lookup_claim_hint(sp, r->id, r->token,
				       r->file[0] ? r->file : NULL, &r->o);
}

/* End the claim r->o with the outcome: complete, or fail (the order back
 * in new/ when attempts remain: r->retried). As spool_complete. */
static int finish(struct claim_change *r, struct spool *sp, const struct order *o_in,
		  int fail, int fail_null)
{
	struct order o = *o_in;
	int retried = 0, rc;
	if (fail)
		rc = spool_fail(sp, &o, fail_null && !r->blen ? NULL : r->body,
				r->blen, &retried);
	else
		rc = spool_complete(sp, &o, r->body, r->blen);
	if (o_in == &r->o) {
		r->o = o;
		r->retried = retried;
	}
	return rc;
}

/* After -ESTALE, o describes the lost claim: ending it files the outcome
 * in late/ (-ESTALE), or finds this very outcome filed (-EALREADY). */
static int file_late(struct claim_change *r, struct spool *sp,
		     const struct order *o, int fail)
{
	return finish(r, sp, o, fail, r->api == API_V1);
}

static void duplicate(struct claim_change *r, const char *state)
{
	buf_reset(&r->h.out);
	buf_printf(&r->h.out, "{\"id\": \"%s\", \"state\": \"%s\", "
		   "\"duplicate\": true}\n", r->id, state);
	r->h.status = 200;
	r->duplicate = 1;
}

/* ---- /v1: heartbeat, complete, fail, release ----------------------------------------- */

/* The claim, or an error answer (404/409) and < 0. */
static int claim_or_answer(struct claim_change *r, struct spool *sp)
{
	int rc = find_claim(r, sp);
	if (rc == -ESTALE)
		hop_error(&r->h, 409, "claim %s is no longer held: %s", r->token,
			  spool_error(sp));
	else if (rc < 0)
		hop_errno(&r->h, sp, rc, "find the claim");
	return rc;
}

static void v1_heartbeat(struct claim_change *r, struct spool *sp)
{
	char when[32];
	int rc;
	if (claim_or_answer(r, sp) < 0)
		return;
	rc = spool_renew(sp, &r->o, r->lease_s);
	if (rc == -ESTALE) {
		hop_error(&r->h, 409, "claim %s of order %s is no longer held",
			  r->token, r->id);
		return;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "renew the lease");
		return;
	}
	iso_time(r->o.n.deadline, when);
	buf_printf(&r->h.out, "{\"id\": \"%s\", \"leaseDeadline\": \"%s\", "
		   "\"leaseDeadlineMs\": %lld}\n", r->id, when,
		   (long long)r->o.n.deadline);
	r->h.status = 200;
}

static void v1_finish(struct claim_change *r, struct spool *sp)
{
	int fail = r->verb == V_FAIL;
	int rc = find_claim(r, sp);

	if (rc == -ESTALE) {
		char why[300];
		struct order lost = r->o;
		snprintf(why, sizeof(why), "%s", spool_error(sp));
		if (file_late(r, sp, &lost, fail) == -EALREADY) {
			/* filed already; a failure's order may have moved on */
			duplicate(r, !fail ? "done" : strstr(why, " is new,") ?
				  "new" : "failed");
			return;
		}
		hop_error(&r->h, 409, "claim %s is no longer held: %s; the outcome "
			  "is kept in late/", r->token, why);
		return;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "find the claim");
		return;
	}
	r->state = fail ? ST_FAILED : ST_DONE;
	rc = finish(r, sp, &r->o, fail, 1);
	if (rc == -EALREADY) {
		duplicate(r, fail ? "failed" : "done");
	} else if (rc == -ESTALE) {
		hop_error(&r->h, 409, "claim %s of order %s is no longer held%s",
			  r->token, r->id, fail ? "" : "; the outcome is kept in late/");
	} else if (rc < 0) {
		hop_errno(&r->h, sp, rc, fail ? "fail the order" : "complete the order");
	} else if (!fail) {
		hop_ok_state(&r->h, r->id, ST_DONE);
	} else {
		buf_printf(&r->h.out, "{\"id\": \"%s\", \"state\": \"%s\", "
			   "\"retried\": %s}\n", r->id, r->retried ? "new" : "failed",
			   r->retried ? "true" : "false");
		r->h.status = 200;
	}
}

static void v1_release(struct claim_change *r, struct spool *sp)
{
	int rc;
	if (!r->token[0]) {
		rc = spool_unhold(sp, r->id, &r->o);
		if (rc < 0)
			hop_errno(&r->h, sp, rc, "release the order");
		else
			hop_ok_state(&r->h, r->id, ST_NEW);
		return;
	}
	if (claim_or_answer(r, sp) < 0)
		return;
	rc = spool_release(sp, &r->o);
	if (rc == -ESTALE)
		hop_error(&r->h, 409, "claim %s of order %s is no longer held",
			  r->token, r->id);
	else if (rc < 0)
		hop_errno(&r->h, sp, rc, "release the claim");
	else
		hop_ok_state(&r->h, r->id, ST_NEW);
}

/* ---- the seed's callback ---------------------------------------------------------- */

static void seed_duplicate(struct claim_change *r, const char *state)
{
	buf_reset(&r->h.out);
	buf_printf(&r->h.out, "{\"_id\": \"%s\", \"jobId\": \"%s\", "
		   "\"state\": \"%s\", \"duplicate\": true, "
		   "\"message\": \"outcome already filed\"}\n", r->id, r->id, state);
	r->h.status = 200;
	r->duplicate = 1;
}

/*
 * A seed callback is fenced like a /v1 completion: with an "assignmentId"
 * it ends only the claim that id names; with a bare jobId only a seed
 * claim (made by /bored), never a claim held with a token. Anything else
 * is kept in late/ and answered 409.
 */
static void seed_finish(struct claim_change *r, struct spool *sp)
{
	int fail = r->verb == V_FAIL, rc;

	if (r->token[0]) {
		rc = find_claim(r, sp);
		if (rc == 0 && r->o.n.attempt != r->attempt)
			rc = -ESTALE;
	} else {
		rc = spool_lookup(sp, r->id, &r->o);
		if (rc == 0 && r->o.state == ST_DONE) {
			seed_duplicate(r, "done");
			return;
		}
		if (rc == 0 && (r->o.state != ST_ASSIGNED ||
				!token_is_seed(r->o.n.token)))
			rc = -ESTALE;
	}
	if (rc == -ENOENT) {
		hop_error(&r->h, 404, "no job %s", r->id);
		return;
	}
	if (rc == -ESTALE) {
		/* not this caller's claim: keep its outcome aside, under a
		 * token of its own when it named none */
		struct order o = r->o;
		char why[160];

		snprintf(why, sizeof(why), "order %s is %s", r->id,
			 r->o.state == ST_ASSIGNED ? "claimed by another worker"
						   : spool_state_name(r->o.state));
		if (o.state != ST_ASSIGNED || o.n.claimed == 0 || !r->token[0]) {
			o.n.claimed = 1;
			if (!r->token[0])
				token_new(o.n.token);
			else
				memcpy(o.n.token, r->token, sizeof(o.n.token));
			if (o.n.attempt < 1)
				o.n.attempt = 1;
			if (!worker_valid(o.n.worker))
				strcpy(o.n.worker, "seed");
			o.state = ST_ASSIGNED;
			name_format(&o.n, o.file, sizeof(o.file));
		}
		if (file_late(r, sp, &o, fail) == -EALREADY) {
			seed_duplicate(r, fail ? "failed" : "done");
			return;
		}
		hop_error(&r->h, 409, "%s; the outcome is not filed for it and is "
			  "kept in late/", why);
		return;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "find the order");
		return;
	}
	r->state = fail ? ST_FAILED : ST_DONE;
	rc = finish(r, sp, &r->o, fail, 0);
	if (!fail && rc == -EALREADY) {
		r->duplicate = 1;
		rc = 0;
	}
	if (rc == -ESTALE) {
		hop_error(&r->h, 409, "order %s is no longer assigned", r->id);
		return;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "file the outcome");
		return;
	}
	buf_printf(&r->h.out, "{\"_id\": \"%s\", \"jobId\": \"%s\", \"state\": "
		   "\"%s\", \"message\": \"outcome filed\"}\n", r->id, r->id,
		   !fail ? "done" : r->retried ? "new" : "failed");
	r->h.status = 200;
}

/* ---- run and done ---------------------------------------------------------------- */

static void run_change(struct op *op, struct spool *sp)
{
	struct claim_change *r = change_of(op);
	if (r->api == API_SEED) {
		seed_finish(r, sp);
		return;
	}
	switch (r->verb) {
	case V_HEARTBEAT: v1_heartbeat(r, sp); break;
	case V_COMPLETE:
	case V_FAIL: v1_finish(r, sp); break;
	case V_RELEASE: v1_release(r, sp); break;
	}
}

/*
 * The batch committed: the answer was written assuming the changes would
 * be made; the commit says otherwise. A claim lost at the last moment is a
 * 409 with the outcome kept in late/; a repeated request that finds its
 * outcome filed is a duplicate.
 */
static void change_committed(struct claim_change *r)
{
	switch (r->h.op.commit_rc) {
	case -EALREADY:
		duplicate(r, spool_state_name(r->state ? r->state : r->o.state));
		return;
	case -ESTALE:
		hop_error(&r->h, 409, "the claim on order %s is no longer held "
			  "(lease expired, cancelled or requeued); the outcome is "
			  "kept in late/", r->id);
		return;
	default:
		hop_commit_failed(&r->h);
	}
}

static void done_change(struct op *op)
{
	struct claim_change *r = change_of(op);
	struct server *srv = r->h.held.srv;
	struct hstats *hs = &srv->hs;
	int fail = r->verb == V_FAIL;

	if (r->h.status < 300)
		change_committed(r);
	if (r->h.status >= 400 && r->file[0]) {
		/* the name the map gave was no claim's any more (reaped, ended
		 * behind our back): forget it, unless a new claim replaced it */
		const char *f = claimmap_get(&srv->core.map, r->id);
		if (f && !strcmp(f, r->file))
			claimmap_del(&srv->core.map, r->id);
	}
	if (r->h.status != 200 || r->duplicate) {
		hop_reply(&r->h);
		return;
	}
	/* the claim map follows the claim: renewed, or ended */
	if (r->verb == V_HEARTBEAT)
		claimmap_put(&srv->core.map, r->id, r->o.file);
	else if (r->token[0] || r->api == API_SEED)
		claimmap_del(&srv->core.map, r->id);
	if (r->verb == V_RELEASE || (fail && r->retried))
		core_queued(&srv->core, &r->o);
	if (r->verb != V_HEARTBEAT && (r->token[0] || r->api == API_SEED))
		metrics_ended(&srv->metrics, &r->o, r->verb != V_RELEASE);
	if (fail) {
		hs->failures++;
		if (r->retried)
			hs->retries++;
	} else if (r->verb == V_COMPLETE) {
		hs->completions++;
	}
	if (r->api == API_SEED)
		say(&srv->log, "callback %s: %s", r->id,
		    fail ? "failure filed" : "done");
	else if (r->verb == V_COMPLETE)
		say(&srv->log, "complete %s", r->id);
	else if (fail)
		say(&srv->log, "fail %s: %s", r->id,
		    r->retried ? "will retry" : "failed for good");
	else if (r->verb == V_RELEASE)
		say(&srv->log, "release %s", r->id);
	hop_reply(&r->h);
}

static struct claim_change *change_new(struct conn *c, enum verb verb,
				       enum api api, const char *id,
				       const char *token)
{
	struct server *srv = srv_of(c);
	struct claim_change *r = hop_new(c, sizeof(*r), OP_WRITE, run_change,
					 done_change);
	const char *file;
	if (!r)
		return NULL;
	r->h.op.track = &r->o;
	r->verb = verb;
	r->api = api;
	memcpy(r->id, id, SPOOL_ID_LEN + 1);
	snprintf(r->token, sizeof(r->token), "%s", token);
	r->body = body_of(c, &r->blen);
	r->lease_s = srv->cfg.lease_s;
	if (token[0] && (file = claimmap_get(&srv->core.map, id)))
		snprintf(r->file, sizeof(r->file), "%s", file);
	return r;
}

/* What a claim-token route takes: an id, a token, maybe an outcome. */
static void token_route(struct conn *c, enum verb verb)
{
	struct claim_change *r;
	char id[SPOOL_ID_LEN + 1], token[SPOOL_TOKEN_LEN + 1];
	int lease = 0;

	if (seg_id(c, 2, id) < 0 || req_token(c, token, verb != V_RELEASE) < 0)
		return;
	if (verb == V_COMPLETE && body_object(c, "outcome") < 0)
		return;
	if (verb == V_FAIL && c->req.body.len && body_object(c, "outcome") < 0)
		return;
	if (verb == V_HEARTBEAT && lease_param(c, 0, &lease) < 0)
		return;
	if (!(r = change_new(c, verb, API_V1, id, token)))
		return;
	/* a heartbeat without lease= renews for the claim's lease: the job's,
	 * else this daemon's --lease, as at the claim */
	if (lease)
		r->lease_s = lease;
	hop_submit(&r->h);
}

void orders_heartbeat(struct conn *c)
{
	token_route(c, V_HEARTBEAT);
}

void orders_complete(struct conn *c)
{
	token_route(c, V_COMPLETE);
}

void orders_fail(struct conn *c)
{
	token_route(c, V_FAIL);
}

void orders_release(struct conn *c)
{
	token_route(c, V_RELEASE);
}

void orders_callback(struct conn *c, const char *id, const char *token,
		     int attempt, int failed)
{
	struct claim_change *r = change_new(c, failed ? V_FAIL : V_COMPLETE,
					    API_SEED, id, token);
	if (!r)
		return;
	r->attempt = attempt;
	hop_submit(&r->h);
}

/* ---- person-driven changes ---------------------------------------------------------- */

enum person_verb { P_HOLD, P_REQUEUE, P_CANCEL };

struct person_req {
	struct hop h;
	enum person_verb verb;
	char id[SPOOL_ID_LEN + 1];
	struct order o;
};

static const char *const person_name[] = { "hold", "requeue", "cancel" };

static void run_person(struct op *op, struct spool *sp)
{
	struct person_req *r = container_of(hop_of(op), struct person_req, h);
	char what[32];
	int rc;
	switch (r->verb) {
	case P_HOLD: rc = spool_hold(sp, r->id, &r->o); break;
	case P_REQUEUE: rc = spool_requeue(sp, r->id, &r->o); break;
	default: rc = spool_cancel(sp, r->id, &r->o); break;
	}
	snprintf(what, sizeof(what), "%s the order", person_name[r->verb]);
	if (rc < 0)
		hop_errno(&r->h, sp, rc, what);
	else
		hop_ok_state(&r->h, r->id, r->o.state);
}

static void done_person(struct op *op)
{
	struct person_req *r = container_of(hop_of(op), struct person_req, h);
	struct server *srv = r->h.held.srv;
	if (r->h.status < 300)
		hop_commit_failed(&r->h);
	if (r->h.status == 200) {
		core_queued(&srv->core, &r->o);
		claimmap_del(&srv->core.map, r->id);
		say(&srv->log, "%s %s", person_name[r->verb], r->id);
	}
	hop_reply(&r->h);
}

static void person(struct conn *c, enum person_verb verb)
{
	struct person_req *r;
	char id[SPOOL_ID_LEN + 1];
	if (seg_id(c, 2, id) < 0)
		return;
	r = hop_new(c, sizeof(*r), OP_WRITE, run_person, done_person);
	if (!r)
		return;
	r->verb = verb;
	memcpy(r->id, id, sizeof(id));
	hop_submit(&r->h);
}

void orders_hold(struct conn *c)
{
	person(c, P_HOLD);
}

void orders_requeue(struct conn *c)
{
	person(c, P_REQUEUE);
}

void orders_cancel(struct conn *c)
{
	person(c, P_CANCEL);
}

/* ---- an attempt's log ------------------------------------------------------------- */

struct log_req {
	struct claim_change ch;		/* its claim, found as any other */
	int attempt;			/* ?attempt=, 0: the claim's */
};

static void run_log_put(struct op *op, struct spool *sp)
{
	struct claim_change *r = change_of(op);
	struct log_req *l = container_of(r, struct log_req, ch);
	/* 0 also for a claim that finished (done, failed): its log is welcome */
	int rc = find_claim(r, sp);
	if (rc == -ESTALE) {
		/* a retried or reaped attempt: the claim was real if an
		 * outcome is on file for that attempt under this token */
		struct order o = r->o;
		struct buf b;
		o.state = ST_ASSIGNED;
		o.n.claimed = 1;
		if (l->attempt)
			o.n.attempt = l->attempt;
		memcpy(o.n.token, r->token, sizeof(o.n.token));
		buf_init(&b, SPOOL_OUTCOME_MAX + 2);
		if (spool_read_outcome(sp, &o, &b) == 0) {
			r->o.n.attempt = o.n.attempt;
			rc = 0;
		}
		buf_release(&b);
	}
	if (rc == -ESTALE) {
		hop_error(&r->h, 409, "claim %s of order %s is not this order's "
			  "claim", r->token, r->id);
		return;
	}
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "find the claim");
		return;
	}
	if (!l->attempt)
		l->attempt = r->o.n.attempt;
	rc = spool_log_put(sp, r->id, l->attempt, r->body, r->blen);
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "store the log");
		return;
	}
	buf_printf(&r->h.out, "{\"id\": \"%s\", \"attempt\": %d, \"bytes\": %zu}\n",
		   r->id, l->attempt, r->blen);
	r->h.status = 200;
}

void orders_log_put(struct conn *c)
{
	struct server *srv = srv_of(c);
	struct log_req *l;
	char id[SPOOL_ID_LEN + 1], token[SPOOL_TOKEN_LEN + 1];
	const char *file;
	long attempt;

	if (seg_id(c, 2, id) < 0 || req_token(c, token, 1) < 0)
		return;
	if (query_int(c->req.query, "attempt", 1, SPOOL_ATTEMPTS_MAX, 0,
		      &attempt) < 0) {
		http_error(c, 400, "attempt must be 1 to %d", SPOOL_ATTEMPTS_MAX);
		return;
	}
	l = hop_new(c, sizeof(*l), OP_WRITE, run_log_put, hop_done);
	if (!l)
		return;
	l->attempt = (int)attempt;
	memcpy(l->ch.id, id, sizeof(id));
	memcpy(l->ch.token, token, sizeof(token));
	l->ch.body = body_of(c, &l->ch.blen);
	if ((file = claimmap_get(&srv->core.map, id)))
		snprintf(l->ch.file, sizeof(l->ch.file), "%s", file);
	hop_submit(&l->ch.h);
}
