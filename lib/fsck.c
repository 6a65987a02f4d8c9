/*
 * fsck: bring a crashed or restored spool back to one consistent state.
 *
 * What a crash or a tar of a live spool can leave (spool-layout.md, "fsck"):
 * stale files in tmp/, a dropped file taken but not yet submitted, an
 * outcome written but not yet published, an order in two states, an order
 * file that does not parse, an order whose job is missing, a job with no
 * order. Each finding is one line through fo->say; with repair, each is
 * mended as the line says.
 */
#include <dirent.h>
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
#include "json.h"

struct entry {
	char id[SPOOL_ID_LEN + 1];
	unsigned char state;
	char *file;
};

struct fsck {
	struct spool *sp;
	const struct fsck_opts *fo;
	int problems;
	struct entry *e;
	size_t n, cap;
	char **tmp;		/* names in tmp/ before recovery, for check mode */
	size_t ntmp;
};

static void say(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct fsck *f, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (f->fo->say)
		f->fo->say(f->fo->arg, line);
}

static const char *fixing(struct fsck *f)
{
	return f->fo->repair ? "" : " (would be fixed by --repair)";
}

/* Names of a directory; NULL (and *n = 0) when it cannot be read. */
static char **dir_names(struct spool *sp, const char *dir, size_t *n)
{
	char **v;

	return sp_dir_names(sp, dir, NULL, &v, n) < 0 ? NULL : v;
}

static void free_names(char **v, size_t n)
{
	sp_names_free(v, n);
}

static int add_entry(struct fsck *f, enum spool_state st, const char *file,
		     const char *id)
{
	if (sp_reserve(&f->e, &f->cap, f->n + 1, sizeof(*f->e)) < 0)
		return -ENOMEM;
	memcpy(f->e[f->n].id, id, SPOOL_ID_LEN + 1);
	f->e[f->n].state = (unsigned char)st;
	if (!(f->e[f->n].file = strdup(file)))
		return -ENOMEM;
	f->n++;
	return 0;
}

static int rank(int st)
{
	/* which copy wins when an order is in two states */
	static const int r[ST_COUNT] = {
		[ST_NEW] = 0, [ST_HELD] = 1, [ST_ASSIGNED] = 2,
		[ST_CANCELLED] = 3, [ST_FAILED] = 4, [ST_DONE] = 5,
	};
	return r[st];
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : rank(y->state) - rank(x->state);
}

static int collect(struct fsck *f, enum spool_state st, const char *dir)
{
	size_t n, i;
	char **v = dir_names(f->sp, dir, &n);
	int r = 0;

	for (i = 0; i < n; i++) {
		struct order_name nm;

		if (v[i][0] == '.')
			continue;
		if (name_parse(v[i], &nm) < 0) {
			if (st != ST_NEW) {
				f->problems++;
				say(f, "%s/%s: not an order name; left alone", dir, v[i]);
			}
			continue;
		}
		if (r == 0)
			r = add_entry(f, st, v[i], nm.id);
	}
	free_names(v, n);
	return r;
}

/* 1 if job id is stored, 0 if not; -errno when that cannot be told (EIO), said
 * here: whoever asks then leaves what depends on it alone, since a repair
 * made on a wrong answer would lose the job. */
static int job_exists(struct fsck *f, const char *what, const char *id)
{
	int r = spool_job_exists(f->sp, id);

	if (r < 0) {
		f->problems++;
		say(f, "%s: cannot tell whether job %s exists: %s; left alone", what, id,
		    strerror(-r));
	}
	return r;
}

static void say_line(void *arg, const char *line)
{
	struct fsck *f = arg;

	say(f, "%s", line);
}

/* tmp/: what a crash left, mended by the rules every process uses. */
static void check_tmp(struct fsck *f)
{
	struct recover_opts ro = { f->fo->repair, 1, f->fo->tmp_age_ms, say_line, f };
	int n = spool_recover(f->sp, &ro, NULL);

	if (n > 0)
		f->problems += n;
}

