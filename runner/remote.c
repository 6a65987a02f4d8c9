/*
 * remote: the claimer of a runner that works for a boss (spoold) over
 * HTTP: a claim is a long poll, a heartbeat a POST, and a finished run's
 * log and outcome go into the durable outbox before the slot sends them
 * itself (the outbox thread sends what it could not). Each claimer has its
 * own struct boss (a CURL handle and its keep-alive connection).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "runner.h"

static int berr(struct claimer *cl, int r)
{
	snprintf(cl->err, sizeof(cl->err), "%s", cl->b.err[0] ? cl->b.err : strerror(-r));
	return r;
}

static int remote_claim(struct claimer *cl, struct task *t, int wait_s)
{
	struct runner *rn = cl->rn;
	int r = boss_claim(&cl->b, rn->name, rn->tagcsv, wait_s, rn->lease_s, t);

	return r < 0 && r != -EAGAIN ? berr(cl, r) : r;
}

static int remote_renew(struct claimer *cl, struct task *t)
{
	int r = boss_heartbeat(&cl->b, t, cl->rn->lease_s);

	return r < 0 ? berr(cl, r) : 0;
}

/*
 * The order as the boss has it (GET /v1/orders/ID): still assigned, to this
 * attempt and this worker. A failed request is not a lost claim (the
 * heartbeat judges a boss that does not answer).
 */
static int remote_check(struct claimer *cl, struct task *t)
{
	char path[128], state[32] = "", worker[SPOOL_WORKER_MAX + 1] = "";
	struct boss *b = &cl->b;
	int64_t attempt = 0;
	struct json j;
	int i, r = 0;

	snprintf(path, sizeof(path), "/v1/orders/%s", t->id);
	if (boss_request(b, "GET", path, NULL, 0, 5, 0) < 0)
		return 0;
	if (b->status == 404) {
		snprintf(cl->err, sizeof(cl->err), "the order is gone from the boss");
		return -ESTALE;
	}
	if (b->status != 200 || json_parse(&j, b->reply.data, b->reply.len, 512, NULL, 0) < 0)
		return 0;
	if (j.tok[0].type == JSMN_OBJECT) {
		if ((i = json_get(&j, 0, "state")) >= 0)
			json_str(&j, i, state, sizeof(state));
		if ((i = json_get(&j, 0, "worker")) >= 0)
			json_str(&j, i, worker, sizeof(worker));
		if ((i = json_get(&j, 0, "attempt")) >= 0)
			json_int(&j, i, &attempt);
		if (state[0] && (strcmp(state, "assigned") || attempt != t->attempt ||
				 (worker[0] && strcmp(worker, cl->rn->name)))) {
			snprintf(cl->err, sizeof(cl->err), "the order is %s at the boss%s",
				 state, strcmp(state, "assigned") ? "" : " by another claim");
			r = -ESTALE;
		}
	}
	json_release(&j);
	return r;
}

/*
 * The outbox cannot take the outcome: send it to the boss at once, once.
 * Only what the outbox's own rule (outbox_answer) calls settled is; any
 * other answer is said loudly, for nothing holds the outcome any more.
 */
static void send_direct(struct claimer *cl, struct task *t, const char *kind,
			const struct buf *out)
{
	struct boss *b = &cl->b;
	char path[256];
	enum outbox_answer a;

	snprintf(path, sizeof(path), "/v1/orders/%s/%s?token=%s", t->id, kind, t->token);
	if (boss_request(b, "POST", path, out->data, out->len, 30, 0) == 0) {
		a = outbox_answer(b->status);
		if (a == ANSWER_TAKEN || a == ANSWER_STALE)
			return;
		boss_error(b);
	}
	say(cl->rn, "slot %d: %s: OUTCOME LOST: the boss did not take it (%s)",
	    cl->slot, t->id, b->err[0] ? b->err : "HTTP error");
}

/*
 * The log and the outcome (kind NULL: the log only) into the outbox,
 * durably; then this slot sends them itself, and leaves them to the outbox
 * thread if it cannot.
 */
static void deliver(struct claimer *cl, struct task *t, const struct buf *log,
		    const char *kind, const struct buf *out)
{
	struct outbox *ob = &cl->rn->outbox;
	struct boss *b = &cl->b;
	int r = 0, held = outbox_hold(ob, t->id, t->attempt, t->token) == 0;

	if (log && log->len)
		r = outbox_put(ob, t->id, t->attempt, t->token, "log", log->data, log->len);
	if (r < 0)
		say(cl->rn, "slot %d: %s: cannot keep the log in the outbox: %s",
		    cl->slot, t->id, strerror(-r));
	if (kind && (r = outbox_put(ob, t->id, t->attempt, t->token, kind, out->data,
				    out->len)) < 0) {
		say(cl->rn, "slot %d: %s: cannot keep the outcome in the outbox (%s): sending it directly",
		    cl->slot, t->id, strerror(-r));
		send_direct(cl, t, kind, out);
	}
	if (held) {
		r = outbox_send(ob, b, t->id, t->attempt, t->token, say_outbox);
		outbox_release(ob, t->id, t->attempt, t->token);
		if (r == 0)
			return;
	}
	outbox_kick(ob);
}

