/*
 * order: every state change of an order, each one named function, each made
 * by one rename(2) of the order file (spool-layout.md, "State changes").
 *
 * The rename is also the fence: a claim is its file name in assigned/, token
 * included, so a worker whose claim was reaped, cancelled or re-claimed finds
 * its rename failing with ENOENT and cannot touch the order again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

int sp_order_from(struct order *o, enum spool_state st, const char *file)
{
	char copy[SPOOL_NAME_MAX];

	/* file may be o->file itself */
	if (strlen(file) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, file);
	if (name_parse(copy, &o->n) < 0)
		return -EINVAL;
	o->state = st;
	strcpy(o->file, copy);
	return 0;
}

void sp_outcome_path(const struct order *o, char *out, size_t cap)
{
	char fan[3];

	sp_fan(o->n.id, fan);
	snprintf(out, cap, "outcomes/%s/%s.%03d.%s.json", fan, o->n.id,
		 o->n.attempt, o->n.token);
}

int sp_queue_order(struct spool *sp, const char *id, const char *stamp,
		   const struct job_opts *opts, int64_t created, int group)
{
	struct order_name n;
	struct buf doc;
	char name[SPOOL_NAME_MAX], dest[SP_PATH_MAX], tmp[SPOOL_NAME_MAX + 8];
	int r;

	memset(&n, 0, sizeof(n));
	n.priority = opts->priority;
	n.due = opts->not_before > created ? opts->not_before : created;
	strcpy(n.stamp, stamp);
	strcpy(n.id, id);
	n.tagged = opts->ntags > 0;
	if ((r = name_format(&n, name, sizeof(name))) < 0)
		return sp_fail(sp, r, "cannot name order '%s'", id);
	buf_init(&doc, 8192);
	if ((r = sp_order_doc(&doc, id, created, opts)) < 0) {
		buf_release(&doc);
		return r;
	}
	/* tmp/NAME.order: recovery can tell whose order it is and where it goes */
	snprintf(dest, sizeof(dest), "new/%s", name);
	snprintf(tmp, sizeof(tmp), "%s.order", name);
	r = sp_stage(sp, tmp, doc.data, doc.len, dest, PUB_RENAME, 1, group);
	buf_release(&doc);
	return r;
}

/*
 * The job id is stored already. It is accepted only if its order exists:
 * a crash between publishing a job and its order leaves the order staged
 * in tmp/ (recovered here), and a lost order file gets a fresh one.
 * 1 (it was there, or its staged order is now queued), 0 (queued anew), errno.
 */
static int resubmit(struct spool *sp, const char *id, const char *stamp, int64_t now)
{
	struct order o;
	struct job_opts opts;
	struct buf job;
	int r;

	if ((r = spool_lookup(sp, id, &o)) == 0)
		return 1;
	if (r != -ENOENT)
		return r;
	if ((r = sp_recover_order(sp, id)) != 0)
		return r < 0 ? r : 1;
	buf_init(&job, SPOOL_JOB_MAX + 64);
	r = spool_read_job(sp, id, &job);
	if (r == 0) {
		char why[200];

		if ((r = job_check(job.data, job.len, now, &opts, why, sizeof(why))) < 0)
			r = sp_fail(sp, r, "stored job '%s' is not valid: %s", id, why);
	}
	buf_release(&job);
	if (r < 0)
		return r;
	return sp_end(sp, sp_queue_order(sp, id, stamp, &opts, now, 0));
}

int spool_submit(struct spool *sp, const char *json, size_t len,
		 const char *want_id, char id_out[SPOOL_ID_LEN + 1])
{
	struct job_in in;
	int r;

	if ((r = job_read(&in, json, len, now_ms(), sp->err, sizeof(sp->err))) < 0)
		return r;
	r = spool_submit_job(sp, &in, want_id, id_out);
	job_in_release(&in);
	return r;
}

