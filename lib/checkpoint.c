/*
 * checkpoint: the directory a job's attempts share ($SPOOL_CHECKPOINT_DIR),
 * kept in the spool as generations checkpoints/FF/ID/STAMP/, the newest
 * (the greatest STAMP) being the checkpoint. A new one is written whole in
 * tmp/STAMP.ckpt.ID/ (each file and the directory synced), then renamed
 * into place in one rename (and the job's directory synced); only then are
 * the older generations removed. So a reader sees the old checkpoint or the
 * new one, never a mix, at any instant of a crash: what a crash leaves is a
 * stale tmp/ directory (spool_recover removes it) or an older generation
 * beside the newest (the next save or fsck --repair removes it).
 *
 * A checkpoint travels to and from the boss as a pack, one byte stream
 * (artifact.h); the spool's own copy is always files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact.h"
#include "internal.h"

#define PACK_MAGIC "spool-checkpoint 1\n"
#define STAGED_MARK ".ckpt."

int ckpt_is_staged(const char *name)
{
	return strlen(name) == SPOOL_ID_LEN + strlen(STAGED_MARK) + SPOOL_ID_LEN &&
	       !memcmp(name + SPOOL_ID_LEN, STAGED_MARK, strlen(STAGED_MARK));
}

/* ---- the pack ---------------------------------------------------------------- */

static int pack_one(void *arg, const char *name, const void *data, size_t len,
		    char *why, size_t whylen)
{
	struct buf *out = arg;
	size_t keep = out->len;

	if (buf_printf(out, "F %zu %s\n", len, name) < 0 || buf_add(out, data, len) < 0) {
		out->len = keep;
		if (out->data)
			out->data[keep] = '\0';
		snprintf(why, whylen, "the checkpoint would pass its ceiling of %zu bytes",
			 out->max);
		return -1;
	}
	return 0;
}

int ckpt_pack(int dirfd, const struct artifact_caps *caps, struct buf *out,
	      struct buf *notes)
{
	uint64_t bytes;
	int kept, r;

	buf_reset(out);
	if ((r = buf_puts(out, PACK_MAGIC)) < 0)
		return r;
	if ((r = artifact_walk(dirfd, caps, pack_one, out, notes, 1, &kept, &bytes)) < 0)
		return r;
	if ((r = buf_puts(out, "E\n")) < 0)
		return r;
	return kept;
}

int ckpt_unpack(const char *pack, size_t len, int dirfd, int nosync)
{
	size_t ml = strlen(PACK_MAGIC), off;
	int n = 0;

	if (len < ml || memcmp(pack, PACK_MAGIC, ml))
		return -EINVAL;
	off = ml;
	for (;;) {
		char name[ARTIFACT_NAME_MAX + 1], why[96];
		const char *nl, *p = pack + off, *end = pack + len;
		unsigned long long size = 0;
		size_t nlen;
		int fd, r, digits = 0;

		if (end - p >= 2 && p[0] == 'E' && p[1] == '\n')
			return off + 2 == len ? n : -EINVAL;
		if (end - p < 4 || p[0] != 'F' || p[1] != ' ')
			return -EINVAL;
		p += 2;
		while (p < end && *p >= '0' && *p <= '9' && digits < 19) {
			size = size * 10 + (unsigned long long)(*p++ - '0');
			digits++;
		}
		if (!digits || p >= end || *p++ != ' ')
			return -EINVAL;
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			return -EINVAL;
		nlen = (size_t)(nl - p);
		if (nlen > ARTIFACT_NAME_MAX)
			return -EINVAL;
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		if (artifact_name_check(name, why, sizeof(why)) < 0)
			return -EINVAL;
		/* the caps of a checkpoint hold for one that comes from outside too */
		if (n >= ARTIFACT_COUNT_MAX || size > ARTIFACT_FILE_MAX)
			return -EINVAL;
		p = nl + 1;
		if ((unsigned long long)(end - p) < size)
			return -EINVAL;
		if ((fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
				 O_CLOEXEC, 0644)) < 0)
			return -errno;
		r = sys_write_all(fd, p, (size_t)size);
		if (r == 0 && !nosync)
			r = sys_fsync(fd);
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r < 0)
			return r;
		n++;
		off = (size_t)(p - pack) + (size_t)size;
	}
}

/* ---- the spool's generations -------------------------------------------------- */

