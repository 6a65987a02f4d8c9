/*
 * slot: one thread per slot, each claiming and running one order at a time
 * through its own claimer (remote.c or local.c; the slot never knows
 * which): claim, check and resolve the script (or a command job's program),
 * run it with heartbeats and
 * a check of the claim every second, then hand the log and the outcome
 * back. A claim this runner cannot run (its script is not in --scripts) is
 * held while the slot claims past it, then given back; a run that dies
 * while the runner stops (a preemption) is released, not failed. Slots
 * share nothing but the runner's configuration, its flags and the outbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "runner.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define SKIP_MAX 16		/* claims of jobs this runner cannot run held at once */
#define SKIP_SAID 64		/* of those, ids logged recently */
#define CHECK_MS 1000		/* is the claim still ours? (a cancel) */
#define PREEMPT_WAIT_MS 2000	/* a script dead of SIGTERM: for the runner's to show */

/* The context of the running order, for the heartbeat. */
struct ctx {
	struct slot *sl;
	struct runner *rn;
	struct claimer *cl;
	struct task *t;
	int beat_errors;
	int64_t next_renew_ms;	/* mono: the next heartbeat; checks in between */
	struct live *live;	/* the running script's live log and series */
	struct prune pr;	/* early stopping of the running script */
};

/* Exponential backoff with jitter: the next wait, in [cur/2, cur]. */
static int64_t backoff(struct slot *sl, unsigned *seed)
{
	int64_t b = sl->backoff_ms ? sl->backoff_ms * 2 : BACKOFF_MIN_MS;

	if (b > BACKOFF_MAX_MS)
		b = BACKOFF_MAX_MS;
	sl->backoff_ms = b;
	return b / 2 + (int64_t)(rand_r(seed) % (unsigned)(b / 2 + 1));
}

/*
 * A heartbeat every third of the lease: the one asked for, else what is
 * left of the deadline the claimer gave (whose clock may differ a little
 * from ours: hence thirds, not halves).
 */
static int64_t beat_interval(const struct runner *rn, int64_t deadline_ms)
{
	int64_t left = deadline_ms - now_ms(), iv;

	if (rn->lease_s > 0)
		left = rn->lease_s * 1000LL;
	else if (deadline_ms <= 0 || left <= 0 || left > 86400000LL)
		left = 90 * 1000LL;
	iv = left / 3;
	return iv < 500 ? 500 : iv > 60000 ? 60000 : iv;
}

static int on_beat(void *arg, int64_t *next_ms)
{
	struct ctx *c = arg;
	int64_t now = mono_ms();
	int r;

	/* between heartbeats, every CHECK_MS: is the claim still ours? so that
	 * a cancel stops the script within a second, not at the next beat */
	if (now < c->next_renew_ms)
		r = c->cl->ops->check(c->cl, c->t);
	else
		r = c->cl->ops->renew(c->cl, c->t);
	if (r == -ESTALE) {
		say(c->rn, "slot %d: %s attempt %d: claim lost (%s): stopping the script",
		    c->sl->index, c->t->id, c->t->attempt, c->cl->err);
		return r;
	}
	*next_ms = CHECK_MS;
	live_beat(c->live);
	prune_beat(&c->pr);
	if (now < c->next_renew_ms)
		goto out;
	if (r < 0) {
		if (!c->beat_errors++)
			say(c->rn, "slot %d: %s: heartbeat failed: %s", c->sl->index,
			    c->t->id, c->cl->err);
		c->next_renew_ms = mono_ms() + 1000;
		goto out;
	}
	if (c->beat_errors) {
		say(c->rn, "slot %d: %s: heartbeat works again", c->sl->index, c->t->id);
		c->beat_errors = 0;
	}
	c->next_renew_ms = mono_ms() + beat_interval(c->rn, c->t->deadline_ms);
out:
	if (c->next_renew_ms - mono_ms() < *next_ms)
		*next_ms = c->next_renew_ms - mono_ms() > 0 ? c->next_renew_ms - mono_ms() : 1;
	return 0;
}

