/*
 * prune: early stopping on the runner's side. A job that names a rule
 * ("spool"."stop", lib/stop.h) has each point of its series judged while it
 * runs: the threshold rule needs nothing but the point; the median rule
 * needs the finished runs of the sweep, which a local runner reads from the
 * spool itself (through a cache the slot keeps across runs) and a remote
 * runner has the boss read (GET /v1/orders/ID/stop, once per heartbeat
 * tick, about the last point). A point judged worse stops the script as a
 * cancel does (the slot's stop hook: SIGTERM to its group, then SIGKILL),
 * and the run is filed done with a "pruned" outcome: not a failure, not
 * retried.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "runner.h"

#define PRUNE_LINE_MAX (64 << 10)	/* the last point's line kept */

void prune_begin(struct prune *p, struct claimer *cl, struct task *t, struct live *lv)
{
	struct stop_cache *keep = p->cache;
	struct buf last = p->last;
	int r;

	memset(p, 0, sizeof(*p));
	p->cache = keep;
	p->last = last;
	if (!p->last.max)
		buf_init(&p->last, PRUNE_LINE_MAX);
	buf_reset(&p->last);
	p->cl = cl;
	p->t = t;
	r = t->job.data ? stop_rule_of_job(t->job.data, t->job.len, &p->rule, p->sweep) : 0;
	if (r <= 0)
		return;
	p->on = 1;
	lv->point = prune_point;
	lv->point_arg = p;
	if (p->rule.kind == STOP_MEDIAN && !cl->rn->boss_url && !p->cache &&
	    !(p->cache = stop_cache_new()))
		p->on = 0;	/* no memory: the run goes on unjudged */
}

/* Judge the waiting point here: the threshold, or the median on our spool. */
static void judge(struct prune *p)
{
	struct stop_verdict v;
	struct spool *sp = p->cl->rn->boss_url ? NULL : &p->cl->sp;
	int r;

	p->have = 0;
	r = stop_judge(p->cache, sp, &p->rule, p->sweep, p->t->id, p->step, p->value, &v);
	if (r < 0) {
		if (!p->said++)
			say(p->cl->rn, "slot %d: %s: cannot judge the run by its stopping rule: %s",
			    p->cl->slot, p->t->id, strerror(-r));
		return;
	}
	if (v.stop) {
		p->stop = 1;
		p->ref = v.ref;
		p->runs = v.runs;
	}
}

void prune_point(void *arg, const char *line, size_t n)
{
	struct prune *p = arg;
	double step, value;

	if (!p->on || p->stop || !stop_point(line, n, p->rule.key, &step, &value))
		return;	/* a step that is not a number never gets here (live.c) */
	p->step = step;
	p->value = value;
	buf_reset(&p->last);
	if (buf_add(&p->last, line, n) < 0)
		buf_reset(&p->last);
	p->have = 1;
	/* the remote median asks the boss: from the heartbeat, not the poll loop */
	if (p->rule.kind == STOP_THRESHOLD || !p->cl->rn->boss_url)
		judge(p);
}

/* The boss's verdict on the last point. */
static void ask(struct prune *p)
{
	struct boss *b = &p->cl->b;
	char path[160];
	struct json j;
	double ref;
	int64_t runs = 0;

	p->have = 0;
	snprintf(path, sizeof(path), "/v1/orders/%s/stop?step=%.17g&value=%.17g", p->t->id,
		 p->step, p->value);
	if (boss_request(b, "GET", path, NULL, 0, 5, 0) < 0 || b->status != 200 ||
	    json_parse(&j, b->reply.data ? b->reply.data : "", b->reply.len, 256, NULL, 0) < 0) {
		if (!p->said++)
			say(p->cl->rn, "slot %d: %s: the boss cannot judge the run by its stopping "
			    "rule (%s%ld): it runs to its end", p->cl->slot, p->t->id,
			    b->err[0] && b->status == 0 ? b->err : "HTTP ", b->status);
		return;
	}
	if (j.tok[0].type == JSMN_OBJECT && json_bool(&j, json_get(&j, 0, "stop")) == 1 &&
	    json_num(&j, json_get(&j, 0, "median"), &ref) == 0) {
		json_int(&j, json_get(&j, 0, "runs"), &runs);
		p->stop = 1;
		p->ref = ref;
		p->runs = (int)runs;
	}
	json_release(&j);
}

