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

#include "internal.h"

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

static int job_exists(struct spool *sp, const char *id)
{
	char p[SP_PATH_MAX], fan[3];

	sp_fan(id, fan);
	snprintf(p, sizeof(p), "jobs/%s/%s.json", fan, id);
	return sp_exists(sp, p) == 1;
}

/* tmp/: stale files, taken drops, unpublished outcomes. */
static void check_tmp(struct fsck *f)
{
	struct spool *sp = f->sp;
	size_t n, i;
	char **v = dir_names(sp, "tmp", &n);
	int64_t now = now_ms();

	for (i = 0; i < n; i++) {
		char path[SP_PATH_MAX], stamp[SPOOL_ID_LEN + 1];
		const char *name = v[i];
		struct stat st;
		int64_t age;

		snprintf(path, sizeof(path), "tmp/%s", name);
		if (fstatat(sp->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		age = now - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
		if (strlen(name) > 30 && memcmp(name + 24, ".drop.", 6) == 0) {
			memcpy(stamp, name, SPOOL_ID_LEN);
			stamp[SPOOL_ID_LEN] = '\0';
			if (age < f->fo->tmp_age_ms)
				continue;
			f->problems++;
			if (job_exists(sp, stamp)) {
				say(f, "tmp/%s: dropped file already ingested as job %s; removing it%s", name, stamp, fixing(f));
				if (f->fo->repair)
					unlinkat(sp->root, path, 0);
			} else {
				char back[SP_PATH_MAX];

				snprintf(back, sizeof(back), "new/%s", name + 30);
				say(f, "tmp/%s: dropped file taken but not ingested; back to new/%s%s", name, name + 30, fixing(f));
				if (f->fo->repair)
					sp_move(sp, path, back);
			}
			continue;
		}
		if (strlen(name) > 8 && strcmp(name + strlen(name) - 8, ".outcome") == 0 &&
		    strlen(name) == 24 + 1 + 24 + 1 + 3 + 1 + 16 + 8) {
			/* STAMP.ID.AAA.TOKEN.outcome: published after its order moved */
			char id[SPOOL_ID_LEN + 1], tok[SPOOL_TOKEN_LEN + 1], dest[SP_PATH_MAX], fan[3];
			int att = atoi(name + 50);

			memcpy(id, name + 25, 24);
			id[24] = '\0';
			memcpy(tok, name + 54, 16);
			tok[16] = '\0';
			sp_fan(id, fan);
			snprintf(dest, sizeof(dest), "outcomes/%s/%s.%03d.%s.json", fan, id, att, tok);
			if (sp_exists(sp, dest) == 0) {
				struct order o;

				/* lookup_claim also finds a finished claim (done/failed) */
				if (spool_lookup_claim(sp, id, tok, &o) == 0) {
					char ap[SP_PATH_MAX];

					sp_state_path(ST_ASSIGNED, id, o.file, ap, sizeof(ap));
					if (sp_exists(sp, ap) == 0) {
						/* the order moved on: its outcome must be filed */
						f->problems++;
						say(f, "tmp/%s: outcome of order %s attempt %d was not filed; filing it%s", name, id, att, fixing(f));
						if (f->fo->repair && sys_link(sp->root, path, dest) == 0) {
							sp_dirty(sp, "outcomes");
							{
								char dd[32];

								snprintf(dd, sizeof(dd), "outcomes/%s", fan);
								sp_dirty(sp, dd);
							}
							unlinkat(sp->root, path, 0);
						}
						continue;
					}
				}
			}
		}
		if (age >= f->fo->tmp_age_ms) {
			f->problems++;
			say(f, "tmp/%s: stale temporary file (%lld s old); removing it%s", name, (long long)(age / 1000), fixing(f));
			if (f->fo->repair)
				unlinkat(sp->root, path, 0);
		}
	}
	free_names(v, n);
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
			sp_stage(sp, tmp, doc.data, doc.len, path, PUB_RENAME, 1, 0, NULL, NULL);
		}
	}
	buf_release(&job);
	buf_release(&doc);
}

/* Every job needs an order: a tar of a live spool may miss one in flight. */
static void check_jobs(struct fsck *f)
{
	struct spool *sp = f->sp;
	int fan;

	for (fan = 0; fan < 256; fan++) {
		char dir[32];
		size_t n, i;
		char **v;

		snprintf(dir, sizeof(dir), "jobs/%02x", fan);
		v = dir_names(sp, dir, &n);
		for (i = 0; i < n; i++) {
			struct entry key;
			struct job_opts opts;
			struct buf job;
			char stamp[SPOOL_ID_LEN + 1], id[SPOOL_ID_LEN + 1];

			if (strlen(v[i]) != SPOOL_ID_LEN + 5 || strcmp(v[i] + SPOOL_ID_LEN, ".json") != 0)
				continue;
			memcpy(id, v[i], SPOOL_ID_LEN);
			id[SPOOL_ID_LEN] = '\0';
			memcpy(key.id, id, sizeof(key.id));
			key.state = ST_DONE;	/* rank max: bsearch by id alone below */
			{
				size_t lo = 0, hi = f->n;
				int found = 0;

				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					int c = strcmp(f->e[mid].id, id);

					if (c == 0) {
						found = 1;
						break;
					}
					if (c < 0)
						lo = mid + 1;
					else
						hi = mid;
				}
				if (found)
					continue;
			}
			f->problems++;
			say(f, "%s/%s: job has no order; queueing it%s", dir, v[i], fixing(f));
			if (!f->fo->repair)
				continue;
			buf_init(&job, SPOOL_JOB_MAX + 64);
			if (spool_read_job(sp, id, &job) == 0 &&
			    job_check(job.data, job.len, now_ms(), &opts, sp->err, sizeof(sp->err)) == 0) {
				id_new(stamp);
				sp_queue_order(sp, id, stamp, &opts, now_ms(), 0);
			} else {
				say(f, "%s/%s: job does not parse; cannot queue it", dir, v[i]);
			}
			buf_release(&job);
		}
		free_names(v, n);
	}
}

int spool_fsck(struct spool *sp, const struct fsck_opts *fo)
{
	struct fsck f = { sp, fo, 0, NULL, 0, 0 };
	size_t i, j;
	int st, fan, r = 0;

	spool_begin(sp);
	if (sp->made_dirs) {
		/* spool_open puts missing directories back before anything else */
		f.problems++;
		say(&f, "%d directories of the layout were missing; created them", sp->made_dirs);
	}
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
		if (!job_exists(sp, keep->id)) {
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
			if (spool_read_outcome(sp, &o, &b) == -ENOENT) {
				f.problems++;
				say(&f, "%s: done, but its outcome is missing (not repairable)", path);
			}
			buf_release(&b);
		}
		if (keep->state == ST_ASSIGNED && o.n.deadline + sp->reap_grace_ms < now_ms())
			say(&f, "%s: lease expired; 'spoolctl reap' or a running spoold puts it back", path);
	}
	check_jobs(&f);
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
	{
		int c = spool_commit(sp);

		if (r == 0 && c < 0)
			r = c;
	}
	return r < 0 ? r : f.problems;
}