static int on_stop(void *arg)
{
	struct ctx *c = arg;
	int64_t k = atomic_load(&c->rn->kill_at_ms);

	return (k && mono_ms() >= k) || prune_stop(&c->pr);
}

/* ---- handing back ------------------------------------------------------- */

static void deliver(struct ctx *c, const struct buf *log, int ok,
		    const struct buf *out)
{
	if (ok)
		atomic_fetch_add(&c->rn->completed, 1);
	else
		atomic_fetch_add(&c->rn->failed, 1);
	c->cl->ops->finish(c->cl, c->t, log, ok, out);
}

/* Give the claim back without counting an attempt. 0 or a negative errno. */
static int give_back(struct ctx *c)
{
	int r = c->cl->ops->release(c->cl, c->t);

	if (r < 0)
		say(c->rn, "slot %d: %s: cannot release the claim (%s): its lease will expire",
		    c->sl->index, c->t->id, c->cl->err);
	return r;
}

/* Give the claim back without counting an attempt (shutdown), saying so. */
static void release(struct ctx *c)
{
	if (give_back(c) == 0)
		say(c->rn, "slot %d: %s attempt %d: released", c->sl->index, c->t->id,
		    c->t->attempt);
}

static void release_quiet(struct ctx *c)
{
	give_back(c);
}

/* ---- one order ------------------------------------------------------------ */

static void refuse(struct ctx *c, const struct run_info *ri, const char *why)
{
	struct buf out, log;

	buf_init(&out, SPOOL_OUTCOME_MAX);
	buf_init(&log, 4096);
	say(c->rn, "slot %d: %s attempt %d: %s", c->sl->index, c->t->id,
	    c->t->attempt, why);
	buf_printf(&log, "[runner %s: %s]\n", c->rn->name, why);
	if (outcome_refused(ri, why, &out) == 0)
		deliver(c, &log, 0, &out);
	buf_release(&out);
	buf_release(&log);
}

/*
 * The runner itself is in trouble (disk, memory, descriptors), not the job:
 * give the order back rather than spend one of its attempts, and wait
 * before claiming again so as not to spin on it.
 */