void prune_beat(struct prune *p)
{
	if (p && p->on && p->have && !p->stop && p->cl->rn->boss_url &&
	    p->rule.kind == STOP_MEDIAN)
		ask(p);
}

int prune_stop(const struct prune *p)
{
	return p && p->on && p->stop;
}

/* The last point's members (but what the runner sets), then "pruned". */
static int pruned_doc(struct prune *p, const struct exec_result *r, struct buf *b)
{
	struct stop_verdict v = { 1, p->step, p->value, p->ref, 1, p->runs };
	struct json j;
	char sig[16];
	int i, end, e = 0;

	buf_reset(b);
	if ((e = buf_puts(b, "{\"status\":200,")) < 0)
		return e;
	if (p->last.len &&
	    json_parse(&j, p->last.data, p->last.len, 4096, NULL, 0) == 0) {
		end = json_skip(&j, 0);
		for (i = 1; e == 0 && i < end; i = json_skip(&j, i + 1)) {
			if (json_eq(&j, i, "_run") || json_eq(&j, i, "pruned") ||
			    json_eq(&j, i, "status"))
				continue;
			if ((e = json_append_raw(&j, i, b)) == 0 && (e = buf_puts(b, ":")) == 0 &&
			    (e = json_append_raw(&j, i + 1, b)) == 0)
				e = buf_puts(b, ",");
		}
		json_release(&j);
	}
	if (e == 0)
		e = buf_puts(b, "\"pruned\":");
	if (e == 0)
		e = stop_pruned_json(&p->rule, &v, b);
	if (e == 0) {
		/* how the script ended: stopped by us, as a cancel would */
		b->len--;	/* reopen the object */
		if (r->sig)
			e = buf_printf(b, ",\"signal\":\"%s\"}}", exec_signame(r->sig, sig));
		else
			e = buf_printf(b, ",\"exit\":%d}}", r->code);
	}
	return e;
}

int prune_finish(struct prune *p, const struct exec_result *r, const struct run_info *ri,
		 struct buf *log, struct buf *out)
{
	struct exec_result rr;
	char why[160];
	int e;

	if (!prune_stop(p) || r->end != END_STOPPED)
		return 0;
	/* outcome_build adds the "_run" record to what we say the run printed */
	rr = *r;
	buf_init(&rr.outcome, SPOOL_OUTCOME_MAX);
	if ((e = pruned_doc(p, r, &rr.outcome)) == 0) {
		/* "_run" then says how it ended: the signal we sent, as a cancel */
		rr.end = END_EXITED;
		rr.code = 0;
		rr.nonfinite = 0;
		e = outcome_build(&rr, ri, out, why, sizeof(why));
		e = e == 1 ? 0 : e < 0 ? e : -EINVAL;
	}
	buf_release(&rr.outcome);
	if (e < 0)
		return e;
	if (log->len && log->data[log->len - 1] != '\n')
		buf_puts(log, "\n");
	if (p->rule.kind == STOP_MEDIAN)
		buf_printf(log, "[runner: pruned by the median rule after %.2f s: %s %.6g at step %.6g "
			   "is worse than the median %.6g of %d finished runs]\n", r->wall_ms / 1000.0,
			   p->rule.key, p->value, p->step, p->ref, p->runs);
	else
		buf_printf(log, "[runner: pruned by the threshold rule after %.2f s: %s %.6g at step "
			   "%.6g is worse than %.6g]\n", r->wall_ms / 1000.0, p->rule.key, p->value,
			   p->step, p->ref);
	say(p->cl->rn, "slot %d: %s attempt %d: pruned at step %.6g (%s %.6g, %s %.6g): done, "
	    "not a failure", p->cl->slot, p->t->id, p->t->attempt, p->step, p->rule.key, p->value,
	    p->rule.kind == STOP_MEDIAN ? "median" : "threshold", p->ref);
	return 1;
}

void prune_release(struct prune *p)
{
	stop_cache_free(p->cache);
	p->cache = NULL;
	buf_release(&p->last);
}
