/*
 * local: the claimer of a runner that works straight on a spool directory
 * (a shared file system, no boss at all): a claim is a rename in the
 * spool, a heartbeat another, the outcome goes into the spool through the
 * library. Each claimer has its own struct spool, so the slots' library
 * calls need no lock and their fsyncs overlap. The main thread's claimer
 * also mends what crashes left and reaps expired leases, since there may
 * be no spoold to do it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runner.h"

static const char *sperr(struct claimer *cl, int r)
{
	snprintf(cl->err, sizeof(cl->err), "%s",
		 spool_error(&cl->sp)[0] ? spool_error(&cl->sp) : strerror(-r));
	return cl->err;
}

static int local_claim(struct claimer *cl, struct task *t, int wait_s)
{
	struct runner *rn = cl->rn;
	struct claimant who;
	struct job_opts opts;
	int64_t created;
	int r;

	memset(&who, 0, sizeof(who));
	who.worker = rn->name;
	who.ntags = rn->ntags;
	who.tags = rn->tags;
	who.lease_s = rn->lease_s;
	if ((r = spool_claim(&cl->sp, &who, &t->o)) < 0) {
		if (r != -EAGAIN)
			sperr(cl, r);
		return r;
	}
	memcpy(t->id, t->o.n.id, sizeof(t->id));
	memcpy(t->token, t->o.n.token, sizeof(t->token));
	t->attempt = t->o.n.attempt;
	t->deadline_ms = t->o.n.deadline;
	t->timeout_s = 0;
	if (spool_read_opts(&cl->sp, &t->o, &opts, &created) == 0)
		t->timeout_s = opts.timeout_s;
	buf_reset(&t->job);
	t->job_err[0] = '\0';
	if ((r = spool_read_job(&cl->sp, t->id, &t->job)) == -ENOENT) {
		/* an order without its job: refused, failed for good */
		buf_reset(&t->job);
		snprintf(t->job_err, sizeof(t->job_err), "cannot read the job: %.200s",
			 sperr(cl, r));
	} else if (r < 0) {
		/* the disk, not the job (EIO, EMFILE): the job must not fail for
		 * it; give the claim back, and the caller backs off */
		char why[sizeof(cl->err)];

		snprintf(why, sizeof(why), "%s", sperr(cl, r));
		if (spool_release(&cl->sp, &t->o) < 0)
			snprintf(cl->err, sizeof(cl->err), "%.200s; cannot give %s back "
				 "(its lease will end it): %.200s", why, t->id,
				 spool_error(&cl->sp));
		else
			snprintf(cl->err, sizeof(cl->err), "%.300s; given back", why);
		return r;
	}
	return 0;
}

static int local_renew(struct claimer *cl, struct task *t)
{
	int r = spool_renew(&cl->sp, &t->o, cl->rn->lease_s);

	if (r == 0)
		t->deadline_ms = t->o.n.deadline;
	else if (r == -ESTALE)
		snprintf(cl->err, sizeof(cl->err), "the lease is gone from the spool");
	else
		sperr(cl, r);
	return r;
}

