/*
 * recover: what a crash leaves in tmp/, mended without a person.
 *
 * Every write stages its files in tmp/ and publishes them at commit, a job
 * before its order, an outcome before the rename that ends its claim
 * (spool-layout.md, "What a crash at any instant leaves"). So a process
 * killed mid-commit leaves at most: an order staged for a job that is
 * published (the job is not yet accepted: its order is moved into new/
 * here), files of changes that were never published (removed once stale),
 * and a dropped file taken for ingesting (removed if its job exists, else
 * put back into new/ once stale). spoold runs this at start and on every
 * rescan, local runners at start and with their reaper, fsck with its
 * report; the rules are here once.
 *
 * A file younger than the stale age may belong to a commit still under way
 * in another process, so only what is safe at any age is done to it: an
 * order whose job is published is queued (its committer then finds it
 * queued and counts that as done), a drop whose job exists is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact.h"
#include "internal.h"

#define ORDER_SUFFIX ".order"
#define DROP_MARK ".drop."

/* 1 and n filled if tmp name is NAME.order of a queued order name. */
static int staged_order(const char *name, struct order_name *n, char *qname, size_t cap)
{
	size_t len = strlen(name), sl = strlen(ORDER_SUFFIX);

	if (len <= sl || len - sl >= cap || strcmp(name + len - sl, ORDER_SUFFIX) != 0)
		return 0;
	memcpy(qname, name, len - sl);
	qname[len - sl] = '\0';
	return name_parse(qname, n) == 0 && !n->claimed;
}

static void say(const struct recover_opts *ro, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct recover_opts *ro, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!ro || !ro->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ro->say(ro->arg, line);
}

static const char *would(const struct recover_opts *ro)
{
	return ro->repair ? "" : " (would be done by --repair)";
}

/* Queue the staged order tmp/name (for a published job) into new/. */
static int publish_order(struct spool *sp, const char *name, const char *qname)
{
	char from[SP_PATH_MAX], to[SP_PATH_MAX];
	int r;

	snprintf(from, sizeof(from), "tmp/%s", name);
	snprintf(to, sizeof(to), "new/%s", qname);
	r = sys_publish_once(sp->root, from, to);
	if (r == -EEXIST) {
		unlinkat(sp->root, from, 0);
		r = 0;
	}
	if (r < 0)
		return r == -ENOENT ? 0 : r;	/* ENOENT: its committer did it */
	sp_dirty(sp, "new");
	return 1;
}

int sp_recover_order(struct spool *sp, const char *id)
{
	char **v;
	size_t n, i;
	int r, done = 0;

	if ((r = sp_dir_names(sp, "tmp", NULL, &v, &n)) < 0)
		return r;
	for (i = 0; i < n && !done && r >= 0; i++) {
		struct order_name nm;
		char q[SPOOL_NAME_MAX];

		if (staged_order(v[i], &nm, q, sizeof(q)) && strcmp(nm.id, id) == 0)
			done = r = publish_order(sp, v[i], q);
	}
	sp_names_free(v, n);
	if (r > 0)
		r = sp_end(sp, 0) < 0 ? -EIO : 1;
	return r;
}

/* The id a taken drop tmp/STAMP.drop.NAME is (or was) submitted under. */
static int drop_id(struct spool *sp, const char *path, const char *name,
		   char id[SPOOL_ID_LEN + 1])
{
	struct buf b;
	int given = 0;

	buf_init(&b, SPOOL_JOB_MAX);
	if (sys_read_file(&b, sp->root, path) == 0)
		given = job_given_id(b.data, b.len, id);
	buf_release(&b);
	if (!given) {
		memcpy(id, name, SPOOL_ID_LEN);
		id[SPOOL_ID_LEN] = '\0';
	}
	return id_valid(id);
}

