/*
 * artifact: files a run keeps, in artifacts/FF/ID/NAME. They are the
 * user's, not the queue's: no state change depends on them, so each is
 * written on its own, maildir-style (tmp/, fsync, rename, fsync the
 * directory), and a later attempt's file of the same name replaces the
 * earlier one. The per-job directory is made on demand (a rename into it
 * decides nothing, unlike an order's). A crash leaves at most a stale
 * tmp/STAMP.art file, which spool_recover removes as any other.
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

void artifact_caps_default(struct artifact_caps *c)
{
	c->file_max = ARTIFACT_FILE_MAX;
	c->total_max = ARTIFACT_TOTAL_MAX;
	c->count_max = ARTIFACT_COUNT_MAX;
}

int artifact_name_check(const char *name, char *why, size_t whylen)
{
	size_t n = strlen(name), i;
	const char *msg = NULL;

	if (!n)
		msg = "empty name";
	else if (n > ARTIFACT_NAME_MAX)
		msg = "name longer than 128 bytes";
	else if (strchr(name, '/'))
		msg = "name contains '/' (subdirectories are not kept)";
	else if (strstr(name, ".."))
		msg = "name contains '..'";
	else if (name[0] == '.' || name[0] == '-')
		msg = "name starts with '.' or '-'";
	for (i = 0; !msg && i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._+=,@-", c)))
			msg = "name has a character outside [A-Za-z0-9._+=,@-]";
	}
	if (!msg)
		return 0;
	if (whylen)
		snprintf(why, whylen, "%s", msg);
	return -EINVAL;
}

/* artifacts/FF/ID, made when missing (and its parent synced). */
static int job_dir(struct spool *sp, const char *top, const char *id, char *out,
		   size_t cap, int make)
{
	char fan[3], p[SP_PATH_MAX];
	int made = 0;

	sp_fan(id, fan);
	snprintf(out, cap, "%s/%s/%s", top, fan, id);
	if (!make)
		return 0;
	if (mkdirat(sp->root, top, 0755) == 0)
		made = 1;
	else if (errno != EEXIST)
		return -errno;
	snprintf(p, sizeof(p), "%s/%s", top, fan);
	if (mkdirat(sp->root, p, 0755) == 0)
		made = 1;
	else if (errno != EEXIST)
		return -errno;
	if (mkdirat(sp->root, out, 0755) == 0)
		made = 1;
	else if (errno != EEXIST)
		return -errno;
	if (made && !sp->nosync) {
		int fd;

		/* the new directories' entries: the job's dir and the fan */
		if ((fd = openat(sp->root, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			sys_fsync(fd);
			close(fd);
		}
		if ((fd = openat(sp->root, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			sys_fsync(fd);
			close(fd);
		}
	}
	return 0;
}

static int check_job(struct spool *sp, const char *id)
{
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad job id '%.40s'", id);
	/* only ENOENT is "no job": a stat that failed (EIO) must not read as
	 * "no checkpoint", or the next attempt starts from nothing */
	if ((r = spool_job_exists(sp, id)) < 0)
		return sp_fail(sp, r == -ESTALE ? -EIO : r, "cannot tell whether job '%s' exists: %s",
			       id, strerror(-r));
	if (r == 0)
		return sp_fail(sp, -ENOENT, "no job '%s'", id);
	return 0;
}

int spool_artifact_usage(struct spool *sp, const char *id, const char *skip,
			 int *count, uint64_t *bytes)
{
	char dir[SP_PATH_MAX];
	struct dirent *e;
	DIR *d;
	int fd;

	*count = 0;
	*bytes = 0;
	job_dir(sp, "artifacts", id, dir, sizeof(dir), 0);
	if ((fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.' || (skip && !strcmp(e->d_name, skip)))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		(*count)++;
		*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return 0;
}

int spool_artifact_put(struct spool *sp, const char *id, const char *name,
		       const void *data, size_t len, const struct artifact_caps *caps)
{
	char dir[SP_PATH_MAX], dest[SP_PATH_MAX + ARTIFACT_NAME_MAX + 2], tmp[96];
	char stamp[SPOOL_ID_LEN + 1], why[96];
	uint64_t bytes;
	int r, n, fd;

	if ((r = check_job(sp, id)) < 0)
		return r;
	if (artifact_name_check(name, why, sizeof(why)) < 0)
		return sp_fail(sp, -EINVAL, "artifact '%.140s': %s", name, why);
	if ((uint64_t)len > caps->file_max)
		return sp_fail(sp, -EFBIG, "artifact '%s' of %zu bytes is over the cap "
			       "of %llu bytes a file", name, len,
			       (unsigned long long)caps->file_max);
	if ((r = spool_artifact_usage(sp, id, name, &n, &bytes)) < 0)
		return sp_fail(sp, r, "cannot list the artifacts of '%s': %s", id, strerror(-r));
	if (n + 1 > caps->count_max)
		return sp_fail(sp, -EMLINK, "artifact '%s': job %s has %d artifacts, "
			       "the cap", name, id, n);
	if (bytes + len > caps->total_max)
		return sp_fail(sp, -EDQUOT, "artifact '%s' of %zu bytes would take job %s "
			       "past its cap of %llu bytes (%llu kept)", name, len, id,
			       (unsigned long long)caps->total_max,
			       (unsigned long long)bytes);
	if ((r = job_dir(sp, "artifacts", id, dir, sizeof(dir), 1)) < 0)
		return sp_fail(sp, r, "cannot make '%s': %s", dir, strerror(-r));
	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "tmp/%s.art", stamp);
	snprintf(dest, sizeof(dest), "%s/%s", dir, name);
	if ((fd = openat(sp->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return sp_fail(sp, -errno, "cannot create '%s': %s", tmp, strerror(errno));
	r = sys_write_all(fd, data, len);
	if (r == 0 && !sp->nosync)
		r = sys_fsync(fd);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0)
		r = sys_rename(sp->root, tmp, dest);
	if (r < 0) {
		unlinkat(sp->root, tmp, 0);
		return sp_fail(sp, r, "cannot store artifact '%s' of '%s': %s", name, id,
			       strerror(-r));
	}
	if (!sp->nosync) {
		if ((fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return sp_fail(sp, -errno, "cannot open '%s': %s", dir, strerror(errno));
		r = sys_fsync(fd);
		close(fd);
		if (r < 0)
			return sp_fail(sp, r, "cannot sync '%s': %s", dir, strerror(-r));
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spool_artifact_list(struct spool *sp, const char *id, struct buf *out)
{
	char dir[SP_PATH_MAX], **v = NULL;
	size_t n = 0, i, k = 0;
	struct buf f;
	int r;

	if ((r = check_job(sp, id)) < 0)
		return r;
	job_dir(sp, "artifacts", id, dir, sizeof(dir), 0);
	r = sp_dir_names(sp, dir, NULL, &v, &n);
	if (r == -ENOENT)
		return buf_puts(out, "[]");
	if (r < 0)
		return sp_fail(sp, r, "cannot list '%s': %s", dir, strerror(-r));
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	buf_init(&f, ARTIFACT_FILE_MAX > ARTIFACT_TOTAL_MAX ? ARTIFACT_FILE_MAX
			: ARTIFACT_TOTAL_MAX);
	if ((r = buf_puts(out, "[")) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		char p[SP_PATH_MAX + ARTIFACT_NAME_MAX + 2], hex[65];
		unsigned char h[32];
		int j;

		if (v[i][0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, v[i]);
		if ((r = sys_read_file(&f, sp->root, p)) == -ENOENT || r == -EINVAL) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		sha256(f.data ? f.data : "", f.len, h);
		for (j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", h[j]);
		if ((r = buf_puts(out, k++ ? ",\n {\"name\": " : "\n {\"name\": ")) < 0 ||
		    (r = buf_json_str(out, v[i], strlen(v[i]))) < 0 ||
		    (r = buf_printf(out, ", \"size\": %zu, \"sha256\": \"%s\"}", f.len, hex)) < 0)
			break;
	}
	if (r == 0)
		r = buf_puts(out, k ? "\n]" : "]");
out:
	buf_release(&f);
	sp_names_free(v, n);
	if (r < 0)
		return sp_fail(sp, r, "cannot list the artifacts of '%s': %s", id, strerror(-r));
	return 0;
}

int spool_artifact_read(struct spool *sp, const char *id, const char *name,
			struct buf *b)
{
	char dir[SP_PATH_MAX], p[SP_PATH_MAX + ARTIFACT_NAME_MAX + 2], why[96];
	int r;

	if ((r = check_job(sp, id)) < 0)
		return r;
	if (artifact_name_check(name, why, sizeof(why)) < 0)
		return sp_fail(sp, -EINVAL, "artifact '%.140s': %s", name, why);
	job_dir(sp, "artifacts", id, dir, sizeof(dir), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((r = sys_read_file(b, sp->root, p)) == -ENOENT)
		return sp_fail(sp, r, "job %s has no artifact '%s'", id, name);
	if (r < 0)
		return sp_fail(sp, r, "cannot read artifact '%s' of '%s': %s", name, id,
			       strerror(-r));
	return 0;
}

/* The checkpoint code's too: artifact.c owns the per-job directories. */
int sp_files_dir(struct spool *sp, const char *top, const char *id, char *out,
		 size_t cap, int make)
{
	return job_dir(sp, top, id, out, cap, make);
}

int sp_files_job(struct spool *sp, const char *id)
{
	return check_job(sp, id);
}

int artifact_walk(int dfd, const struct artifact_caps *caps,
		  int (*fn)(void *arg, const char *name, const void *data, size_t len,
			    char *why, size_t whylen),
		  void *arg, struct buf *notes, int whole, int *kept, uint64_t *bytes)
{
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0, i;
	struct buf f;
	DIR *d;
	int fd, r = 0;

	*kept = 0;
	*bytes = 0;
	if ((fd = dup(dfd)) < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	for (errno = 0; (e = readdir(d)); errno = 0) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (sp_reserve(&v, &cap, n + 1, sizeof(*v)) < 0 ||
		    !(v[n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (!r && !e && errno && whole)
		r = -errno;	/* a listing cut short (ESTALE) is not the directory */
	closedir(d);
	if (r < 0)
		goto out;
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	buf_init(&f, caps->file_max > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)caps->file_max);
	for (i = 0; i < n; i++) {
		char why[200] = "";
		struct stat st;
		int rr;

		if (fstatat(dfd, v[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || !whole)
				continue;	/* gone meanwhile */
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode))
			snprintf(why, sizeof(why), "a subdirectory: only files at the top "
				 "of the directory are kept");
		else if (!S_ISREG(st.st_mode))
			snprintf(why, sizeof(why), "not a regular file");
		else if (artifact_name_check(v[i], why, sizeof(why)) < 0)
			;
		else if ((uint64_t)st.st_size > caps->file_max)
			snprintf(why, sizeof(why), "%lld bytes, over the cap of %llu bytes a file",
				 (long long)st.st_size, (unsigned long long)caps->file_max);
		else if (*kept >= caps->count_max)
			snprintf(why, sizeof(why), "over the cap of %d files", caps->count_max);
		else if (*bytes + (uint64_t)st.st_size > caps->total_max)
			snprintf(why, sizeof(why), "%lld bytes would pass the cap of %llu bytes "
				 "in all (%llu kept)", (long long)st.st_size,
				 (unsigned long long)caps->total_max, (unsigned long long)*bytes);
		else if ((rr = sys_read_file(&f, dfd, v[i])) < 0 && rr != -ENOENT && whole) {
			r = rr;	/* the file is there: the walk is not whole without it */
			break;
		} else if (rr < 0)
			snprintf(why, sizeof(why), "cannot read it: %s", strerror(-rr));
		else if (fn(arg, v[i], f.data ? f.data : "", f.len, why, sizeof(why)) != 0) {
			if (!why[0])
				snprintf(why, sizeof(why), "refused");
		} else {
			(*kept)++;
			*bytes += f.len;
			continue;
		}
		if (notes) {
			char shown[ARTIFACT_NAME_MAX + 17];
			size_t j;

			/* the note is JSON: a name of any bytes is shown in ASCII */
			snprintf(shown, sizeof(shown), "%s", v[i]);
			for (j = 0; shown[j]; j++)
				if ((unsigned char)shown[j] < 0x20 || (unsigned char)shown[j] >= 0x7f)
					shown[j] = '?';
			if (notes->len)
				buf_puts(notes, ", ");
			buf_puts(notes, "{\"name\": ");
			buf_json_str(notes, shown, strlen(shown));
			buf_puts(notes, ", \"why\": ");
			buf_json_str(notes, why, strlen(why));
			buf_puts(notes, "}");
		}
	}
	buf_release(&f);
out:
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}