/* (the job is parsed once, by job_read: its options, id and document) */
int spool_submit_job(struct spool *sp, struct job_in *in, const char *want_id,
		     char id_out[SPOOL_ID_LEN + 1])
{
	const struct buf *doc;
	char id[SPOOL_ID_LEN + 1], stamp[SPOOL_ID_LEN + 1];
	char dest[SP_PATH_MAX], tmp[64];
	int64_t now = now_ms();
	int r, g, named;

	id_new(stamp);
	/* one rule on every path: a job that names a valid "_id" keeps it, so
	 * that submitting or dropping it again adds nothing */
	if (want_id) {
		if (!id_valid(want_id))
			return sp_fail(sp, -EINVAL, "bad job id '%.40s': want %d hex digits", want_id, SPOOL_ID_LEN);
		strcpy(id, want_id);
		named = 1;
	} else {
		named = in->named;
		strcpy(id, named ? in->id : stamp);
	}
	strcpy(id_out, id);
	sp_job_path(id, dest, sizeof(dest));
	if (named && (r = sp_exists(sp, dest)) == 1 && sp_torn(sp, dest)) {
		/* torn by a machine crash before its submit was answered */
		unlinkat(sp->root, dest, 0);
		r = 0;
	}
	if (named && r != 0)
		return r < 0 ? r : resubmit(sp, id, stamp, now);
	doc = job_in_doc(in, id);
	if ((g = sp_group(sp)) < 0)
		return g;
	snprintf(tmp, sizeof(tmp), "%s.job", stamp);
	r = sp_stage(sp, tmp, doc->data, doc->len, dest, PUB_JOB, 0, g);
	if (r == 0 && (r = sp_queue_order(sp, id, stamp, &in->opts, now, g)) < 0)
		sp_unstage_group(sp, g);	/* no job without its order */
	return sp_end(sp, r);
}

/* ---- claims -------------------------------------------------------------- */

int spool_read_opts(struct spool *sp, const struct order *o,
		    struct job_opts *opts, int64_t *created_ms)
{
	char path[SP_PATH_MAX];
	struct buf b;
	int64_t created = 0;
	int r;

	spool_order_path(o, path, sizeof(path));
	buf_init(&b, 64 << 10);
	r = sys_read_file(&b, sp->root, path);
	if (r == 0 && order_doc_parse(b.data, b.len, opts, &created) < 0)
		r = sp_fail(sp, -EINVAL, "order file '%s' is not valid (spoolctl fsck --repair rebuilds it)", path);
	buf_release(&b);
	if (created_ms)
		*created_ms = created;
	return r;
}

/* A claim's lease, at the claim and at every renewal: the job's own, else
 * the claimant's default, else the library's. */
static int lease_of(const struct job_opts *opts, int claimant_s)
{
	return opts->lease_s ? opts->lease_s : claimant_s > 0 ? claimant_s : SPOOL_DEF_LEASE_S;
}

static int has_tags(const struct job_opts *opts, const struct claimant *c)
{
	int i, k;

	for (i = 0; i < opts->ntags; i++) {
		for (k = 0; k < c->ntags; k++)
			if (strcmp(opts->tags[i], c->tags[k]) == 0)
				break;
		if (k == c->ntags)
			return 0;
	}
	return 1;
}

int spool_claim_file(struct spool *sp, const char *file,
		     const struct claimant *c, struct order *o)
{
	return spool_claim_file_opts(sp, file, c, o, NULL, NULL);
}

int spool_claim_file_opts(struct spool *sp, const char *file,
			  const struct claimant *c, struct order *o,
			  struct job_opts *opts_out, int64_t *created_ms)
{
	struct job_opts opts;
	int64_t created;
	struct order q;
	char from[SP_PATH_MAX], to[SP_PATH_MAX], name[SPOOL_NAME_MAX];
	int64_t now = now_ms();
	int r, lease;