static void trouble(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void trouble(struct ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	unsigned seed = (unsigned)now_ms();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(c->rn, "slot %d: %s attempt %d: %s: giving the order back", c->sl->index,
	    c->t->id, c->t->attempt, msg);
	release(c);
	runner_nap(c->rn, 2000 + rand_r(&seed) % 3000);
}

static void trailer(struct buf *log, const struct exec_result *r,
		    const char *outcome_error)
{
	char sig[16];

	if (log->len && log->data[log->len - 1] != '\n')
		buf_puts(log, "\n");
	if (r->end == END_EXITED)
		buf_printf(log, "[runner: exit code %d after %.2f s", r->code,
			   r->wall_ms / 1000.0);
	else if (r->end == END_SIGNALED)
		buf_printf(log, "[runner: killed by %s after %.2f s",
			   exec_signame(r->sig, sig), r->wall_ms / 1000.0);
	else if (r->end == END_TIMEOUT)
		buf_printf(log, "[runner: timed out after %.2f s", r->wall_ms / 1000.0);
	else if (r->end == END_STOPPED)
		buf_printf(log, "[runner: stopped for shutdown after %.2f s",
			   r->wall_ms / 1000.0);
	else if (r->end == END_LOST)
		buf_printf(log, "[runner: stopped, claim lost, after %.2f s",
			   r->wall_ms / 1000.0);
	else
		buf_printf(log, "[runner: cannot run the script: %s", strerror(r->err));
	if (r->end != END_EXITED)
		outcome_error = NULL;	/* it says the same */
	if (r->nonfinite)
		buf_printf(log, "; %d NaN or Infinity in the outcome read as null", r->nonfinite);
	buf_printf(log, "%s%s]\n", outcome_error ? ": " : "",
		   outcome_error ? outcome_error : "");
}

/*
 * The line of stderr that says what went wrong: its first, or, after
 * Python's "Traceback" header, the last (the exception).
 */
static void err_line(const struct exec_result *r, char out[EXEC_ERRHEAD_MAX + 1])
{
	const char *t = r->errtail, *end, *b;

	snprintf(out, EXEC_ERRHEAD_MAX + 1, "%s", r->errhead);
	if (strncmp(out, "Traceback (most recent call last)", 33))
		return;
	end = t + strlen(t);
	while (end > t && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (b = end; b > t && b[-1] != '\n'; b--)
		;
	if (end > b)
		snprintf(out, EXEC_ERRHEAD_MAX + 1, "%.*s", (int)(end - b), b);
}

/* Did the run die of the runner's own stop (a preemption)? */
static int stop_signal(const struct exec_result *r)
{
	int sig = r->end == END_SIGNALED ? r->sig
		  : r->end == END_EXITED && r->code > 128 ? r->code - 128 : 0;

	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGKILL;
}

/*
 * A run that did not succeed while its runner is stopping is released, not
 * failed: under Slurm (scancel, a time limit, a preemption) SIGTERM reaches
 * every process of the step at once, so the script may die of it before
 * this runner has taken the same signal. A run that ended of such a signal
 * waits a little for the runner's stop to show (the signal is pending on the
 * process until the main thread takes it).
 */
static int preempted(struct runner *rn, const struct exec_result *r)
{
	int64_t until = mono_ms() + PREEMPT_WAIT_MS;
	sigset_t pend;

	if (r->end == END_EXITED && r->code == 0 && r->outcome.len)
		return 0;	/* it may have succeeded: outcome_build decides */
	if (r->end == END_SPAWN || r->end == END_LOST)
		return 0;
	while (!atomic_load(&rn->stopping)) {
		struct timespec ts = { 0, 20 * 1000000 };

		if (!stop_signal(r) || mono_ms() >= until)
			return 0;
		if (sigpending(&pend) == 0 && (sigismember(&pend, SIGTERM) == 1 ||
		    sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGHUP) == 1))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 1;
}

static void run_task(struct ctx *c)
{
	struct runner *rn = c->rn;
	struct slot *sl = c->sl;
	struct task *t = c->t;
	char err[320], wd[PATH_MAX], ofile[PATH_MAX + 32];
	struct run_info ri;
	struct exec_spec s;
	struct exec_result res;
	struct run_env re;
	struct script_job sj;
	struct run_files rf;
	struct buf out;
	struct live lv;
	char **env = NULL;
	int r, ok, lock = -1;

	memset(&ri, 0, sizeof(ri));
	ri.job_id = t->id;
	ri.attempt = t->attempt;
	ri.worker = rn->name;
	ri.slot = sl->index;
	ri.timeout_ms = (int64_t)(t->timeout_s ? t->timeout_s : rn->timeout_s) * 1000;
	script_job_init(&sj);
	files_init(&rf);
	buf_init(&out, SPOOL_OUTCOME_MAX);

	err[0] = '\0';
	if ((r = script_prepare(rn->scripts, rn->python, t->job.data ? t->job.data : "",
				t->job.len, t->id, &sj, err, sizeof(err))) < 0 &&
	    r != -EINVAL && r != -ENOENT) {
		/* the runner cannot look at its scripts (EIO, ESTALE): not the job's fault */
		trouble(c, "cannot prepare the job: %s", err[0] ? err : strerror(-r));
		goto done;
	} else if (r < 0) {
		/* (a job this runner cannot run never gets here: not_here) */
		/* a job the boss could not give us says why itself */
		refuse(c, &ri, t->job_err[0] && !sj.sname[0] ? t->job_err : err);
		goto done;
	}
	snprintf(wd, sizeof(wd), "%s/%s.%d", rn->workroot, t->id, t->attempt);
	if ((r = workdir_make(wd, &lock)) < 0) {
		trouble(c, "cannot make the work directory '%s': %s", wd, strerror(-r));
		goto done;
	}
	if ((r = files_prepare(c->cl, t, wd, &rf)) < 0) {
		if (rf.ckpt_note[0])	/* not from nothing: its save would prune it */
			trouble(c, "%s", rf.ckpt_note);
		else
			trouble(c, "cannot make the artifact and checkpoint directories in '%s': %s",
				wd, strerror(-r));
		goto done;
	}
	ri.files = &rf;
	outcome_what_ran(&ri, sj.path, rn->scripts);
	re = (struct run_env){ t->id, t->attempt, sl->index, wd, rn->name, sl->cuda,
			       sj.is_command };
	if (!(env = script_env(&re))) {
		trouble(c, "cannot build the environment: %s", strerror(ENOMEM));
		goto done;
	}
	if ((r = script_job_file(wd, &sj.arg)) < 0) {
		trouble(c, "cannot write the job file in '%s': %s", wd, strerror(-r));
		goto done;
	}
	script_spec(&s, rn, &sj, env, wd, ri.timeout_ms);
	c->next_renew_ms = mono_ms() + beat_interval(rn, t->deadline_ms);
	s.beat_ms = CHECK_MS;
	s.beat = on_beat;
	s.stop = on_stop;
	s.arg = c;
	live_begin(&lv, c->cl, t, s.log_max);
	s.output = live_output;
	s.out_arg = c->live = &lv;
	prune_begin(&c->pr, c->cl, t, &lv);
	say(rn, "slot %d: %s attempt %d: running %s%s", sl->index, t->id, t->attempt,
	    sj.sname, sj.is_command ? " (a command job)" : "");

	snprintf(ofile, sizeof(ofile), "%s/%s", wd, SCRIPT_OUTCOME_FILE);
	if ((r = exec_run(&s, &res)) < 0) {
		exec_result_release(&res);
		trouble(c, "cannot run the script: %s", strerror(-r));
		goto done;
	}
	if (sj.is_command && (r = outcome_command(&res, &ri, ofile)) < 0) {
		exec_result_release(&res);
		trouble(c, "cannot read the outcome '%s': %s", ofile, strerror(-r));
		goto done;
	}
	live_end(&lv, &res.log);
	if (res.end != END_STOPPED && preempted(rn, &res)) {
		say(rn, "slot %d: %s attempt %d: ended (%s) while the runner stops: "
		    "a preemption, not a failure", sl->index, t->id, t->attempt,
		    res.end == END_SIGNALED ? exec_signame(res.sig, err)
		    : res.end == END_EXITED ? "exit code" : "timeout");
		res.end = END_STOPPED;
	}
	if (res.end != END_LOST)
		files_keep(c->cl, t, &rf, &res.log);
	if ((r = prune_finish(&c->pr, &res, &ri, &res.log, &out)) != 0) {
		if (r == 1)	/* stopped early by its rule: done, not failed */
			deliver(c, &res.log, 1, &out);
		else
			refuse(c, &ri, "cannot build the pruned outcome");
	} else if (res.end == END_LOST) {
		trailer(&res.log, &res, NULL);
		/* The claim has moved on; the log is still worth keeping. */
		c->cl->ops->keep_log(c->cl, t, &res.log);
	} else if (res.end == END_STOPPED) {
		files_checkpoint(c->cl, t, &rf, &res.log);	/* before the release */
		trailer(&res.log, &res, NULL);
		c->cl->ops->keep_log(c->cl, t, &res.log);
		release(c);
	} else if ((ok = outcome_build(&res, &ri, &out, err, sizeof(err))) < 0) {
		exec_result_release(&res);
		snprintf(err, sizeof(err), "cannot build the outcome: %s", strerror(-ok));
		refuse(c, &ri, err);
		goto done;
	} else {
		if (!ok) {
			/* the next attempt resumes from here; the record says so */
			files_checkpoint(c->cl, t, &rf, &res.log);
			if ((ok = outcome_build(&res, &ri, &out, err, sizeof(err))) < 0) {
				ri.files = NULL;	/* out of memory: the record without them */
				ok = outcome_build(&res, &ri, &out, err, sizeof(err)) > 0;
			}
		}
		trailer(&res.log, &res, ok ? NULL : err);
		if (ok) {
			say(rn, "slot %d: %s attempt %d: done in %.2f s%s", sl->index, t->id,
			    t->attempt, res.wall_ms / 1000.0, res.nonfinite
			    ? " (its outcome had NaN or Infinity, read as null)" : "");
		} else {
			char line[EXEC_ERRHEAD_MAX + 1], where[PATH_MAX + 64];

			err_line(&res, line);
			c->cl->ops->where(c->cl, t->id, where, sizeof(where));
			say(rn, "slot %d: %s attempt %d: failed in %.2f s: %s%s%s%s; the log: %s",
			    sl->index, t->id, t->attempt, res.wall_ms / 1000.0, err,
			    line[0] ? "; stderr: \"" : "", line, line[0] ? "\"" : "", where);
		}
		deliver(c, &res.log, ok, &out);
	}
	exec_result_release(&res);
done:
	if (c->live)
		live_release(c->live);
	c->live = NULL;
	if (lock >= 0)
		workdir_done(wd, lock, rn->keep_work);
	script_env_free(env);
	script_job_release(&sj);
	files_release(&rf);
	buf_release(&out);
}

/* ---- claims this runner cannot run ------------------------------------------- */

/*
 * A job whose script this runner's --scripts lacks (or that needs a python3
 * it has not) is not failed: another runner may have it. Its claim is held
 * while this slot claims once more past it, at once (the boss and
 * spool_claim hand out the first eligible order, which would be the same
 * one again), then given back with no attempt spent.
 */
struct skipped {
	int n;
	struct task t[SKIP_MAX];	/* id, token, attempt, o: what a release needs */
	char said[SKIP_SAID][SPOOL_ID_LEN + 1];	/* recently logged, not to repeat */
	int nsaid;
};

/* 1 if t's job names a script or program this runner cannot run (why: its message). */
static int not_here(struct runner *rn, struct task *t, char *why, size_t whylen)
{
	struct script_job sj;
	int r;

	script_job_init(&sj);
	r = script_prepare(rn->scripts, rn->python, t->job.data ? t->job.data : "",
			   t->job.len, t->id, &sj, why, whylen);
	script_job_release(&sj);
	return r == -ENOENT;
}

static void skip_hold(struct ctx *c, struct skipped *k, const char *why)
{
	struct task *h = &k->t[k->n++];
	int i;

	memcpy(h->id, c->t->id, sizeof(h->id));
	memcpy(h->token, c->t->token, sizeof(h->token));
	h->attempt = c->t->attempt;
	h->o = c->t->o;
	for (i = 0; i < k->nsaid; i++)
		if (!strcmp(k->said[i], h->id))
			return;
	say(c->rn, "slot %d: %s: %s: left for a runner that has it (no attempt spent)",
	    c->sl->index, h->id, why);
	memcpy(k->said[k->nsaid++ % SKIP_SAID], h->id, sizeof(h->id));
	if (k->nsaid == 2 * SKIP_SAID)
		k->nsaid = SKIP_SAID;
}

/* Give back every held claim. */
static void skip_release(struct ctx *c, struct skipped *k)
{
	struct task *keep = c->t;
	int i;

	for (i = 0; i < k->n; i++) {
		c->t = &k->t[i];
		release_quiet(c);
	}
	c->t = keep;
	k->n = 0;
}

/* ---- --drain --wait-delayed ---------------------------------------------------- */

static int said(const struct skipped *k, const char *id)
{
	int i;

	for (i = 0; i < k->nsaid && i < SKIP_SAID; i++)
		if (!strcmp(k->said[i], id))
			return 1;
	return 0;
}

/* A skip predicate for the claimer's later(): ids whose script we lack. */
static int said_skip(void *arg, const char *id)
{
	return said(arg, id);
}

/* ---- claiming --------------------------------------------------------------- */

void *slot_main(void *arg)
{
	struct slot *sl = arg;
	struct runner *rn = sl->rn;
	struct claimer cl;
	struct task t;
	struct ctx c;
	unsigned seed = (unsigned)(getpid() ^ (sl->index * 7919) ^ now_ms());
	int r, empty = 0, failing = 0, delayed = 0;
	static __thread struct skipped sk;	/* large: not on the stack */

	memset(&sk, 0, sizeof(sk));
	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	buf_init(&t.job, SPOOL_JOB_MAX + 4096);
	c.sl = sl;
	c.rn = rn;
	c.t = &t;
	c.cl = &cl;
	if ((r = claimer_open(&cl, rn, sl->index)) < 0) {
		say(rn, "slot %d: %s", sl->index, cl.err);
		runner_stop(rn, 2, mono_ms());	/* a runner short of a slot cannot work */
		goto out;
	}

	while (!atomic_load(&rn->stopping)) {
		r = cl.ops->claim(&cl, &t, (rn->drain && !delayed) || sk.n ? 0 : rn->wait_s);
		if (r != 0 || sk.n == SKIP_MAX)
			skip_release(&c, &sk);
		if (r == 0 && !atomic_load(&rn->stopping)) {
			char why[320];

			if (not_here(rn, &t, why, sizeof(why))) {
				skip_hold(&c, &sk, why);
				if (sk.n == SKIP_MAX) {
					skip_release(&c, &sk);
					runner_nap(rn, 1000);
				}
				continue;	/* past it, at once */
			}
			skip_release(&c, &sk);
		}
		if (r == -EAGAIN) {
			failing = 0;
			sl->backoff_ms = 0;
			/* Drained: nothing to claim twice running, and no order of
			 * ours still running (a failure may come back as a retry). */
			if (rn->drain && ++empty >= 2 && !atomic_load(&rn->busy)) {
				if (!rn->wait_delayed || !c.cl->ops->later(c.cl, said_skip, &sk))
					break;
				if (!delayed++)
					say(rn, "slot %d: nothing due; waiting for delayed orders (--wait-delayed)",
					    sl->index);
			}
			if (!rn->boss_url || (rn->drain && !delayed))
				runner_nap(rn, rn->poll_ms / 2 +
					rand_r(&seed) % (unsigned)(rn->poll_ms / 2 + 1));
			continue;
		}
		if (r == -ECANCELED)
			break;
		if (r < 0) {
			int64_t wait = backoff(sl, &seed), down = atomic_load(&rn->health.down_since);
			char left[64] = "";

			failing++;
			if (rn->boss_url && down && rn->give_up_s > 0)
				snprintf(left, sizeof(left), "; giving up in %lld s",
					 (long long)(rn->give_up_s - (mono_ms() - down) / 1000));
			say(rn, "slot %d: cannot claim: %s (try %d; again in %.1f s%s)", sl->index,
			    cl.err, failing, wait / 1000.0, left);
			runner_nap(rn, wait);
			continue;
		}
		if (failing)
			say(rn, "slot %d: claiming works again", sl->index);
		failing = 0;
		empty = 0;
		delayed = 0;
		sl->backoff_ms = 0;
		if (atomic_load(&rn->stopping)) {
			release(&c);	/* got it as we were stopping */
			break;
		}
		c.beat_errors = 0;
		atomic_fetch_add(&rn->busy, 1);
		run_task(&c);
		atomic_fetch_sub(&rn->busy, 1);
	}
	skip_release(&c, &sk);
	prune_release(&c.pr);
	cl.ops->close(&cl);
out:
	buf_release(&t.job);
	atomic_store(&sl->done, 1);
	return NULL;
}
