/*
 * ctl_claims: the worker's side: claim (and drain, a claim/complete loop in
 * one process), complete, fail, release, renew.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

/* ---- claim and drain -------------------------------------------------------------- */

/* Fill a claimant from --worker, --tag, --lease. 0 or -1 (said). */
static int get_claimant(const struct cmd *c, const struct args *a, struct claimant *cl)
{
	const char *w = cli_opt(c, a, "worker"), *lease = cli_opt(c, a, "lease");
	long v;
	int i;

	memset(cl, 0, sizeof *cl);
	if (!w) {
		cli_warn("--worker NAME is required");
		cli_usage_hint(c);
		return -1;
	}
	if (!worker_valid(w)) {
		cli_warn("'%s' is not a valid worker name ([A-Za-z0-9_.-], at most %d)", w,
		      SPOOL_WORKER_MAX);
		return -1;
	}
	for (i = 0; i < a->nmulti; i++)
		if (!tag_valid(a->multi[i])) {
			cli_warn("'%s' is not a valid tag", a->multi[i]);
			return -1;
		}
	if (lease) {
		if (cli_num(lease, 1, LEASE_MAX_S, "--lease", &v) < 0)
			return -1;
		cl->lease_s = (int)v;
	}
	cl->worker = w;
	cl->ntags = a->nmulti;
	cl->tags = a->multi;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Claim one order, waiting up to wait_ms for one to become eligible (polling:
 * the daemon's long-poll is the efficient way to wait).
 */
static int claim_wait(struct spool *sp, const struct claimant *cl, long wait_ms,
		      struct order *o)
{
	int64_t until = now_ms() + wait_ms;
	int rc;

	for (;;) {
		sp->err[0] = 0;
		rc = spool_claim(sp, cl, o);
		if (rc != -EAGAIN || now_ms() >= until)
			return rc;
		sleep_ms(100);
	}
}

static int get_wait(const struct cmd *c, const struct args *a, long *wait_ms)
{
	const char *w = cli_opt(c, a, "wait");
	long v = 0;

	if (w && cli_num(w, 0, 24 * 3600, "--wait", &v) < 0)
		return -1;
	*wait_ms = v * 1000;
	return 0;
}

int cmd_claim(const struct cmd *c, struct args *a)
{
	int json = cli_opt(c, a, "json") != NULL;
	struct claimant cl;
	struct order o;
	struct spool sp;
	struct buf jb, ob;
	long wait_ms;
	int rc, ex = EX_OK;

	if (get_claimant(c, a, &cl) < 0 || get_wait(c, a, &wait_ms) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&jb, SPOOL_JOB_MAX + 4096);
	buf_init(&ob, 1 << 20);
	rc = claim_wait(&sp, &cl, wait_ms, &o);
	if (rc == -EAGAIN) {
		cli_warn("nothing to claim");
		ex = EX_NONE;
		goto out;
	}
	if (rc < 0) {
		ex = cli_failed(&sp, rc, "cannot claim");
		goto out;
	}
	/*
	 * The claim stands even if its job cannot be read: say so, and give the
	 * claim back so that it is not stuck until its lease runs out.
	 */
	if ((rc = spool_read_job(&sp, o.n.id, &jb)) < 0 ||
	    (json && (rc = spool_order_json(&sp, &o, 1, &ob)) < 0)) {
		ex = cli_failed(&sp, rc, "claimed '%s' but cannot read it", o.n.id);
		spool_release(&sp, &o);
		goto out;
	}
	if (json) {
		char dl[32];

		iso_time(o.n.deadline, dl);
		printf("{\"id\":\"%s\",\"token\":\"%s\",\"attempt\":%d,\"worker\":\"%s\","
		       "\"leaseDeadline\":\"%s\",\"order\":",
		       o.n.id, o.n.token, o.n.attempt, o.n.worker, dl);
		cli_print_buf(&ob);
		fputs(",\"job\":", stdout);
		cli_print_buf(&jb);
		fputs("}\n", stdout);
	} else {
		printf("%s %s %d\n", o.n.id, o.n.token, o.n.attempt);
		cli_print_buf(&jb);
		if (jb.len && jb.data[jb.len - 1] != '\n')
			putchar('\n');
	}
out:
	buf_release(&jb);
	buf_release(&ob);
	spool_close(&sp);
	return ex;
}

/*
 * drain: claim and complete until nothing is eligible, in one process. Meant
 * for tests and benchmarks (many real processes racing on one spool without
 * the cost of two execs per order), and to empty a queue of no-op jobs.
 * Logs "claimed ID TOKEN ATTEMPT" before and "done ID TOKEN" after each
 * completion, flushed line by line.
 */
int cmd_drain(const struct cmd *c, struct args *a)
{
	const char *max = cli_opt(c, a, "max");
	struct claimant cl;
	struct order o;
	struct spool sp;
	struct buf out;
	long wait_ms, limit = -1, n = 0;
	int rc, ex = EX_OK;

	if (get_claimant(c, a, &cl) < 0 || get_wait(c, a, &wait_ms) < 0)
		return EX_USAGE;
	if (max && cli_num(max, 0, LONG_MAX, "--max", &limit) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	setvbuf(stdout, NULL, _IOLBF, 0);
	buf_init(&out, 4096);
	while (limit < 0 || n < limit) {
		rc = claim_wait(&sp, &cl, wait_ms, &o);
		if (rc == -EAGAIN)
			break;
		if (rc < 0) {
			ex = cli_failed(&sp, rc, "cannot claim");
			break;
		}
		printf("claimed %s %s %d\n", o.n.id, o.n.token, o.n.attempt);
		buf_reset(&out);
		buf_printf(&out, "{\"worker\":\"%s\",\"pid\":%ld,\"token\":\"%s\",\"attempt\":%d}",
			   cl.worker, (long)getpid(), o.n.token, o.n.attempt);
		sp.err[0] = 0;
		rc = spool_complete(&sp, &o, out.data, out.len);
		if (rc == -ESTALE) {
			/* Lost the lease meanwhile: the library kept the outcome as late. */
			cli_warn("claim of '%s' was lost: %s", o.n.id, cli_why(&sp, rc));
			printf("late %s %s\n", o.n.id, o.n.token);
			continue;
		}
		if (rc < 0) {
			ex = cli_failed(&sp, rc, "cannot complete '%s'", o.n.id);
			break;
		}
		printf("done %s %s\n", o.n.id, o.n.token);
		n++;
	}
	buf_release(&out);
	spool_close(&sp);
	return ex;
}

/* ---- complete, fail, release, renew ----------------------------------------------- */

/*
 * Find the claim (id, token) that a worker presents: 0 with o the claim (a
 * finished one too: the library then says -EALREADY). When the claim is no
 * longer held, *stale is set and o describes it as the worker held it (the
 * library's doing), so that complete and fail file the outcome in late/.
 * Other errors are said and their exit code returned.
 */
static int find_claim(struct spool *sp, const char *id, const char *token,
		      struct order *o, int *stale)
{
	int rc;

	*stale = 0;
	sp->err[0] = 0;
	rc = spool_lookup_claim(sp, id, token, o);
	if (rc == 0)
		return 0;
	if (rc == -ENOENT) {
		cli_warn("no order '%s'", id);
		return EX_NONE;
	}
	if (rc != -ESTALE)
		return cli_failed(sp, rc, "cannot find the claim of '%s'", id);
	/* o describes the lost claim: the library files its outcome in late/ */
	*stale = 1;
	return 0;
}

/* complete and fail: file an outcome under the claim (id, token). */
static int finish(const struct cmd *c, struct args *a, int is_fail)
{
	const char *id = a->pos[0], *token = a->pos[1];
	const char *file = a->npos > 2 ? a->pos[2] : NULL;
	struct buf ob;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, stale, retried = 0;

	(void)c;
	if (cli_check_id(id) < 0 || cli_check_token(token) < 0)
		return EX_USAGE;
	buf_init(&ob, SPOOL_OUTCOME_MAX);
	if (file) {
		char err[256];

		if (cli_read(file, &ob) < 0) {
			buf_release(&ob);
			return EX_ERR;
		}
		if (json_validate(ob.data, ob.len, err, sizeof err) < 0) {
			cli_warn("the outcome in '%s' is not valid JSON: %s",
			      strcmp(file, "-") == 0 ? "standard input" : file, err);
			buf_release(&ob);
			return EX_ERR;
		}
	} else if (!is_fail) {
		buf_puts(&ob, "{}");
	}
	if (cli_open(&sp, 0) < 0) {
		buf_release(&ob);
		return EX_ERR;
	}
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	if (is_fail)
		rc = spool_fail(&sp, &o, ob.data, ob.len, &retried);
	else
		rc = spool_complete(&sp, &o, ob.data, ob.len);
	if (rc == -EALREADY) {
		/* A retried command after a lost reply: the first outcome stands. */
		cli_warn("'%s' was already %s under this claim", id,
		      is_fail ? "failed" : "completed");
		ex = EX_OK;
	} else if (rc == -ESTALE && !spool_error(&sp)[0]) {
		cli_warn("the claim of '%s' is no longer held (its lease ran out, or it "
		      "was cancelled or requeued); the outcome is kept in late/", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = cli_failed(&sp, rc, "cannot %s '%s'", is_fail ? "fail" : "complete", id);
	} else if (is_fail) {
		printf("%s %s\n", id, retried ? "new" : "failed");
	}
out:
	buf_release(&ob);
	spool_close(&sp);
	return ex;
}

int cmd_complete(const struct cmd *c, struct args *a)
{
	return finish(c, a, 0);
}

int cmd_fail(const struct cmd *c, struct args *a)
{
	return finish(c, a, 1);
}

int cmd_release(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *token = a->npos > 1 ? a->pos[1] : NULL;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, stale;

	(void)c;
	if (cli_check_id(id) < 0 || (token && cli_check_token(token) < 0))
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	if (!token) {
		sp.err[0] = 0;
		rc = spool_unhold(&sp, id, NULL);
		if (rc == -ENOENT) {
			cli_warn("no order '%s'", id);
			ex = EX_NONE;
		} else if (rc < 0) {
			ex = cli_failed(&sp, rc, "cannot release '%s'", id);
		}
		goto out;
	}
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	rc = stale ? -ESTALE : spool_release(&sp, &o);
	if (rc == -ESTALE) {
		cli_warn("the claim of '%s' is no longer held", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = cli_failed(&sp, rc, "cannot release '%s'", id);
	}
out:
	spool_close(&sp);
	return ex;
}

int cmd_renew(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *token = a->pos[1], *lease = cli_opt(c, a, "lease");
	struct order o;
	struct spool sp;
	long lease_s = 0;
	int rc, ex = EX_OK, stale;
	char dl[32];

	if (cli_check_id(id) < 0 || cli_check_token(token) < 0)
		return EX_USAGE;
	if (lease && cli_num(lease, 1, LEASE_MAX_S, "--lease", &lease_s) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	if ((ex = find_claim(&sp, id, token, &o, &stale)) != 0)
		goto out;
	sp.err[0] = 0;
	rc = stale ? -ESTALE : spool_renew(&sp, &o, (int)lease_s);
	if (rc == -ESTALE) {
		cli_warn("the claim of '%s' is no longer held", id);
		ex = EX_CONFLICT;
	} else if (rc < 0) {
		ex = cli_failed(&sp, rc, "cannot renew '%s'", id);
	} else {
		iso_time(o.n.deadline, dl);
		printf("%s\n", dl);
	}
out:
	spool_close(&sp);
	return ex;
}