	if (!worker_valid(c->worker))
		return sp_fail(sp, -EINVAL, "bad worker name '%.70s'", c->worker ? c->worker : "");
	if (sp_order_from(&q, ST_NEW, file) < 0 || q.n.claimed)
		return sp_fail(sp, -EINVAL, "'%.80s' is not a queued order name", file);
	if ((r = spool_read_opts(sp, &q, &opts, &created)) < 0)
		return r == -ENOENT ? -ENOENT : r;
	if (opts_out)
		*opts_out = opts;
	if (created_ms)
		*created_ms = created;
	lease = lease_of(&opts, c->lease_s);
	q.n.attempt++;
	if (q.n.attempt > SPOOL_ATTEMPTS_MAX)
		q.n.attempt = SPOOL_ATTEMPTS_MAX;
	q.n.claimed = 1;
	q.n.deadline = now + (int64_t)lease * 1000;
	if (c->seed)
		token_new_seed(q.n.token);
	else
		token_new(q.n.token);
	snprintf(q.n.worker, sizeof(q.n.worker), "%s", c->worker);
	if ((r = name_format(&q.n, name, sizeof(name))) < 0)
		return sp_fail(sp, r, "cannot name claim");
	snprintf(from, sizeof(from), "new/%s", file);
	snprintf(to, sizeof(to), "assigned/%s", name);
	/* On NFS a retransmitted rename can say ENOENT after it succeeded:
	 * the destination is ours alone, so sys_rename asks it who won. */
	r = sp->claim_nosync ? sys_rename(sp->root, from, to) : sp_move(sp, from, to);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : sp_fail(sp, r, "cannot claim '%s': %s", file, strerror(-r));
	sp_order_from(o, ST_ASSIGNED, name);
	if ((r = sp_end(sp, 0)) < 0 && !sp->batch)
		sys_rename(sp->root, to, from);	/* nobody got the token: give it back */
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cache_free(struct spool *sp)
{
	sp_names_free(sp->cache, sp->ncache);
	sp->cache = NULL;
	sp->ncache = sp->icache = 0;
}

/* Read and sort the order names of new/ into sp->cache. */
static int cache_fill(struct spool *sp)
{
	int r;

	cache_free(sp);
	r = sp_dir_names(sp, "new", sp_is_queued_name, &sp->cache, &sp->ncache);
	if (r == 0 && sp->ncache)
		qsort(sp->cache, sp->ncache, sizeof(*sp->cache), cmp_names);
	sp->icache = 0;
	return r;
}

int spool_claim(struct spool *sp, const struct claimant *c, struct order *o)
{
	int64_t now = now_ms(), t0;
	int pass, r;

	for (pass = 0; pass < 2; pass++) {
		size_t i;
		/* a listing goes stale: rescan when it is older than twice what a
		 * scan costs (at least a second), or used up, or on the 2nd pass */
		if (pass == 1 || !sp->cache || sp->icache >= sp->ncache ||
		    now - sp->cache_ms > 1000) {
			t0 = now_ms();
			if ((r = cache_fill(sp)) < 0)
				return sp_fail(sp, r, "cannot read '%s/new': %s", sp->path, strerror(-r));
			now = now_ms();
			/* stale after max(1 s, twice what this scan cost) */
			sp->cache_ms = now + (2 * (now - t0) > 1000 ? 2 * (now - t0) - 1000 : 0);
			if (pass == 0)
				pass = 1;	/* this listing is fresh: no second pass */
		}
		for (i = sp->icache; i < sp->ncache; i++) {
			char *f = sp->cache[i];
			struct order_name n;

			if (!f)
				continue;
			if (name_parse(f, &n) < 0 || n.due > now)
				continue;
			if (n.tagged) {
				struct job_opts opts;
				struct order q;

				sp_order_from(&q, ST_NEW, f);
				r = spool_read_opts(sp, &q, &opts, NULL);
				if (r == 0 && !has_tags(&opts, c))
					continue;
				if (r < 0) {
					free(f);
					sp->cache[i] = NULL;
					continue;
				}
			}
			r = spool_claim_file(sp, f, c, o);
			if (r == 0 || r == -ENOENT) {
				free(f);
				sp->cache[i] = NULL;
				while (sp->icache < sp->ncache && !sp->cache[sp->icache])
					sp->icache++;
			}
			if (r == -ENOENT)
				continue;
			return r;
		}
	}
	return -EAGAIN;
}

/* ---- finding orders ------------------------------------------------------ */

/* Look in one directory for the order id (at offset 44 of every name). */
static int find_in_once(struct spool *sp, enum spool_state st, const char *id,
			const char *token, struct order *o)
{
	char dir[32];
	DIR *d;
	struct dirent *e;
	int fd, r = -ENOENT;

	sp_state_dir(st, id, dir, sizeof(dir));
	fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = errno == ESTALE ? -EAGAIN : -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	for (errno = 0; (e = readdir(d)); errno = 0) {
		struct order q;

		if (strlen(e->d_name) < 68 || memcmp(e->d_name + 44, id, SPOOL_ID_LEN) != 0)
			continue;
		if (sp_order_from(&q, st, e->d_name) < 0)
			continue;
		if (token && strcmp(q.n.token, token) != 0) {
			*o = q;
			r = -ESTALE;
			continue;
		}
		*o = q;
		r = 0;
		break;
	}
	/* a listing cut short by an error is no answer (ESTALE on NFS) */
	if (!e && errno)
		r = errno == ESTALE ? -EAGAIN : -errno;
	closedir(d);
	return r;
}

/*
 * find_in_once, again while the directory's handle is stale: the caller's
 * -ESTALE is "claimed under another token", never the file system's.
 */
static int find_in(struct spool *sp, enum spool_state st, const char *id,
		   const char *token, struct order *o)
{
	int i, r = -EAGAIN;

	for (i = 0; i < SYS_STALE_TRIES && r == -EAGAIN; i++)
		r = find_in_once(sp, st, id, token, o);
	return r == -EAGAIN ? -EIO : r;
}

/*
 * A listing can come from a client's cache (NFS keeps directories for
 * seconds), so "not there" may only mean "not there a moment ago, as this
 * host saw it". A change this host makes to a directory makes its client
 * read it afresh (the reply shows whether somebody else changed it too):
 * create and remove a dot file, which every tool ignores. For the slow
 * paths only: an order or a claim not found.
 */
static void refresh_states(struct spool *sp, const char *id)
{
	char dir[32], p[SP_PATH_MAX], stamp[SPOOL_ID_LEN + 1];
	int st, fd;

	id_new(stamp);
	for (st = 0; st < ST_COUNT; st++) {
		sp_state_dir((enum spool_state)st, id, dir, sizeof(dir));
		snprintf(p, sizeof(p), "%s/.refresh.%s", dir, stamp);
		fd = openat(sp->root, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			unlinkat(sp->root, p, 0);
		}
	}
}

static int lookup_once(struct spool *sp, const char *id, struct order *o)
{
	/* the order of precedence fsck uses when an order is in two states */
	static const enum spool_state order[] = {
		ST_DONE, ST_FAILED, ST_CANCELLED, ST_ASSIGNED, ST_HELD, ST_NEW
	};
	size_t i;
	int r = -ENOENT;

	for (i = 0; i < sizeof(order) / sizeof(order[0]) && r == -ENOENT; i++)
		r = find_in(sp, order[i], id, NULL, o);
	return r;
}

int spool_lookup(struct spool *sp, const char *id, struct order *o)
{
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s': want %d hex digits", id, SPOOL_ID_LEN);
	if ((r = lookup_once(sp, id, o)) == -ENOENT) {
		refresh_states(sp, id);		/* sure it is nowhere? */
		r = lookup_once(sp, id, o);
	}
	return r == -ENOENT ? sp_fail(sp, -ENOENT, "no order '%s'", id) : r;
}

/*
 * The claim (id, token) as its holder knew it, after it was lost: o is where
 * the order is now. Its file name cannot be in assigned/ (no claim there has
 * this token), so completing or failing it files the outcome in late/. The
 * attempt is the one a reap or requeue left counted, or the one before a
 * newer claim's.
 */
static void lost_claim(struct order *o, const char *token)
{
	if (o->n.claimed && o->state == ST_ASSIGNED && o->n.attempt > 1)
		o->n.attempt--;
	else if (!o->n.claimed && o->n.attempt < 1)
		o->n.attempt = 1;
	o->n.claimed = 1;
	o->n.deadline = 0;
	memcpy(o->n.token, token, sizeof(o->n.token));
	if (!worker_valid(o->n.worker))
		strcpy(o->n.worker, "unknown");
	o->state = ST_ASSIGNED;
	name_format(&o->n, o->file, sizeof(o->file));
}

static int lookup_claim_once(struct spool *sp, const char *id, const char *token,
			     struct order *o)
{
	int r = find_in(sp, ST_ASSIGNED, id, token, o);