int sp_remove_tree(struct spool *sp, const char *path)
{
	char **v;
	size_t n, i;
	int r;

	if ((r = sp_dir_names(sp, path, NULL, &v, &n)) < 0)
		return r == -ENOENT ? 0 : r;
	for (i = 0; i < n; i++) {
		char p[SP_PATH_MAX + NAME_MAX + 2];

		snprintf(p, sizeof(p), "%s/%s", path, v[i]);
		if (unlinkat(sp->root, p, 0) < 0 && errno == EISDIR)
			sp_remove_tree(sp, p);
	}
	sp_names_free(v, n);
	if (unlinkat(sp->root, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int gen_name(const char *s)
{
	return id_valid(s);
}

/* The newest generation of dir into stamp: 1, 0 (none), errno. */
static int newest(struct spool *sp, const char *dir, char stamp[SPOOL_ID_LEN + 1])
{
	char **v;
	size_t n, i;
	int r, found = 0;

	if ((r = sp_dir_names(sp, dir, gen_name, &v, &n)) < 0)
		return r == -ENOENT ? 0 : r;
	for (i = 0; i < n; i++)
		if (!found++ || strcmp(v[i], stamp) > 0)
			memcpy(stamp, v[i], SPOOL_ID_LEN + 1);
	sp_names_free(v, n);
	return found > 0;
}

static int prune(struct spool *sp, const char *dir, int repair)
{
	char top[SPOOL_ID_LEN + 1], **v;
	size_t n, i;
	int r, k = 0;

	if ((r = newest(sp, dir, top)) <= 0)
		return r;
	if ((r = sp_dir_names(sp, dir, gen_name, &v, &n)) < 0)
		return r == -ENOENT ? 0 : r;
	for (i = 0; i < n; i++) {
		char p[SP_PATH_MAX + SPOOL_ID_LEN + 2];

		if (!strcmp(v[i], top))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, v[i]);
		if (!repair || sp_remove_tree(sp, p) == 0)
			k++;
	}
	sp_names_free(v, n);
	return k;
}

int spool_checkpoint_prune(struct spool *sp, const char *id, int repair)
{
	char dir[SP_PATH_MAX];

	if (!id_valid(id))
		return -EINVAL;
	sp_files_dir(sp, "checkpoints", id, dir, sizeof(dir), 0);
	return prune(sp, dir, repair);
}

static int sync_dir(struct spool *sp, const char *dir)
{
	int fd, r;

	if (sp->nosync)
		return 0;
	if ((fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	r = sys_fsync(fd);
	close(fd);
	return r;
}

int spool_checkpoint_put(struct spool *sp, const char *id, const char *pack,
			 size_t len)
{
	char stamp[SPOOL_ID_LEN + 1], tmp[96], dir[SP_PATH_MAX];
	char dest[SP_PATH_MAX + SPOOL_ID_LEN + 2];
	int r, fd;

	if ((r = sp_files_job(sp, id)) < 0)
		return r;
	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "tmp/%s%s%s", stamp, STAGED_MARK, id);
	if (mkdirat(sp->root, tmp, 0755) < 0)
		return sp_fail(sp, -errno, "cannot make '%s': %s", tmp, strerror(errno));
	if ((fd = openat(sp->root, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		goto fail;
	}
	r = ckpt_unpack(pack, len, fd, sp->nosync);
	if (r >= 0 && !sp->nosync)
		r = sys_fsync(fd);
	close(fd);
	if (r < 0)
		goto fail;
	if ((r = sp_files_dir(sp, "checkpoints", id, dir, sizeof(dir), 1)) < 0)
		goto fail;
	snprintf(dest, sizeof(dest), "%s/%s", dir, stamp);
	/* the one moment the new checkpoint replaces the old */
	if ((r = sys_rename(sp->root, tmp, dest)) < 0 && sp_exists(sp, dest) != 1)
		goto fail;
	if ((r = sync_dir(sp, dir)) < 0 || (r = sync_dir(sp, "tmp")) < 0)
		return sp_fail(sp, r, "cannot sync '%s': %s", dir, strerror(-r));
	prune(sp, dir, 1);
	return 0;
fail:
	sp_remove_tree(sp, tmp);
	if (r == -EINVAL)
		return sp_fail(sp, r, "the checkpoint of '%s' is not a valid pack", id);
	return sp_fail(sp, r, "cannot store the checkpoint of '%s': %s", id, strerror(-r));
}

int spool_checkpoint_get(struct spool *sp, const char *id, struct buf *out,
			 char stamp_out[SPOOL_ID_LEN + 1])
{
	char dir[SP_PATH_MAX], stamp[SPOOL_ID_LEN + 1], p[SP_PATH_MAX + SPOOL_ID_LEN + 2];
	struct artifact_caps caps;
	int r, fd, tries;

	if ((r = sp_files_job(sp, id)) < 0)
		return r;
	sp_files_dir(sp, "checkpoints", id, dir, sizeof(dir), 0);
	artifact_caps_default(&caps);
	/* a save may prune the generation we found: look again */
	for (tries = 0; tries < 3; tries++) {
		if ((r = newest(sp, dir, stamp)) < 0)
			return sp_fail(sp, r, "cannot list '%s': %s", dir, strerror(-r));
		if (r == 0)
			return sp_fail(sp, -ENOENT, "job %s has no checkpoint", id);
		snprintf(p, sizeof(p), "%s/%s", dir, stamp);
		if ((fd = openat(sp->root, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				continue;
			return sp_fail(sp, -errno, "cannot open '%s': %s", p, strerror(errno));
		}
		r = ckpt_pack(fd, &caps, out, NULL);
		close(fd);
		if (r < 0) {
			/* never part of it (the next attempt would resume from
			 * half a state); ESTALE of ours means a lost claim */
			buf_reset(out);
			r = r == -ESTALE ? -EIO : r;
			return sp_fail(sp, r, "cannot read the checkpoint '%s': %s", p,
				       strerror(-r));
		}
		if (stamp_out)
			memcpy(stamp_out, stamp, sizeof(stamp));
		return 0;
	}
	return sp_fail(sp, -EAGAIN, "the checkpoint of '%s' kept changing", id);
}
