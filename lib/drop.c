/*
 * drop: job files that people write straight into new/.
 *
 * A drop is any file in new/ whose name is not an order name and does not
 * start with '.'. It may still be being written (a plain cp is not atomic),
 * so it is ingested only once it parses as a valid job and did not change
 * while we read it; an invalid one is rejected only after it has been still
 * for settle_ms. Ingesting first renames the drop to a name of our own in
 * tmp/ (so two ingesters cannot both take it), then submits it under the
 * id the job names ("_id", as on every path) or else the stamp of that
 * name, so a crash in between is mended by spool_recover without losing or
 * doubling the job.
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

#define DROP_NAME_KEEP 160	/* of the dropped name, kept in tmp/ and rejected/ */

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Move new/name to rejected/ with a note saying why. */
static int reject(struct spool *sp, const char *name, const char *why)
{
	char from[SP_PATH_MAX], to[SP_PATH_MAX], note[SP_PATH_MAX], tmp[96];
	char stamp[SPOOL_ID_LEN + 1];
	struct buf b;
	int r;

	id_new(stamp);
	snprintf(from, sizeof(from), "new/%s", name);
	snprintf(to, sizeof(to), "rejected/%s.%.*s", stamp, DROP_NAME_KEEP, name);
	snprintf(note, sizeof(note), "rejected/%s.why", stamp);
	r = sp_move(sp, from, to);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : sp_fail(sp, r, "cannot reject '%s': %s", name, strerror(-r));
	buf_init(&b, 4096);
	buf_printf(&b, "file: %s\nrejected: %s\nwhy: %s\n", name, to + strlen("rejected/"), why);
	snprintf(tmp, sizeof(tmp), "%s.why", stamp);
	r = sp_stage(sp, tmp, b.data, b.len, note, PUB_RENAME, 0, 0);
	buf_release(&b);
	r = sp_end(sp, r);
	if (r < 0)
		return r;
	return sp_fail(sp, 2, "dropped file '%s' rejected: %s", name, why);
}

int spool_ingest(struct spool *sp, const char *name, char id_out[SPOOL_ID_LEN + 1])
{
	struct order_name nm;
	struct stat st1, st2;
	struct job_opts opts;
	struct buf b;
	char path[SP_PATH_MAX], claimed[SP_PATH_MAX], stamp[SPOOL_ID_LEN + 1];
	char why[sizeof(sp->err)];
	int r;

	if (!name[0] || name[0] == '.' || strchr(name, '/') || name_parse(name, &nm) == 0)
		return sp_fail(sp, -EINVAL, "'%.80s' is not a dropped file", name);
	snprintf(path, sizeof(path), "new/%s", name);
	if (fstatat(sp->root, path, &st1, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st1.st_mode))
		return reject(sp, name, "not a regular file");
	if (st1.st_size > SPOOL_JOB_MAX) {
		char w[96];

		snprintf(w, sizeof(w), "larger than %d bytes", SPOOL_JOB_MAX);
		return reject(sp, name, w);
	}
	buf_init(&b, SPOOL_JOB_MAX);
	r = sys_read_file(&b, sp->root, path);
	if (r == -EFBIG) {
		r = reject(sp, name, "too large");
		goto out;
	}
	if (r < 0)
		goto out;
	if (fstatat(sp->root, path, &st2, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto out;
	}
	if (!same_stat(&st1, &st2)) {
		r = 1;	/* still being written */
		goto out;
	}
	if (job_check(b.data, b.len, now_ms(), &opts, why, sizeof(why)) < 0) {
		int64_t mtime = (int64_t)st2.st_mtim.tv_sec * 1000 + st2.st_mtim.tv_nsec / 1000000;

		if (now_ms() - mtime < sp->settle_ms) {
			r = 1;	/* maybe a writer is not done yet */
			goto out;
		}
		r = reject(sp, name, why);
		goto out;
	}
	/* take it: our own name in tmp/, which also fixes the job's id */
	id_new(stamp);
	snprintf(claimed, sizeof(claimed), "tmp/%s.drop.%.*s", stamp, DROP_NAME_KEEP, name);
	r = sys_rename(sp->root, path, claimed);
	if (r < 0) {
		if (r != -ENOENT)
			sp_fail(sp, r, "cannot take dropped file '%s': %s", name, strerror(-r));
		goto out;
	}
	sp_dirty(sp, "new");
	{
		char given[SPOOL_ID_LEN + 1];

		r = spool_submit(sp, b.data, b.len,
				 job_given_id(b.data, b.len, given) ? given : stamp, id_out);
	}
	if (r < 0) {
		/* put it back for the next try; it was never ours to lose */
		sys_rename(sp->root, claimed, path);
		goto out;
	}
	/* in a batch the job is published at commit: only then may the
	 * drop go (fsck mends a crash in between) */
	r = sp_end(sp, sp_unlink_after(sp, claimed, r == 0 ? sp_last_group(sp) : 0));
out:
	buf_release(&b);
	return r;
}

int spool_ingest_each(struct spool *sp, spool_ingest_fn fn, void *arg,
		      int *ingested, int *rejected, int *waiting)
{
	char **names;
	size_t n, i;
	int r, ni = 0, nr = 0, nw = 0;

	r = sp_dir_names(sp, "new", sp_is_drop_name, &names, &n);
	if (r < 0)
		return sp_fail(sp, r, "cannot read '%s/new': %s", sp->path, strerror(-r));
	for (i = 0; i < n && r == 0; i++) {
		char id[SPOOL_ID_LEN + 1] = "";
		int k;

		sp->err[0] = '\0';
		k = spool_ingest(sp, names[i], id);
		if (k == 0)
			ni++;
		else if (k == 1)
			nw++;
		else if (k == 2)
			nr++;
		else if (k != -ENOENT)
			r = k;
		if (fn && k != -ENOENT)
			fn(arg, names[i], k, id, sp->err);
	}
	sp_names_free(names, n);
	if (ingested)
		*ingested = ni;
	if (rejected)
		*rejected = nr;
	if (waiting)
		*waiting = nw;
	return r;
}

int spool_ingest_all(struct spool *sp, int *ingested, int *rejected, int *waiting)
{
	return spool_ingest_each(sp, NULL, NULL, ingested, rejected, waiting);
}