	if (r == -ESTALE) {
		lost_claim(o, token);
		return sp_fail(sp, r, "order '%s' is claimed under another token", id);
	}
	if (r != -ENOENT)
		return r;
	/* finished already? then hand back the claim as it was */
	r = find_in(sp, ST_DONE, id, token, o);
	if (r == -ENOENT || r == -ESTALE)
		r = find_in(sp, ST_FAILED, id, token, o);
	if (r == 0) {
		o->state = ST_ASSIGNED;
		return 0;
	}
	if ((r = lookup_once(sp, id, o)) < 0)
		return r == -ENOENT ? sp_fail(sp, r, "no order '%s'", id) : r;
	{
		enum spool_state now = o->state;

		lost_claim(o, token);
		return sp_fail(sp, -ESTALE, "order '%s' is %s, not claimed under that token", id, spool_state_name(now));
	}
}

int spool_lookup_claim(struct spool *sp, const char *id, const char *token,
		       struct order *o)
{
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s': want %d hex digits", id, SPOOL_ID_LEN);
	if (!token_valid(token))
		return sp_fail(sp, -EINVAL, "bad claim token '%.40s': want %d hex digits", token, SPOOL_TOKEN_LEN);
	r = lookup_claim_once(sp, id, token, o);
	if (r == -ESTALE || r == -ENOENT) {
		/* a listing cached on this host may miss a claim made on another
		 * a moment ago: a claim is lost only by a fresh listing's word */
		refresh_states(sp, id);
		r = lookup_claim_once(sp, id, token, o);
	}
	return r;
}

int spool_lookup_claim_hint(struct spool *sp, const char *id, const char *token,
			    const char *hint, struct order *o)
{
	struct order q;
	char path[SP_PATH_MAX];

	if (hint && id_valid(id) && token_valid(token) &&
	    sp_order_from(&q, ST_ASSIGNED, hint) == 0 && q.n.claimed &&
	    strcmp(q.n.id, id) == 0 && strcmp(q.n.token, token) == 0) {
		sp_state_path(ST_ASSIGNED, id, hint, path, sizeof(path));
		if (sp_exists(sp, path) == 1) {
			*o = q;
			return 0;
		}
	}
	return spool_lookup_claim(sp, id, token, o);
}

/* ---- finishing a claim ---------------------------------------------------- */

/*
 * Check an outcome is a JSON object within its cap. *status (may be NULL)
 * gets its numeric "status" member, 0 if it has none.
 */
static int outcome_check(struct spool *sp, const char *s, size_t len, int64_t *status)
{
	char err[200];
	struct json j;
	int r;

	if (status)
		*status = 0;
	if (len > SPOOL_OUTCOME_MAX)
		return sp_fail(sp, -EINVAL, "outcome is %zu bytes, more than the %d allowed", len, SPOOL_OUTCOME_MAX);
	r = json_parse(&j, s, len, JSON_TOKENS_MAX, err, sizeof(err));
	if (r < 0)
		return sp_fail(sp, -EINVAL, "outcome: %s", err);
	if (j.tok[0].type != JSMN_OBJECT)
		r = sp_fail(sp, -EINVAL, "an outcome must be a JSON object");
	else if (status && json_int(&j, json_get(&j, 0, "status"), status) < 0)
		*status = 0;
	json_release(&j);
	return r;
}

/* Stage outcome for claim o, to publish at dest as how says, in group. */
static int stage_outcome(struct spool *sp, const struct order *o, const char *dest,
			 const char *s, size_t len, int how, int group)
{
	char tmp[128], stamp[SPOOL_ID_LEN + 1];
	struct buf b;
	int r;

	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "%s.%s.%03d.%s.outcome", stamp, o->n.id, o->n.attempt, o->n.token);
	if (len && s[len - 1] == '\n')
		return sp_stage(sp, tmp, s, len, dest, how, 0, group);
	buf_init(&b, SPOOL_OUTCOME_MAX + 2);
	r = buf_add(&b, s, len);
	if (r == 0)
		r = buf_add(&b, "\n", 1);
	if (r == 0)
		r = sp_stage(sp, tmp, b.data, b.len, dest, how, 0, group);
	buf_release(&b);
	return r;
}

