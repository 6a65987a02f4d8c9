/*
 * slot: one thread per slot, each claiming and running one order at a time:
 * claim (a long poll to the boss, or a rename in the shared spool), check
 * and resolve the script, run it with heartbeats, then hand the log and the
 * outcome back (through the durable outbox in remote mode, straight into
 * the spool in local mode). Each slot has its own CURL handle or its own
 * struct spool, so slots share nothing but the runner's configuration, its
 * flags and the outbox.
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
	struct boss *b;		/* remote, or NULL */
	struct spool *sp;	/* local, or NULL */
	struct task *t;
	int beat_errors;
	int64_t next_renew_ms;	/* mono: the next heartbeat; checks in between */
};

/* Sleep ms, waking early when the runner stops. */
static void nap(struct runner *rn, int64_t ms)
{
	int64_t end = mono_ms() + ms;

	while (!atomic_load(&rn->stopping)) {
		int64_t left = end - mono_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
}

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

/*
 * Is the claim still ours? Asked every CHECK_MS between heartbeats, so that
 * a cancel (or a reaped lease) stops the script within a second, not at the
 * next heartbeat. Remote: the order as the boss has it (GET /v1/orders/ID:
 * still assigned, to this attempt and this worker); local: the claim's file
 * still in assigned/. -ESTALE when lost; 0 otherwise, a failed check
 * included (the heartbeat is the judge of a boss that does not answer).
 */
static int claim_check(struct ctx *c)
{
	char path[SPOOL_NAME_MAX + 16];
	struct json j;
	struct stat st;
	int r = 0, i;

	if (c->sp) {
		snprintf(path, sizeof(path), "assigned/%s", c->t->o.file);
		return fstatat(c->sp->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		       errno == ENOENT ? -ESTALE : 0;
	}
	snprintf(path, sizeof(path), "/v1/orders/%s", c->t->id);
	if (boss_request(c->b, "GET", path, NULL, 0, 5, 0) < 0)
		return 0;
	if (c->b->status == 404) {
		snprintf(c->b->err, sizeof(c->b->err), "the order is gone from the boss");
		return -ESTALE;
	}
	if (c->b->status != 200 ||
	    json_parse(&j, c->b->reply.data, c->b->reply.len, 512, NULL, 0) < 0)
		return 0;
	if (j.tok[0].type == JSMN_OBJECT) {
		char state[32] = "", worker[SPOOL_WORKER_MAX + 1] = "";
		int64_t attempt = 0;

		if ((i = json_get(&j, 0, "state")) >= 0)
			json_str(&j, i, state, sizeof(state));
		if ((i = json_get(&j, 0, "worker")) >= 0)
			json_str(&j, i, worker, sizeof(worker));
		if ((i = json_get(&j, 0, "attempt")) >= 0)
			json_int(&j, i, &attempt);
		if (state[0] && (strcmp(state, "assigned") || attempt != c->t->attempt ||
				 (worker[0] && strcmp(worker, c->rn->name)))) {
			snprintf(c->b->err, sizeof(c->b->err), "the order is %s at the boss%s",
				 state, strcmp(state, "assigned") ? "" : " by another claim");
			r = -ESTALE;
		}
	}
	json_release(&j);
	return r;
}

static int on_beat(void *arg, int64_t *next_ms)
{
	struct ctx *c = arg;
	int64_t now = mono_ms();
	int r;

	if (now < c->next_renew_ms) {
		r = claim_check(c);
	} else if (c->b) {
		r = boss_heartbeat(c->b, c->t, c->rn->lease_s);
	} else if ((r = spool_renew(c->sp, &c->t->o, c->rn->lease_s)) == 0) {
		c->t->deadline_ms = c->t->o.n.deadline;
	}
	if (r == -ESTALE) {
		say(c->rn, "slot %d: %s attempt %d: claim lost (%s): stopping the script",
		    c->sl->index, c->t->id, c->t->attempt,
		    c->b ? c->b->err : "its file left assigned/: cancelled or reaped");
		return r;
	}
	*next_ms = CHECK_MS;
	if (now < c->next_renew_ms)
		goto out;
	if (r < 0) {
		if (!c->beat_errors++)
			say(c->rn, "slot %d: %s: heartbeat failed: %s", c->sl->index,
			    c->t->id, c->b ? c->b->err : strerror(-r));
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

	return k && mono_ms() >= k;
}

/* ---- handing back ------------------------------------------------------- */

static void outbox_kick(struct runner *rn)
{
	pthread_mutex_lock(&rn->outbox.mu);
	rn->outbox.kick = 1;
	pthread_cond_signal(&rn->outbox.cv);
	pthread_mutex_unlock(&rn->outbox.mu);
}

/*
 * Remote: the log and the outcome into the outbox, durably; then this slot
 * sends them itself, and leaves them to the outbox thread if it cannot.
 */
static void deliver_remote(struct ctx *c, const struct buf *log, const char *kind,
			   const struct buf *out)
{
	struct task *t = c->t;
	int r = 0, held = outbox_hold(&c->rn->outbox, t->id, t->attempt, t->token) == 0;

	if (log && log->len)
		r = outbox_put(&c->rn->outbox, t->id, t->attempt, t->token, "log",
			       log->data, log->len);
	if (r < 0)
		say(c->rn, "slot %d: %s: cannot keep the log in the outbox: %s",
		    c->sl->index, t->id, strerror(-r));
	if (kind && (r = outbox_put(&c->rn->outbox, t->id, t->attempt, t->token,
				    kind, out->data, out->len)) < 0) {
		char path[256];

		/* The outbox cannot take it: try the boss at once, once. */
		say(c->rn, "slot %d: %s: cannot keep the outcome in the outbox (%s): sending it directly",
		    c->sl->index, t->id, strerror(-r));
		snprintf(path, sizeof(path), "/v1/orders/%s/%s?token=%s", t->id, kind,
			 t->token);
		if (boss_request(c->b, "POST", path, out->data, out->len, 30, 0) < 0 ||
		    c->b->status >= 500)
			say(c->rn, "slot %d: %s: OUTCOME LOST: the boss did not take it (%s)",
			    c->sl->index, t->id, c->b->err[0] ? c->b->err : "HTTP error");
	}
	if (held) {
		r = outbox_send(&c->rn->outbox, c->b, t->id, t->attempt, t->token,
				say_outbox);
		outbox_release(&c->rn->outbox, t->id, t->attempt, t->token);
		if (r == 0)
			return;
	}
	outbox_kick(c->rn);
}

/* Local: straight into the spool. */
static void deliver_local(struct ctx *c, const struct buf *log, int ok,
			  const struct buf *out)
{
	struct task *t = c->t;
	int r = 0, retried = 0, i;

	if (log && log->len)
		r = spool_log_put(c->sp, t->id, t->attempt, log->data, log->len);
	if (r < 0)
		say(c->rn, "slot %d: %s: cannot store the log: %s", c->sl->index,
		    t->id, spool_error(c->sp)[0] ? spool_error(c->sp) : strerror(-r));
	for (i = 0; i < 5; i++) {
		r = ok ? spool_complete(c->sp, &t->o, out->data, out->len)
		       : spool_fail(c->sp, &t->o, out->data, out->len, &retried);
		if (r == -EINVAL && ok) {
			/* The spool will not take this outcome: fail, saying why. */
			struct run_info ri = { t->id, t->attempt, c->rn->name,
					       c->sl->index, 0 };
			char why[600];
			struct buf alt;

			snprintf(why, sizeof(why), "the spool refused the outcome: %s",
				 spool_error(c->sp));
			buf_init(&alt, SPOOL_OUTCOME_MAX);
			if (outcome_refused(&ri, why, &alt) == 0)
				r = spool_fail(c->sp, &t->o, alt.data, alt.len, &retried);
			buf_release(&alt);
			ok = 0;
		}
		if (r == 0 || r == -EALREADY || r == -ESTALE || r == -EINVAL)
			break;
		say(c->rn, "slot %d: %s: cannot file the outcome (%s): retrying",
		    c->sl->index, t->id,
		    spool_error(c->sp)[0] ? spool_error(c->sp) : strerror(-r));
		nap(c->rn, 500LL << i);
	}
	if (r == -ESTALE)
		say(c->rn, "slot %d: %s attempt %d: the claim was lost; the outcome is kept aside as late",
		    c->sl->index, t->id, t->attempt);
	else if (r < 0 && r != -EALREADY)
		say(c->rn, "slot %d: %s attempt %d: outcome not filed: %s", c->sl->index,
		    t->id, t->attempt,
		    spool_error(c->sp)[0] ? spool_error(c->sp) : strerror(-r));
	else if (!ok && r == 0)
		say(c->rn, "slot %d: %s attempt %d: %s", c->sl->index, t->id,
		    t->attempt, retried ? "will be retried" : "failed for good");
}

static void deliver(struct ctx *c, const struct buf *log, int ok,
		    const struct buf *out)
{
	if (ok)
		atomic_fetch_add(&c->rn->completed, 1);
	else
		atomic_fetch_add(&c->rn->failed, 1);
	if (c->b)
		deliver_remote(c, log, ok ? "complete" : "fail", out);
	else
		deliver_local(c, log, ok, out);
}

/* Give the claim back without counting an attempt. 0 or a negative errno. */
static int give_back(struct ctx *c)
{
	char path[256];
	int r;

	if (c->b) {
		snprintf(path, sizeof(path), "/v1/orders/%s/release?token=%s",
			 c->t->id, c->t->token);
		r = boss_request(c->b, "POST", path, NULL, 0, 10, 0);
		if (r == 0 && c->b->status != 200)
			r = -EPROTO;
	} else {
		r = spool_release(c->sp, &c->t->o);
	}
	if (r < 0)
		say(c->rn, "slot %d: %s: cannot release the claim (%s): its lease will expire",
		    c->sl->index, c->t->id, c->b ? c->b->err : strerror(-r));
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
	nap(c->rn, 2000 + rand_r(&seed) % 3000);
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
	char sname[NAME_MAX + 1], err[320], wd[PATH_MAX];
	struct run_info ri;
	struct exec_spec s;
	struct exec_result res;
	struct run_env re;
	struct buf arg, out;
	char *path = NULL, **env = NULL;
	int py = 0, r, ok, lock = -1;

	memset(&ri, 0, sizeof(ri));
	ri.job_id = t->id;
	ri.attempt = t->attempt;
	ri.worker = rn->name;
	ri.slot = sl->index;
	ri.timeout_ms = (int64_t)(t->timeout_s ? t->timeout_s : rn->timeout_s) * 1000;
	buf_init(&arg, SPOOL_JOB_MAX + 256);
	buf_init(&out, SPOOL_OUTCOME_MAX);

	if (script_prepare(rn->scripts, rn->python, t->job.data ? t->job.data : "",
			   t->job.len, t->id, &arg, sname, sizeof(sname), &path, &py,
			   err, sizeof(err)) < 0) {
		/* (a job this runner cannot run never gets here: not_here) */
		/* a job the boss could not give us says why itself */
		refuse(c, &ri, t->job_err[0] && !sname[0] ? t->job_err : err);
		goto done;
	}
	snprintf(wd, sizeof(wd), "%s/%s.%d", rn->workroot, t->id, t->attempt);
	if ((r = workdir_make(wd, &lock)) < 0) {
		trouble(c, "cannot make the work directory '%s': %s", wd, strerror(-r));
		goto done;
	}
	re = (struct run_env){ t->id, t->attempt, sl->index, wd, rn->name, sl->cuda };
	if (!(env = script_env(&re))) {
		trouble(c, "cannot build the environment: %s", strerror(ENOMEM));
		goto done;
	}
	if ((r = script_job_file(wd, &arg)) < 0) {
		trouble(c, "cannot write the job file in '%s': %s", wd, strerror(-r));
		goto done;
	}
	script_spec(&s, rn, path, py, &arg, env, wd, ri.timeout_ms);
	c->next_renew_ms = mono_ms() + beat_interval(rn, t->deadline_ms);
	s.beat_ms = CHECK_MS;
	s.beat = on_beat;
	s.stop = on_stop;
	s.arg = c;
	say(rn, "slot %d: %s attempt %d: running %s", sl->index, t->id, t->attempt,
	    sname);

	if ((r = exec_run(&s, &res)) < 0) {
		exec_result_release(&res);
		trouble(c, "cannot run the script: %s", strerror(-r));
		goto done;
	}
	if (res.end != END_STOPPED && preempted(rn, &res)) {
		say(rn, "slot %d: %s attempt %d: ended (%s) while the runner stops: "
		    "a preemption, not a failure", sl->index, t->id, t->attempt,
		    res.end == END_SIGNALED ? exec_signame(res.sig, err)
		    : res.end == END_EXITED ? "exit code" : "timeout");
		res.end = END_STOPPED;
	}
	if (res.end == END_LOST) {
		trailer(&res.log, &res, NULL);
		/* The boss has moved on; the log is still worth keeping. */
		if (c->b)
			deliver_remote(c, &res.log, NULL, NULL);
	} else if (res.end == END_STOPPED) {
		trailer(&res.log, &res, NULL);
		if (c->b)
			deliver_remote(c, &res.log, NULL, NULL);
		else {
			spool_log_put(c->sp, t->id, t->attempt, res.log.data, res.log.len);
		}
		release(c);
	} else if ((ok = outcome_build(&res, &ri, &out, err, sizeof(err))) < 0) {
		exec_result_release(&res);
		snprintf(err, sizeof(err), "cannot build the outcome: %s", strerror(-ok));
		refuse(c, &ri, err);
		goto done;
	} else {
		trailer(&res.log, &res, ok ? NULL : err);
		if (ok) {
			say(rn, "slot %d: %s attempt %d: done in %.2f s%s", sl->index, t->id,
			    t->attempt, res.wall_ms / 1000.0, res.nonfinite
			    ? " (its outcome had NaN or Infinity, read as null)" : "");
		} else {
			char line[EXEC_ERRHEAD_MAX + 1], where[PATH_MAX + 64];

			err_line(&res, line);
			if (rn->boss_url)
				snprintf(where, sizeof(where), "curl %s/v1/orders/%s/log",
					 rn->boss_url, t->id);
			else
				snprintf(where, sizeof(where), "spoolctl --spool %s log %s",
					 rn->spool_dir, t->id);
			say(rn, "slot %d: %s attempt %d: failed in %.2f s: %s%s%s%s; the log: %s",
			    sl->index, t->id, t->attempt, res.wall_ms / 1000.0, err,
			    line[0] ? "; stderr: \"" : "", line, line[0] ? "\"" : "", where);
		}
		deliver(c, &res.log, ok, &out);
	}
	exec_result_release(&res);
done:
	if (lock >= 0)
		workdir_done(wd, lock, rn->keep_work);
	script_env_free(env);
	free(path);
	buf_release(&arg);
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

/* 1 if t's job names a script this runner cannot run (why: its message). */
static int not_here(struct runner *rn, struct task *t, char *why, size_t whylen)
{
	char sname[NAME_MAX + 1];
	struct buf arg;
	char *path = NULL;
	int py, r;

	buf_init(&arg, SPOOL_JOB_MAX + 256);
	r = script_prepare(rn->scripts, rn->python, t->job.data ? t->job.data : "",
			   t->job.len, t->id, &arg, sname, sizeof(sname), &path, &py,
			   why, whylen);
	free(path);
	buf_release(&arg);
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

/* ---- claiming --------------------------------------------------------------- */

static int claim_local(struct ctx *c)
{
	struct runner *rn = c->rn;
	struct task *t = c->t;
	struct claimant who;
	struct job_opts opts;
	int64_t created;
	int r;

	memset(&who, 0, sizeof(who));
	who.worker = rn->name;
	who.ntags = rn->ntags;
	who.tags = rn->tags;
	who.lease_s = rn->lease_s;
	if ((r = spool_claim(c->sp, &who, &t->o)) < 0)
		return r;
	memcpy(t->id, t->o.n.id, sizeof(t->id));
	memcpy(t->token, t->o.n.token, sizeof(t->token));
	t->attempt = t->o.n.attempt;
	t->deadline_ms = t->o.n.deadline;
	t->timeout_s = 0;
	if (spool_read_opts(c->sp, &t->o, &opts, &created) == 0)
		t->timeout_s = opts.timeout_s;
	buf_reset(&t->job);
	t->job_err[0] = '\0';
	if ((r = spool_read_job(c->sp, t->id, &t->job)) < 0) {
		buf_reset(&t->job);
		snprintf(t->job_err, sizeof(t->job_err), "cannot read the job: %s",
			 spool_error(c->sp)[0] ? spool_error(c->sp) : strerror(-r));
	}
	return 0;
}

void *slot_main(void *arg)
{
	struct slot *sl = arg;
	struct runner *rn = sl->rn;
	struct boss b;
	struct spool sp;
	struct task t;
	struct ctx c;
	unsigned seed = (unsigned)(getpid() ^ (sl->index * 7919) ^ now_ms());
	int r, empty = 0, failing = 0;
	static __thread struct skipped sk;	/* large: not on the stack */

	memset(&sk, 0, sizeof(sk));
	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	buf_init(&t.job, SPOOL_JOB_MAX + 4096);
	c.sl = sl;
	c.rn = rn;
	c.t = &t;
	if (rn->boss_url) {
		if ((r = boss_init(&b, rn->boss_url, rn->bearer, &rn->stopping, &rn->health)) < 0) {
			say(rn, "slot %d: cannot start libcurl: %s", sl->index, strerror(-r));
			goto out;
		}
		c.b = &b;
	} else {
		if ((r = spool_open(&sp, rn->spool_dir, 0)) < 0) {
			say(rn, "slot %d: cannot open the spool '%s': %s", sl->index,
			    rn->spool_dir, spool_error(&sp)[0] ? spool_error(&sp) : strerror(-r));
			goto out;
		}
		c.sp = &sp;
	}

	while (!atomic_load(&rn->stopping)) {
		if (c.b)
			r = boss_claim(&b, rn->name, rn->tagcsv,
				       rn->drain || sk.n ? 0 : rn->wait_s, rn->lease_s, &t);
		else
			r = claim_local(&c);
		if (r != 0 || sk.n == SKIP_MAX)
			skip_release(&c, &sk);
		if (r == 0 && !atomic_load(&rn->stopping)) {
			char why[320];

			if (not_here(rn, &t, why, sizeof(why))) {
				skip_hold(&c, &sk, why);
				if (sk.n == SKIP_MAX) {
					skip_release(&c, &sk);
					nap(rn, 1000);
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
			if (rn->drain && ++empty >= 2 && !atomic_load(&rn->busy))
				break;
			if (c.sp || rn->drain)
				nap(rn, rn->poll_ms / 2 +
					rand_r(&seed) % (unsigned)(rn->poll_ms / 2 + 1));
			continue;
		}
		if (r == -ECANCELED)
			break;
		if (r < 0) {
			int64_t wait = backoff(sl, &seed), down = atomic_load(&rn->health.down_since);
			char left[64] = "";

			failing++;
			if (c.b && down && rn->give_up_s > 0)
				snprintf(left, sizeof(left), "; giving up in %lld s",
					 (long long)(rn->give_up_s - (mono_ms() - down) / 1000));
			say(rn, "slot %d: cannot claim: %s (try %d; again in %.1f s%s)", sl->index,
			    c.b ? b.err : spool_error(&sp)[0] ? spool_error(&sp) : strerror(-r),
			    failing, wait / 1000.0, left);
			nap(rn, wait);
			continue;
		}
		if (failing)
			say(rn, "slot %d: claiming works again", sl->index);
		failing = 0;
		empty = 0;
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
	if (c.b)
		boss_release(&b);
	if (c.sp)
		spool_close(&sp);
out:
	buf_release(&t.job);
	atomic_store(&sl->done, 1);
	return NULL;
}