/* The one tmp/ file name: 1 if it was mended (or would be), else 0. */
static int recover_one(struct spool *sp, const struct recover_opts *ro,
		       const char *name, int64_t now, struct recover_stats *rs)
{
	struct order_name nm;
	struct stat st;
	char path[SP_PATH_MAX], q[SPOOL_NAME_MAX], id[SPOOL_ID_LEN + 1];
	int64_t age;
	int stale;

	snprintf(path, sizeof(path), "tmp/%s", name);
	if (fstatat(sp->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	/* its age in tmp/: a rename sets ctime, not mtime, and a dropped file
	 * taken for ingesting keeps the mtime its writer gave it, maybe hours
	 * ago, while its ingest is under way this very moment */
	{
		int64_t m = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		int64_t c = (int64_t)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000;

		age = now - (c > m ? c : m);
	}
	stale = age >= ro->stale_ms;

	if (staged_order(name, &nm, q, sizeof(q))) {
		struct order o;
		char keep[sizeof(sp->err)], jp[SP_PATH_MAX];
		int has_order, have = spool_job_exists(sp, nm.id);

		if (have < 0) {
			/* cannot tell (EIO, a lost NFS server): removing either
			 * could lose a job; try again at the next recovery */
			say(ro, "tmp/%s: cannot tell whether job %s is stored (%s); left alone",
			    name, nm.id, strerror(-have));
			goto young;
		}
		if (have && sp_torn(sp, sp_job_path(nm.id, jp, sizeof(jp)))) {
			/* published before its sync, torn by a machine crash: its
			 * submit was never answered */
			say(ro, "tmp/%s: job %s was torn by a crash before it was accepted; removing both%s", name, nm.id, would(ro));
			if (ro->repair)
				unlinkat(sp->root, jp, 0);
			goto remove;
		}
		if (!have) {
			if (!stale)
				goto young;
			say(ro, "tmp/%s: order staged for job %s that was never stored; removing it%s", name, nm.id, would(ro));
			goto remove;
		}
		memcpy(keep, sp->err, sizeof(keep));
		has_order = spool_lookup(sp, nm.id, &o) == 0;
		memcpy(sp->err, keep, sizeof(keep));
		if (has_order) {
			if (!stale)
				goto young;
			say(ro, "tmp/%s: order of job %s is queued already; removing this copy%s", name, nm.id, would(ro));
			goto remove;
		}
		say(ro, "tmp/%s: job %s is stored but its order was not queued (a commit was cut); queueing it%s", name, nm.id, would(ro));
		if (ro->repair && publish_order(sp, name, q) > 0 && rs)
			rs->orders++;
		return 1;
	}
	if (strlen(name) > SPOOL_ID_LEN + strlen(DROP_MARK) &&
	    memcmp(name + SPOOL_ID_LEN, DROP_MARK, strlen(DROP_MARK)) == 0) {
		const char *orig = name + SPOOL_ID_LEN + strlen(DROP_MARK);
		int have = drop_id(sp, path, name, id) ? spool_job_exists(sp, id) : 0;

		if (have < 0) {
			say(ro, "tmp/%s: cannot tell whether job %s is stored (%s); left alone",
			    name, id, strerror(-have));
			goto young;
		}
		if (have) {
			say(ro, "tmp/%s: dropped file was ingested as job %s; removing it%s", name, id, would(ro));
			goto remove;
		}
		if (!stale)
			goto young;
		{
			char back[SP_PATH_MAX];

			say(ro, "tmp/%s: dropped file taken but not ingested; back to new/%s%s", name, orig, would(ro));
			snprintf(back, sizeof(back), "new/%s", orig);
			if (ro->repair && sp_move(sp, path, back) == 0 && rs)
				rs->drops++;
		}
		return 1;
	}
	if (strlen(name) == 24 + 1 + 24 + 1 + 3 + 1 + 16 + 8 &&
	    strcmp(name + strlen(name) - 8, ".outcome") == 0) {
		/* STAMP.ID.AAA.TOKEN.outcome. Today an outcome is published
		 * before its claim ends, so an unpublished one means the claim
		 * did not end. A spool written by an older version may hold the
		 * outcome of a claim that ended before it was published. */
		char tok[SPOOL_TOKEN_LEN + 1], dest[SP_PATH_MAX], fan[3];
		struct order o, claim;
		int att = atoi(name + 50);

		memcpy(id, name + 25, 24);
		id[24] = '\0';
		memcpy(tok, name + 54, 16);
		tok[16] = '\0';
		sp_fan(id, fan);
		memset(&claim, 0, sizeof(claim));
		memcpy(claim.n.id, id, sizeof(id));
		memcpy(claim.n.token, tok, sizeof(tok));
		claim.n.attempt = att;
		sp_outcome_path(&claim, dest, sizeof(dest));
		if (id_valid(id) && token_valid(tok) && sp_exists(sp, dest) == 0 &&
		    spool_lookup_claim(sp, id, tok, &o) == 0 && o.n.attempt == att) {
			char ap[SP_PATH_MAX];

			sp_state_path(ST_ASSIGNED, id, o.file, ap, sizeof(ap));
			if (sp_exists(sp, ap) == 0) {
				say(ro, "tmp/%s: outcome of order %s attempt %d, which ended without it; filing it%s", name, id, att, would(ro));
				if (ro->repair && sys_publish_once(sp->root, path, dest) == 0) {
					char dd[32];

					snprintf(dd, sizeof(dd), "outcomes/%s", fan);
					sp_dirty(sp, dd);
					if (rs)
						rs->outcomes++;
				}
				return 1;
			}
		}
	}
	if (ckpt_is_staged(name) && S_ISDIR(st.st_mode)) {
		/* a checkpoint cut before its rename: the old one stands */
		if (!stale)
			goto young;
		say(ro, "tmp/%s: checkpoint of job %s never put in place (%lld s old); removing it%s",
		    name, name + strlen(name) - SPOOL_ID_LEN, (long long)(age / 1000), would(ro));
		if (ro->repair && sp_remove_tree(sp, path) == 0 && rs)
			rs->removed++;
		return 1;
	}
	if (!stale)
		goto young;
	say(ro, "tmp/%s: stale temporary file (%lld s old) of a change never made; removing it%s", name, (long long)(age / 1000), would(ro));
remove:
	if (ro->repair && unlinkat(sp->root, path, 0) == 0 && rs)
		rs->removed++;
	return 1;
young:
	if (ro->notes)
		say(ro, "note: tmp/%s is %lld s old: a change may be under way; left alone until it is %lld s old",
		    name, (long long)(age / 1000), (long long)(ro->stale_ms / 1000));
	if (rs)
		rs->young++;
	return 0;
}

/*
 * A running claim whose outcome is on file but torn: its claimant filed it
 * and a machine crash cut the sync round before any answer (spool_commit
 * publishes before it syncs). Nobody acknowledged it; removing it lets the
 * claimant's retry, or the reaper, decide how the claim ends.
 */
static int torn_outcome(void *arg, const char *name)
{
	struct spool *sp = ((void **)arg)[0];
	const struct recover_opts *ro = ((void **)arg)[1];
	struct recover_stats *rs = ((void **)arg)[2];
	int *found = ((void **)arg)[3];
	struct order o;
	char out[SP_PATH_MAX];

	if (sp_order_from(&o, ST_ASSIGNED, name) < 0 || !o.n.claimed)
		return 0;
	sp_outcome_path(&o, out, sizeof(out));
	if (sp_exists(sp, out) != 1 || !sp_torn(sp, out))
		return 0;
	say(ro, "%s: outcome of the running claim on order %s (attempt %d) was torn by a crash before it was acknowledged; removing it%s",
	    out, o.n.id, o.n.attempt, would(ro));
	if (ro->repair && unlinkat(sp->root, out, 0) == 0 && rs)
		rs->removed++;
	(*found)++;
	return 0;
}

int spool_recover(struct spool *sp, const struct recover_opts *ro,
		  struct recover_stats *rs)
{
	char **v;
	size_t n, i;
	int r, found = 0;
	int64_t now = now_ms();

	if (rs)
		memset(rs, 0, sizeof(*rs));
	if ((r = sp_dir_names(sp, "tmp", NULL, &v, &n)) < 0)
		return sp_fail(sp, r, "cannot read '%s/tmp': %s", sp->path, strerror(-r));
	spool_begin(sp);
	for (i = 0; i < n; i++)
		if (v[i][0] != '.')
			found += recover_one(sp, ro, v[i], now, rs);
	sp_names_free(v, n);
	{
		void *arg[4] = { sp, (void *)ro, rs, &found };

		sp_dir_walk(sp, "assigned", torn_outcome, arg);
	}
	r = spool_commit(sp);
	return r < 0 ? r : found;
}