/*
 * The claim o is gone from assigned/. Either this claim finished already
 * (its order is in final/ under the claim's name, or its outcome is on file
 * with the same content: a repeated request), or the claim was lost and the
 * outcome goes to late/.
 */
static int claim_gone(struct spool *sp, const struct order *o, enum spool_state final,
		      const char *s, size_t len)
{
	char out[SP_PATH_MAX], late[SP_PATH_MAX], fin[SP_PATH_MAX];
	int r, have;

	sp_outcome_path(o, out, sizeof(out));
	sp_state_path(final, o->n.id, o->file, fin, sizeof(fin));
	have = sp_exists(sp, out) == 1;
	if (sp_exists(sp, fin) == 1 || (have && sp_same_content(sp, out, s, len))) {
		r = 0;
		if (!have) {
			/* finished by an older version that filed the outcome
			 * after the rename, and a crash lost it: file it now */
			r = sp_end(sp, stage_outcome(sp, o, out, s, len, PUB_LINK, 0));
		}
		return r < 0 ? r : sp_fail(sp, -EALREADY, "order '%s' attempt %d was already finished by this claim", o->n.id, o->n.attempt);
	}
	snprintf(late, sizeof(late), "late/%s.%03d.%s.json", o->n.id, o->n.attempt, o->n.token);
	r = sp_end(sp, stage_outcome(sp, o, late, s, len, PUB_LINK, 0));
	if (r < 0)
		return r;
	return sp_fail(sp, -ESTALE, "the claim on order '%s' attempt %d is no longer held (lease expired, cancelled or requeued); outcome kept in late/", o->n.id, o->n.attempt);
}