static void remote_finish(struct claimer *cl, struct task *t, const struct buf *log,
			  int ok, const struct buf *out)
{
	deliver(cl, t, log, ok ? "complete" : "fail", out);
}

static void remote_keep_log(struct claimer *cl, struct task *t, const struct buf *log)
{
	deliver(cl, t, log, NULL, NULL);
}

static int remote_release(struct claimer *cl, struct task *t)
{
	char path[256];
	int r;

	snprintf(path, sizeof(path), "/v1/orders/%s/release?token=%s", t->id, t->token);
	r = boss_request(&cl->b, "POST", path, NULL, 0, 10, 0);
	if (r == 0 && cl->b.status != 200)
		r = boss_error(&cl->b);
	return r < 0 ? berr(cl, r) : 0;
}

/* The queue as the boss has it (GET /v1/orders?state=new): an error is 1. */
static int remote_later(struct claimer *cl, int (*skip)(void *arg, const char *id),
			void *arg)
{
	struct boss *b = &cl->b;
	struct json j;
	int i, end, r = 0;

	if (boss_request(b, "GET", "/v1/orders?state=new&limit=10000", NULL, 0, 30, 0) < 0 ||
	    b->status != 200 ||
	    json_parse(&j, b->reply.data, b->reply.len, JSON_TOKENS_MAX, NULL, 0) < 0)
		return 1;
	end = j.tok[0].type == JSMN_ARRAY ? json_skip(&j, 0) : 1;
	for (i = 1; i < end && !r; i = json_skip(&j, i)) {
		char id[SPOOL_ID_LEN + 1] = "", tag[SPOOL_TAG_MAX + 1];
		int f, g, gend, ok = 1;

		if (j.tok[i].type != JSMN_OBJECT)
			continue;
		if ((f = json_get(&j, i, "_id")) >= 0)
			json_str(&j, f, id, sizeof(id));
		if (!id[0] || skip(arg, id))
			continue;
		if ((f = json_get(&j, i, "tags")) >= 0 && j.tok[f].type == JSMN_ARRAY) {
			gend = json_skip(&j, f);
			for (g = f + 1; g < gend && ok; g = json_skip(&j, g))
				ok = json_str(&j, g, tag, sizeof(tag)) == 0 && runner_has_tag(cl->rn, tag);
		}
		r = ok;
	}
	json_release(&j);
	return r;
}

static int remote_announce(struct claimer *cl, const struct buf *doc)
{
	struct boss *b = &cl->b;
	int r = boss_request(b, "POST", "/v1/workers", doc->data, doc->len, 10, 0);

	if (r == 0 && b->status != 200)
		r = boss_error(b);
	return r < 0 ? berr(cl, r) : 0;
}

static void remote_mend(struct claimer *cl)
{
	(void)cl;	/* the boss reaps its own leases */
}

static void remote_where(struct claimer *cl, const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "curl %s/v1/orders/%s/log", cl->rn->boss_url, id);
}

static void remote_close(struct claimer *cl)
{
	boss_release(&cl->b);
}

static const struct claimer_ops remote_ops = {
	.claim = remote_claim,
	.renew = remote_renew,
	.check = remote_check,
	.finish = remote_finish,
	.keep_log = remote_keep_log,
	.release = remote_release,
	.later = remote_later,
	.announce = remote_announce,
	.mend = remote_mend,
	.where = remote_where,
	.close = remote_close,
};

int remote_open(struct claimer *cl, struct runner *rn, int slot)
{
	int r;

	memset(cl, 0, sizeof(*cl));
	cl->rn = rn;
	cl->slot = slot;
	/* a slot's long poll ends when the runner stops; the main thread's
	 * requests are short */
	if ((r = boss_init(&cl->b, rn->boss_url, rn->bearer, slot >= 0 ? &rn->stopping : NULL,
			   &rn->health)) < 0) {
		snprintf(cl->err, sizeof(cl->err), "cannot start libcurl: %s", strerror(-r));
		return r;
	}
	cl->ops = &remote_ops;
	return 0;
}