/* The entry of order id, or NULL (f->e sorted by id). */
static struct entry *find_entry(struct fsck *f, const char *id)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(f->e[mid].id, id);

		if (c == 0) {
			while (mid > 0 && strcmp(f->e[mid - 1].id, id) == 0)
				mid--;
			return &f->e[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* An outcome file name ID.AAA.TOKEN.json: 0 and its parts, or -EINVAL. */
static int outcome_name(const char *name, char id[SPOOL_ID_LEN + 1], int *att,
			char tok[SPOOL_TOKEN_LEN + 1])
{
	if (strlen(name) != 24 + 1 + 3 + 1 + 16 + 5 || name[24] != '.' || name[28] != '.' ||
	    strcmp(name + 45, ".json") != 0)
		return -EINVAL;
	memcpy(id, name, 24);
	id[24] = '\0';
	memcpy(tok, name + 29, 16);
	tok[16] = '\0';
	*att = atoi(name + 25);
	return id_valid(id) && token_valid(tok) ? 0 : -EINVAL;
}

/*
 * The newest outcome on file for job id (its highest attempt): 1 with
 * name/att/tok set, 0 none.
 */
static int newest_outcome(struct spool *sp, const char *id, char *name, size_t cap,
			  int *att, char tok[SPOOL_TOKEN_LEN + 1])
{
	char dir[32], fan[3];
	size_t n, i;
	char **v;
	int found = 0;

	sp_fan(id, fan);
	snprintf(dir, sizeof(dir), "outcomes/%s", fan);
	v = dir_names(sp, dir, &n);
	for (i = 0; i < n; i++) {
		char oid[SPOOL_ID_LEN + 1], otok[SPOOL_TOKEN_LEN + 1];
		int a;

		if (outcome_name(v[i], oid, &a, otok) < 0 || strcmp(oid, id) != 0)
			continue;
		if (!found || a > *att) {
			found = 1;
			*att = a;
			memcpy(tok, otok, sizeof(otok));
			snprintf(name, cap, "%s/%s", dir, v[i]);
		}
	}
	free_names(v, n);
	return found;
}

/*
 * Job id has no order, but outcomes: it ran, and a backup or a crash lost
 * its order file. Rebuild the order where its newest outcome puts it: done,
 * failed, or queued again with its attempts counted.
 */
static void restore_order(struct fsck *f, const char *id, const struct job_opts *opts,
			  const char *opath, int att, const char *tok)
{
	struct spool *sp = f->sp;
	struct order o;
	struct buf out, doc;
	struct stat st;
	char path[SP_PATH_MAX], tmp[SPOOL_NAME_MAX + 16], w[SPOOL_WORKER_MAX + 1] = "unknown";
	int64_t status = 0, ms;
	int has = 0;
	enum spool_state to;

	memset(&o, 0, sizeof(o));
	ms = fstatat(sp->root, opath, &st, 0) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000 : now_ms();
	buf_init(&out, SPOOL_OUTCOME_MAX + 2);
	if (buf_read_file(&out, sp->root, opath) == 0) {
		struct json j;
		char err[8];

		if (json_parse(&j, out.data, out.len, JSON_TOKENS_MAX, err, sizeof(err)) == 0) {
			has = json_int(&j, json_get(&j, 0, "status"), &status) == 0;
			if (json_str(&j, json_get(&j, 0, "worker"), w, sizeof(w)) < 0 || !worker_valid(w))
				strcpy(w, "unknown");
			json_release(&j);
		}
	}
	buf_release(&out);
	o.n.priority = opts->priority;
	o.n.due = ms;
	strcpy(o.n.stamp, id);
	strcpy(o.n.id, id);
	o.n.attempt = att;
	o.n.tagged = opts->ntags > 0;
	o.n.claimed = 1;
	o.n.deadline = ms;
	snprintf(o.n.token, sizeof(o.n.token), "%s", tok);
	snprintf(o.n.worker, sizeof(o.n.worker), "%s", w);
	to = sp_ending(&o, opts, has, status, 0);
	if (to == ST_NEW) {
		o.n.claimed = 0;
		o.n.due = now_ms();
	}
	name_format(&o.n, o.file, sizeof(o.file));
	sp_state_path(to, id, o.file, path, sizeof(path));
	say(f, "jobs/%s.json: job has no order but ran (outcome %s); restoring its order as %s%s",
	    id, opath, spool_state_name(to), fixing(f));
	if (!f->fo->repair)
		return;
	buf_init(&doc, 8192);
	if (sp_order_doc(&doc, id, ms, opts) == 0) {
		snprintf(tmp, sizeof(tmp), "%s.restore", o.file);
		sp_stage(sp, tmp, doc.data, doc.len, path, PUB_RENAME, 1, 0);
	}
	buf_release(&doc);
}

/* Call fn(f, dir, name) for every file of the 256 fan-outs of top. */
static void each_fanned(struct fsck *f, const char *top,
			void (*fn)(struct fsck *f, const char *dir, const char *name))
{
	int fan;

	for (fan = 0; fan < 256; fan++) {
		char dir[32];
		size_t n, i;
		char **v;

		snprintf(dir, sizeof(dir), "%s/%02x", top, fan);
		v = dir_names(f->sp, dir, &n);
		for (i = 0; i < n; i++)
			if (v[i][0] != '.')
				fn(f, dir, v[i]);
		free_names(v, n);
	}
}

/*
 * A job's artifacts or checkpoint (artifacts/FF/ID/, checkpoints/FF/ID/):
 * of a job that exists; a checkpoint of one generation (a save cut between
 * its rename and the removal of the old one leaves two; the newest is it).
 */
static void files_one(struct fsck *f, const char *dir, const char *name)
{
	int k;

	if (!id_valid(name)) {
		say(f, "%s/%s: not a job id; left alone", dir, name);
		return;
	}
	if ((k = job_exists(f, dir, name)) < 0)
		return;
	if (!k) {
		say(f, "note: %s/%s: kept for job %s, which does not exist; left alone",
		    dir, name, name);
		return;
	}
	if (!strncmp(dir, "checkpoints/", 12) &&
	    (k = spool_checkpoint_prune(f->sp, name, f->fo->repair)) > 0) {
		f->problems++;
		say(f, "%s/%s: %d older checkpoint generation%s beside the newest (a save was cut); removing %s%s",
		    dir, name, k, k == 1 ? "" : "s", k == 1 ? "it" : "them", fixing(f));
	}
}

/* Every outcome belongs to a job and an order, and to a claim the order had. */
static void outcome_one(struct fsck *f, const char *dir, const char *name)
{
	char id[SPOOL_ID_LEN + 1], tok[SPOOL_TOKEN_LEN + 1], from[SP_PATH_MAX], to[SP_PATH_MAX];
	struct entry *e;
	int att, have;

	snprintf(from, sizeof(from), "%s/%s", dir, name);
	if (outcome_name(name, id, &att, tok) < 0) {
		f->problems++;
		say(f, "%s: not an outcome name; left alone", from);
		return;
	}
	if ((have = job_exists(f, from, id)) < 0)
		return;
	if (have) {
		struct order_name nm;

		if (!(e = find_entry(f, id)))
			return;		/* check_jobs restores its order */
		if (name_parse(e->file, &nm) == 0 && nm.attempt < att)
			say(f, "note: %s: outcome of attempt %d, but order %s has used %d attempts (requeued since, or not written by a claim)",
			    from, att, id, nm.attempt);
		return;
	}
	f->problems++;
	snprintf(to, sizeof(to), "late/%s", name);
	say(f, "%s: outcome of job %s, which does not exist%s; moving it to %s%s", from, id,
	    find_entry(f, id) ? "" : " (nor its order)", to, fixing(f));
	if (f->fo->repair)
		sp_move(f->sp, from, to);
}

/*
 * A series (logs/FF/ID.AAA.series) whose last line is torn: a SIGKILL or a
 * crash mid-append. Readers skip it; the repair cuts it, so that the next
 * append does not join it. Logs are text, and other names there are left.
 */
static void series_one(struct fsck *f, const char *dir, const char *name)
{
	char path[SP_PATH_MAX];
	size_t n = strlen(name);
	struct stat st;
	struct buf b;

	if (n < 7 || strcmp(name + n - 7, ".series"))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fstatat(f->sp->root, path, &st, 0) < 0 || !st.st_size)
		return;
	buf_init(&b, (size_t)st.st_size + 1);
	if (buf_read_file(&b, f->sp->root, path) == 0 && b.len &&
	    b.data[b.len - 1] != '\n') {
		size_t keep = b.len;

		while (keep && b.data[keep - 1] != '\n')
			keep--;
		f->problems++;
		say(f, "%s: its last line is torn (%zu bytes, a crash mid-append); cutting it%s",
		    path, b.len - keep, fixing(f));
		if (f->fo->repair) {
			int fd = openat(f->sp->root, path, O_WRONLY | O_CLOEXEC);

			if (fd >= 0) {
				if (ftruncate(fd, (off_t)keep) == 0)
					sys_fsync(fd);
				close(fd);
			}
		}
	}
	buf_release(&b);
}

/* Rebuild an order file from its job when it does not parse. */
static void check_order_file(struct fsck *f, struct entry *e)
{
	struct spool *sp = f->sp;
	struct order o;
	struct job_opts opts;
	int64_t created;
	struct buf job, doc;
	char path[SP_PATH_MAX], tmp[64], stamp[SPOOL_ID_LEN + 1];
	int r;

	if (sp_order_from(&o, e->state, e->file) < 0)
		return;
	r = spool_read_opts(sp, &o, &opts, &created);
	if (r == 0 || r == -ENOENT)
		return;
	f->problems++;
	spool_order_path(&o, path, sizeof(path));
	say(f, "%s: order file unreadable; rebuilding it from job %s%s", path, e->id, fixing(f));
	if (!f->fo->repair)
		return;
	buf_init(&job, SPOOL_JOB_MAX + 64);
	buf_init(&doc, 8192);
	if (spool_read_job(sp, e->id, &job) == 0 &&
	    job_check(job.data, job.len, now_ms(), &opts, sp->err, sizeof(sp->err)) == 0) {
		created = 0;
		for (r = 0; r < 12; r++)
			created = created * 16 + (o.n.stamp[r] >= 'a' ? o.n.stamp[r] - 'a' + 10 : o.n.stamp[r] - '0');
		if (sp_order_doc(&doc, e->id, created, &opts) == 0) {
			id_new(stamp);
			snprintf(tmp, sizeof(tmp), "%s.order", stamp);
			sp_stage(sp, tmp, doc.data, doc.len, path, PUB_RENAME, 1, 0);
		}
	}
	buf_release(&job);
	buf_release(&doc);
}

/* Every job needs an order: a tar of a live spool may miss one in flight. */
static void job_one(struct fsck *f, const char *dir, const char *name)
{
	struct spool *sp = f->sp;
	struct job_opts opts;
	struct buf job;
	char stamp[SPOOL_ID_LEN + 1], id[SPOOL_ID_LEN + 1], on_path[SP_PATH_MAX];

	if (strlen(name) != SPOOL_ID_LEN + 5 || strcmp(name + SPOOL_ID_LEN, ".json") != 0)
		return;
	memcpy(id, name, SPOOL_ID_LEN);
	id[SPOOL_ID_LEN] = '\0';
	if (find_entry(f, id))
		return;
	f->problems++;
	buf_init(&job, SPOOL_JOB_MAX + 64);
	if (spool_read_job(sp, id, &job) < 0) {
		say(f, "%s/%s: job has no order and cannot be read; cannot queue it", dir, name);
	} else if (sp_torn(sp, sp_job_path(id, on_path, sizeof(on_path)))) {
		/* published before its sync round, torn by a machine crash whose
		 * file system kept the job's name but not its staged order's
		 * (POSIX lets it): never acknowledged, and nothing names it */
		say(f, "%s/%s: job has no order and was torn by a crash before it was accepted; removing it%s",
		    dir, name, fixing(f));
		if (f->fo->repair)
			unlinkat(sp->root, on_path, 0);
	} else if (job_check(job.data, job.len, now_ms(), &opts, sp->err, sizeof(sp->err)) < 0) {
		say(f, "%s/%s: job has no order and does not parse; cannot queue it", dir, name);
	} else {
		char on[SP_PATH_MAX], tok[SPOOL_TOKEN_LEN + 1];
		int att;

		if (newest_outcome(sp, id, on, sizeof(on), &att, tok)) {
			restore_order(f, id, &opts, on, att, tok);
		} else {
			say(f, "%s/%s: job has no order; queueing it%s", dir, name, fixing(f));
			if (f->fo->repair) {
				id_new(stamp);
				sp_queue_order(sp, id, stamp, &opts, now_ms(), 0);
			}
		}
	}
	buf_release(&job);
}

/*
 * 1 if tmp/ held the unpublished outcome of claim o when fsck began: the
 * recovery (or, in check mode, the report of it) deals with it.
 */
static int tmp_outcome_of(struct fsck *f, const struct order *o)
{
	char tail[64];
	size_t i, tl;

	snprintf(tail, sizeof(tail), ".%s.%03d.%s.outcome", o->n.id, o->n.attempt, o->n.token);
	tl = strlen(tail);
	for (i = 0; i < f->ntmp; i++) {
		size_t l = strlen(f->tmp[i]);

		if (l > tl && strcmp(f->tmp[i] + l - tl, tail) == 0)
			return !f->fo->repair;
	}
	return 0;
}

int spool_fsck(struct spool *sp, const struct fsck_opts *fo)
{
	struct fsck f = { sp, fo, 0, NULL, 0, 0, NULL, 0 };
	size_t i, j;
	int st, fan, r = 0;

	spool_begin(sp);
	if (sp->made_dirs) {
		/* spool_open puts missing directories back before anything else */
		f.problems++;
		say(&f, "%d directories of the layout were missing; created them", sp->made_dirs);
	}
	f.tmp = dir_names(sp, "tmp", &f.ntmp);
	check_tmp(&f);
	for (st = 0; st < ST_COUNT && r == 0; st++) {
		if (st == ST_NEW || st == ST_ASSIGNED || st == ST_HELD) {
			r = collect(&f, st, spool_state_name(st));
			continue;
		}
		for (fan = 0; fan < 256 && r == 0; fan++) {
			char dir[32];

			snprintf(dir, sizeof(dir), "%s/%02x", spool_state_name(st), fan);
			r = collect(&f, st, dir);
		}
	}
	if (r < 0)
		goto out;
	if (f.n)
		qsort(f.e, f.n, sizeof(*f.e), cmp_entry);
	for (i = 0; i < f.n; i = j) {
		struct entry *keep = &f.e[i];
		struct order o;
		char path[SP_PATH_MAX];
		int have;

		/* the first of a run of one id has the highest rank */
		for (j = i + 1; j < f.n && strcmp(f.e[j].id, keep->id) == 0; j++) {
			sp_order_from(&o, f.e[j].state, f.e[j].file);
			spool_order_path(&o, path, sizeof(path));
			f.problems++;
			say(&f, "%s: order %s is also %s; removing this copy%s", path, keep->id,
			    spool_state_name(keep->state), fixing(&f));
			if (fo->repair) {
				char dir[32];

				unlinkat(sp->root, path, 0);
				sp_state_dir(o.state, o.n.id, dir, sizeof(dir));
				sp_dirty(sp, dir);
			}
		}
		sp_order_from(&o, keep->state, keep->file);
		spool_order_path(&o, path, sizeof(path));
		if ((have = job_exists(&f, path, keep->id)) < 0)
			continue;
		if (!have) {
			char to[SP_PATH_MAX];

			if (keep->state == ST_FAILED)
				continue;	/* put there by an earlier repair */
			f.problems++;
			say(&f, "%s: the job of order %s is missing; moving the order to failed/%s", path, keep->id, fixing(&f));
			if (fo->repair) {
				sp_state_path(ST_FAILED, keep->id, keep->file, to, sizeof(to));
				sp_move(sp, path, to);
			}
			continue;
		}
		check_order_file(&f, keep);
		if (keep->state == ST_DONE) {
			struct buf b;

			buf_init(&b, SPOOL_OUTCOME_MAX + 2);
			if (spool_read_outcome(sp, &o, &b) == -ENOENT && !tmp_outcome_of(&f, &o)) {
				char to[SP_PATH_MAX];
				struct order q = o;

				/* nothing says how it ended: run it again */
				f.problems++;
				q.n.claimed = 0;
				q.n.due = now_ms();
				name_format(&q.n, q.file, sizeof(q.file));
				sp_state_path(ST_NEW, q.n.id, q.file, to, sizeof(to));
				say(&f, "%s: done, but its outcome is missing; queueing it to run again as %s%s", path, to, fixing(&f));
				if (fo->repair)
					sp_move(sp, path, to);
			}
			buf_release(&b);
		}
		if (keep->state == ST_ASSIGNED && o.n.deadline + sp->reap_grace_ms < now_ms())
			say(&f, "%s: lease expired; 'spoolctl reap' or a running spoold puts it back", path);
	}
	each_fanned(&f, "jobs", job_one);
	each_fanned(&f, "outcomes", outcome_one);
	each_fanned(&f, "logs", series_one);
	each_fanned(&f, "artifacts", files_one);
	each_fanned(&f, "checkpoints", files_one);
	{
		int ni = 0, nr = 0, nw = 0;

		if (fo->repair)
			spool_ingest_all(sp, &ni, &nr, &nw);
		if (ni || nr)
			say(&f, "new/: ingested %d dropped files, rejected %d", ni, nr);
		if (nw)
			say(&f, "new/: %d dropped files are not complete yet", nw);
	}
out:
	for (i = 0; i < f.n; i++)
		free(f.e[i].file);
	free(f.e);
	free_names(f.tmp, f.ntmp);
	{
		int c = spool_commit(sp);

		if (r == 0 && c < 0)
			r = c;
	}
	return r < 0 ? r : f.problems;
}