/*
 * The one way a claim ends. The outcome is filed first, written once under
 * the claim's name (outcomes/FF/ID.AAA.TOKEN.json), and is durable before
 * the rename of the order into state st under name: no reader ever sees a
 * finished order without its outcome. Whoever files a claim's outcome first
 * decides how it ended: a worker's outcome that finds the reaper's there
 * goes to late/, and so does one whose claim is gone by the time of the
 * rename (then the rename fails with -ESTALE). In a batch all of it happens
 * at commit (spool_track tells the result). how is PUB_OUTCOME for a
 * worker's outcome, PUB_SYNTH for the reaper's. -ENOENT: the claim is not
 * in assigned/ now (nothing was changed).
 */
static int finish_claim(struct spool *sp, struct order *o, enum spool_state st,
			const char *name, const char *s, size_t len, int how)
{
	char from[SP_PATH_MAX], to[SP_PATH_MAX], out[SP_PATH_MAX];
	int r, g;

	sp_state_path(ST_ASSIGNED, o->n.id, o->file, from, sizeof(from));
	sp_state_path(st, o->n.id, name, to, sizeof(to));
	sp_outcome_path(o, out, sizeof(out));
	if ((r = sp_exists(sp, from)) <= 0)
		return r == -ESTALE ? -EIO : r < 0 ? r : -ENOENT;	/* -ESTALE is ours */
	if ((g = sp_group(sp)) < 0)
		return g;
	if (s && (r = stage_outcome(sp, o, out, s, len, how, g)) < 0) {
		sp_unstage_group(sp, g);
		return sp_end(sp, r);
	}
	if ((r = sp_stage_move(sp, from, to, g)) < 0) {
		sp_unstage_group(sp, g);
		return sp_end(sp, r);
	}
	/* a claim made without syncs (spool_set_claim_sync) left new/ unsynced:
	 * its end makes the claim durable too, so the order cannot come back
	 * to new/ after a crash once it is done. A handle whose claims sync
	 * has nothing of the kind to make durable: no fsync of new/ for it;
	 * a handle with a gate may end claims made so by another */
	if (sp->claim_nosync || sp->gate)
		sp_dirty(sp, "new");
	sp_group_claim(sp, g, o, st, name);
	r = sp_end(sp, 0);
	if (r < 0 && r != -ESTALE && r != -EALREADY) {
		char why[sizeof(sp->err)];

		snprintf(why, sizeof(why), "%s", spool_error(sp));	/* not in place */
		sp_fail(sp, r, "cannot finish order '%s': %s", o->n.id, why);
	}
	return r;
}

int spool_complete(struct spool *sp, struct order *o, const char *s, size_t len)
{
	struct order q;
	int r;

	if (!o->n.claimed)
		return sp_fail(sp, -EINVAL, "not a claim");
	if ((r = outcome_check(sp, s, len, NULL)) < 0)
		return r;
	q = *o;
	r = finish_claim(sp, o, ST_DONE, q.file, s, len, PUB_OUTCOME);
	if (r == -ENOENT)
		return claim_gone(sp, &q, ST_DONE, s, len);
	return r;
}

/* A claimed name back in queued form. */
static void queued_name(const struct order *o, int attempt, int64_t due, char *out, size_t cap)
{
	struct order_name n = o->n;

	n.claimed = 0;
	n.attempt = attempt;
	n.due = due;
	name_format(&n, out, cap);
}

/*
 * Where a claim that ended with outcome status goes: done, unless the status
 * is a number outside 200-299 (the rule of the seed's callback); then a 4xx
 * (the job itself is wrong) or used-up attempts fail it, else it is retried.
 */
int spool_status_failed(int has_status, int64_t status)
{
	return has_status && (status < 200 || status > 299);
}

enum spool_state sp_ending(const struct order *o, const struct job_opts *opts,
			   int has_status, int64_t status, int failure)
{
	if (!failure && !spool_status_failed(has_status, status))
		return ST_DONE;
	if (o->n.attempt >= opts->max_attempts || (status >= 400 && status <= 499))
		return ST_FAILED;
	return ST_NEW;
}

/* The name order o gets in state st when its claim ends there. */
static void ended_name(const struct order *o, const struct job_opts *opts,
		       enum spool_state st, char *out, size_t cap)
{
	if (st == ST_NEW)
		queued_name(o, o->n.attempt, now_ms() + (int64_t)opts->retry_delay_s * 1000, out, cap);
	else
		snprintf(out, cap, "%s", o->file);
}