/* The claim's file still in assigned/: a stat, cheap enough every second. */
static int local_check(struct claimer *cl, struct task *t)
{
	char path[SPOOL_NAME_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "assigned/%s", t->o.file);
	if (fstatat(cl->sp.root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		snprintf(cl->err, sizeof(cl->err), "its file left assigned/: cancelled or reaped");
		return -ESTALE;
	}
	return 0;
}

static void local_keep_log(struct claimer *cl, struct task *t, const struct buf *log)
{
	int r;

	if (log && log->len &&
	    (r = spool_log_put(&cl->sp, t->id, t->attempt, log->data, log->len)) < 0)
		say(cl->rn, "slot %d: %s: cannot store the log: %s", cl->slot, t->id,
		    sperr(cl, r));
}

static void local_finish(struct claimer *cl, struct task *t, const struct buf *log,
			 int ok, const struct buf *out)
{
	struct runner *rn = cl->rn;
	int r = 0, retried = 0, i;

	local_keep_log(cl, t, log);
	for (i = 0; i < 5; i++) {
		r = ok ? spool_complete(&cl->sp, &t->o, out->data, out->len)
		       : spool_fail(&cl->sp, &t->o, out->data, out->len, &retried);
		if (r == -EINVAL && ok) {
			/* The spool will not take this outcome: fail, saying why. */
			struct run_info ri = { .job_id = t->id, .attempt = t->attempt, .worker = rn->name,
						 .slot = cl->slot };
			char why[600];
			struct buf alt;

			snprintf(why, sizeof(why), "the spool refused the outcome: %s",
				 spool_error(&cl->sp));
			buf_init(&alt, SPOOL_OUTCOME_MAX);
			if (outcome_refused(&ri, why, &alt) == 0)
				r = spool_fail(&cl->sp, &t->o, alt.data, alt.len, &retried);
			buf_release(&alt);
			ok = 0;
		}
		if (r == 0 || r == -EALREADY || r == -ESTALE || r == -EINVAL)
			break;
		say(rn, "slot %d: %s: cannot file the outcome (%s): retrying", cl->slot,
		    t->id, sperr(cl, r));
		runner_nap(rn, 500LL << i);
	}
	if (r == -ESTALE)
		say(rn, "slot %d: %s attempt %d: the claim was lost; the outcome is kept aside as late",
		    cl->slot, t->id, t->attempt);
	else if (r < 0 && r != -EALREADY)
		say(rn, "slot %d: %s attempt %d: outcome not filed: %s", cl->slot, t->id,
		    t->attempt, sperr(cl, r));
	else if (!ok && r == 0)
		say(rn, "slot %d: %s attempt %d: %s", cl->slot, t->id, t->attempt,
		    retried ? "will be retried" : "failed for good");
}

static int local_release(struct claimer *cl, struct task *t)
{
	int r = spool_release(&cl->sp, &t->o);

	if (r < 0)
		sperr(cl, r);
	return r;
}

struct later {
	struct claimer *cl;
	int (*skip)(void *arg, const char *id);
	void *arg;
};

static int later_visit(void *arg, const struct order *o)
{
	struct later *l = arg;
	struct job_opts opts;
	int i;

	if (l->skip(l->arg, o->n.id))
		return 0;
	if (o->n.tagged) {
		if (spool_read_opts(&l->cl->sp, o, &opts, NULL) < 0)
			return 0;
		for (i = 0; i < opts.ntags; i++)
			if (!runner_has_tag(l->cl->rn, opts.tags[i]))
				return 0;
	}
	return 1;
}

static int local_later(struct claimer *cl, int (*skip)(void *arg, const char *id),
		       void *arg)
{
	struct later l = { cl, skip, arg };

	return spool_scan(&cl->sp, ST_NEW, later_visit, &l) != 0;
}

static int local_announce(struct claimer *cl, const struct buf *doc)
{
	int r = spool_worker_put(&cl->sp, cl->rn->name, doc->data, doc->len);

	if (r < 0)
		sperr(cl, r);
	return r;
}

/* As spoold does: mend what crashes left (at start, then with every reap). */
static void local_mend(struct claimer *cl)
{
	struct recover_opts ro = { 1, 0, cl->sp.stale_ms, NULL, NULL };
	struct recover_stats rs;
	int n = 0;

	if (spool_recover(&cl->sp, &ro, &rs) > 0 && rs.orders + rs.drops > 0)
		say(cl->rn, "recovered %d order%s a crash left staged, %d dropped file%s",
		    rs.orders, rs.orders == 1 ? "" : "s", rs.drops, rs.drops == 1 ? "" : "s");
	if (spool_reap(&cl->sp, now_ms(), &n) == 0 && n > 0)
		say(cl->rn, "reaped %d expired lease%s", n, n == 1 ? "" : "s");
}

static void local_where(struct claimer *cl, const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "spoolctl --spool %s log %s", cl->rn->spool_dir, id);
}

static void local_close(struct claimer *cl)
{
	spool_close(&cl->sp);
}

static const struct claimer_ops local_ops = {
	.claim = local_claim,
	.renew = local_renew,
	.check = local_check,
	.finish = local_finish,
	.keep_log = local_keep_log,
	.release = local_release,
	.later = local_later,
	.announce = local_announce,
	.mend = local_mend,
	.where = local_where,
	.close = local_close,
};

int local_open(struct claimer *cl, struct runner *rn, int slot)
{
	int r;

	memset(cl, 0, sizeof(*cl));
	cl->rn = rn;
	cl->slot = slot;
	if ((r = spool_open(&cl->sp, rn->spool_dir, 0)) < 0) {
		/* the library's message names the spool already */
		if (spool_error(&cl->sp)[0])
			snprintf(cl->err, sizeof(cl->err), "%s", spool_error(&cl->sp));
		else
			snprintf(cl->err, sizeof(cl->err), "cannot open spool '%s': %s",
				 rn->spool_dir, strerror(-r));
		return r;
	}
	cl->ops = &local_ops;
	return 0;
}