int spool_fail(struct spool *sp, struct order *o, const char *s, size_t len,
	       int *retried)
{
	struct job_opts opts;
	struct buf syn;
	char name[SPOOL_NAME_MAX];
	enum spool_state st;
	int64_t status;
	int r, again;

	*retried = 0;
	if (!o->n.claimed)
		return sp_fail(sp, -EINVAL, "not a claim");
	buf_init(&syn, 512);
	if (!s || !len) {
		buf_printf(&syn, "{\"status\":500,\"jobId\":\"%s\",\"error\":\"failed\",\"attempt\":%d,\"worker\":\"%s\"}",
			   o->n.id, o->n.attempt, o->n.worker);
		s = syn.data;
		len = syn.len;
	}
	if ((r = outcome_check(sp, s, len, &status)) < 0)
		goto out;
	r = spool_read_opts(sp, o, &opts, NULL);
	if (r == -ENOENT) {
		r = claim_gone(sp, o, ST_FAILED, s, len);
		goto out;
	}
	if (r < 0)
		goto out;
	/* a 4xx status says the job itself is wrong: no attempt can help */
	st = sp_ending(o, &opts, 1, status, 1);
	again = st == ST_NEW;
	ended_name(o, &opts, st, name, sizeof(name));
	{
		struct order q = *o;

		r = finish_claim(sp, o, st, name, s, len, PUB_OUTCOME);
		if (r == -ENOENT)
			r = claim_gone(sp, &q, ST_FAILED, s, len);
		else if (r == 0)
			*retried = again;
	}
out:
	buf_release(&syn);
	return r;
}

/* Rename the claim o to name in state st, without filing anything. */
static int move_claim(struct spool *sp, struct order *o, enum spool_state st,
		      const char *name, const char *what)
{
	char from[SP_PATH_MAX], to[SP_PATH_MAX];
	int r;

	sp_state_path(ST_ASSIGNED, o->n.id, o->file, from, sizeof(from));
	sp_state_path(st, o->n.id, name, to, sizeof(to));
	r = sp_move(sp, from, to);
	if (r == -ENOENT)
		return sp_fail(sp, -ESTALE, "the claim on order '%s' is no longer held", o->n.id);
	if (r < 0)
		return sp_fail(sp, r, "cannot %s order '%s': %s", what, o->n.id, strerror(-r));
	sp_order_from(o, st, name);
	return sp_end(sp, 0);
}

int spool_release(struct spool *sp, struct order *o)
{
	char name[SPOOL_NAME_MAX];

	if (!o->n.claimed)
		return sp_fail(sp, -EINVAL, "not a claim");
	queued_name(o, o->n.attempt > 0 ? o->n.attempt - 1 : 0, o->n.due, name, sizeof(name));
	return move_claim(sp, o, ST_NEW, name, "release");
}

int spool_renew(struct spool *sp, struct order *o, int lease_s)
{
	struct order_name n = o->n;
	char name[SPOOL_NAME_MAX];
	int r;

	if (!o->n.claimed)
		return sp_fail(sp, -EINVAL, "not a claim");
	{
		struct job_opts opts;

		r = spool_read_opts(sp, o, &opts, NULL);
		if (r == -ENOENT)
			return sp_fail(sp, -ESTALE, "the claim on order '%s' is no longer held", o->n.id);
		if (r < 0)
			return r;
		lease_s = lease_of(&opts, lease_s);
	}
	n.deadline = now_ms() + (int64_t)lease_s * 1000;
	if ((r = name_format(&n, name, sizeof(name))) < 0)
		return r;
	return move_claim(sp, o, ST_ASSIGNED, name, "renew");
}

/* ---- leases ----------------------------------------------------------- */

int spool_reap_one(struct spool *sp, struct order *o, int64_t now)
{
	struct job_opts opts;
	struct buf syn;
	char name[SPOOL_NAME_MAX], out[SP_PATH_MAX];
	char iso[32];
	enum spool_state st;
	int r;

	if (!o->n.claimed || o->n.deadline + sp->reap_grace_ms >= now)
		return 0;
	r = spool_read_opts(sp, o, &opts, NULL);
	if (r == -ENOENT)
		return 0;	/* finished meanwhile */
	if (r < 0)
		return r;
	sp_outcome_path(o, out, sizeof(out));
	buf_init(&syn, SPOOL_OUTCOME_MAX + 2);
	if (sp_torn(sp, out))
		unlinkat(sp->root, out, 0);	/* a machine crash's, never acknowledged */
	if (sys_read_file(&syn, sp->root, out) == 0) {
		/* the claimant filed its outcome and died before the rename:
		 * end the claim as that outcome says, without running it again */
		int64_t status = 0;
		int has = outcome_check(sp, syn.data, syn.len, &status) == 0 && status != 0;

		st = sp_ending(o, &opts, has, status, 0);
		ended_name(o, &opts, st, name, sizeof(name));
		/* its claimant may have stopped inside its commit, before the
		 * sync round: the outcome is durable before our rename names it */
		r = sp_sync_file(sp, out);
		if (r == 0)
			r = finish_claim(sp, o, st, name, NULL, 0, PUB_SYNTH);
		buf_release(&syn);
		return r == -ENOENT || r == -ESTALE ? 0 : r < 0 ? r : 1;
	}
	st = sp_ending(o, &opts, 0, 0, 1);
	ended_name(o, &opts, st, name, sizeof(name));
	/* the expired attempt's outcome says why; the worker's own, if it ever
	 * comes, goes to late/ */
	buf_reset(&syn);
	iso_time(o->n.deadline, iso);
	buf_printf(&syn, "{\"status\":504,\"jobId\":\"%s\",\"error\":\"lease expired\",\"attempt\":%d,\"worker\":\"%s\",\"leaseDeadline\":\"%s\"}",
		   o->n.id, o->n.attempt, o->n.worker, iso);
	r = finish_claim(sp, o, st, name, syn.data, syn.len, PUB_SYNTH);
	buf_release(&syn);
	if (r == -ENOENT || r == -ESTALE)
		return 0;	/* finished or reaped by somebody else meanwhile */
	return r < 0 ? r : 1;
}

int spool_reap(struct spool *sp, int64_t now, int *n)
{
	char **names;
	size_t nn, i;
	int r, k;

	*n = 0;
	/* list first: renaming while reading a directory may repeat entries */
	r = sp_dir_names(sp, "assigned", sp_is_order_name, &names, &nn);
	if (r < 0)
		return sp_fail(sp, r, "cannot read '%s/assigned': %s", sp->path, strerror(-r));
	for (i = 0; r == 0 && i < nn; i++) {
		struct order o;

		if (sp_order_from(&o, ST_ASSIGNED, names[i]) < 0)
			continue;
		k = spool_reap_one(sp, &o, now);
		if (k < 0)
			r = k;
		else
			*n += k;
	}
	sp_names_free(names, nn);
	return r;
}

/* ---- person-driven changes --------------------------------------------- */

static int move_to(struct spool *sp, struct order *o, enum spool_state st,
		   const char *name)
{
	char from[SP_PATH_MAX], to[SP_PATH_MAX];
	int r;

	spool_order_path(o, from, sizeof(from));
	sp_state_path(st, o->n.id, name, to, sizeof(to));
	r = sp_move(sp, from, to);
	if (r == -ENOENT)
		return sp_fail(sp, -EAGAIN, "order '%s' changed state meanwhile; try again", o->n.id);
	if (r < 0)
		return sp_fail(sp, r, "cannot move order '%s' to %s: %s", o->n.id, spool_state_name(st), strerror(-r));
	sp_order_from(o, st, name);
	return sp_end(sp, 0);
}

/*
 * A person's change: order id, if its state is one of from (a bit mask of
 * states), moves to state to; with fresh, under a new queued name with no
 * attempts used, due now (requeue).
 */
static int person_move(struct spool *sp, const char *id, unsigned from,
		       enum spool_state to, int fresh, const char *allowed,
		       struct order *out)
{
	struct order o;
	char name[SPOOL_NAME_MAX];
	int r;

	if ((r = spool_lookup(sp, id, &o)) < 0)
		return r;
	if (!(from & (1u << o.state)))
		return sp_fail(sp, -EBUSY, "order '%s' is %s; %s", id, spool_state_name(o.state), allowed);
	if (fresh)
		queued_name(&o, 0, now_ms(), name, sizeof(name));
	else
		strcpy(name, o.file);
	r = move_to(sp, &o, to, name);
	if (out)
		*out = o;
	return r;
}

#define BIT(st) (1u << (st))

int spool_hold(struct spool *sp, const char *id, struct order *o)
{
	return person_move(sp, id, BIT(ST_NEW), ST_HELD, 0,
			   "only a queued (new) order can be held", o);
}

int spool_unhold(struct spool *sp, const char *id, struct order *o)
{
	return person_move(sp, id, BIT(ST_HELD), ST_NEW, 0, "only a held order can be released", o);
}

int spool_cancel(struct spool *sp, const char *id, struct order *o)
{
	return person_move(sp, id, BIT(ST_NEW) | BIT(ST_HELD) | BIT(ST_ASSIGNED),
			   ST_CANCELLED, 0, "only new, held or assigned orders can be cancelled", o);
}

int spool_requeue(struct spool *sp, const char *id, struct order *o)
{
	return person_move(sp, id, ~BIT(ST_NEW) & (BIT(ST_COUNT) - 1), ST_NEW, 1,
			   "it is queued already", o);
}
