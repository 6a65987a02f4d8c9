/*
 * log: the stdout and stderr of each attempt, kept as logs/FF/ID.AAA.log.
 * A log is capped at SPOOL_LOG_MAX; what is cut is marked, never silent.
 * A live log is appended while its run lasts (spool_log_append, by offset),
 * then put whole at the end; the whole log starts with what was appended.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int spool_log_put(struct spool *sp, const char *id, int attempt,
		  const void *data, size_t len)
{
	char dest[SP_PATH_MAX], tmp[96], fan[3], stamp[SPOOL_ID_LEN + 1];
	char mark[96];
	struct buf b;
	int r;

	if (!id_valid(id) || attempt < 0 || attempt > SPOOL_ATTEMPTS_MAX)
		return sp_fail(sp, -EINVAL, "bad order id or attempt for a log");
	sp_fan(id, fan);
	snprintf(dest, sizeof(dest), "logs/%s/%s.%03d.log", fan, id, attempt);
	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "%s.log", stamp);
	if (len <= SPOOL_LOG_MAX)
		return sp_end(sp, sp_stage(sp, tmp, data, len, dest, PUB_RENAME, 0, 0));
	buf_init(&b, SPOOL_LOG_MAX + sizeof(mark));
	snprintf(mark, sizeof(mark), "\n[spool: log truncated at %d bytes]\n", SPOOL_LOG_MAX);
	r = buf_add(&b, data, SPOOL_LOG_MAX);
	if (r == 0)
		r = buf_puts(&b, mark);
	if (r == 0)
		r = sp_stage(sp, tmp, b.data, b.len, dest, PUB_RENAME, 0, 0);
	buf_release(&b);
	return sp_end(sp, r);
}

int spool_log_read(struct spool *sp, const char *id, struct buf *b)
{
	char path[SP_PATH_MAX], fan[3];
	struct buf one;
	int a, found = 0, r = 0;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s'", id);
	sp_fan(id, fan);
	buf_init(&one, SPOOL_LOG_MAX + 128);
	for (a = 0; a <= SPOOL_ATTEMPTS_MAX; a++) {
		snprintf(path, sizeof(path), "logs/%s/%s.%03d.log", fan, id, a);
		r = buf_read_file(&one, sp->root, path);
		if (r == -ENOENT) {
			r = 0;
			/* attempts run 1, 2, 3...: the first gap after a log ends them */
			if (found || a > 1)
				break;
			continue;
		}
		if (r < 0)
			break;
		found++;
		if ((r = buf_printf(b, "=== attempt %d ===\n", a)) < 0 ||
		    (r = buf_add(b, one.data, one.len)) < 0)
			break;
		if (one.len && one.data[one.len - 1] != '\n' && (r = buf_puts(b, "\n")) < 0)
			break;
	}
	buf_release(&one);
	if (r < 0)
		return sp_fail(sp, r, "cannot read logs of '%s': %s", id, strerror(-r));
	return found ? 0 : sp_fail(sp, -ENOENT, "no logs for order '%s'", id);
}

/* ---- live: appended while the run lasts ------------------------------------ */

int sp_append_capped(struct spool *sp, const char *path, int64_t off, const void *data,
		     size_t len, size_t cap, const char *mark, int64_t *size)
{
	struct stat st;
	int fd, r = 0;

	if (size)
		*size = 0;
	fd = openat(sp->root, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* one writer at a time: the offset check and the write are one step */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		/* capped (the mark is there): taken, and dropped */
	} else if (off >= 0 && (off > st.st_size ||
				(off < st.st_size && (uint64_t)off + len > (uint64_t)st.st_size))) {
		r = -ESPIPE;
	} else if (off >= 0 && (uint64_t)off + len <= (uint64_t)st.st_size) {
		/* a retry of what is there already */
	} else {
		size_t room = cap - (size_t)st.st_size, k = len < room ? len : room;
		const char *p = data;

		while (k) {
			ssize_t w = write(fd, p, k);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = -errno;
				goto out;
			}
			p += w;
			k -= (size_t)w;
		}
		if (len > room && write(fd, mark, strlen(mark)) < 0)
			r = -errno;
	}
	if (size && fstat(fd, &st) == 0)
		*size = st.st_size;
out:
	close(fd);	/* and the lock with it */
	return r;
}

int spool_log_append(struct spool *sp, const char *id, int attempt, int64_t off,
		     const void *data, size_t len, int64_t *size)
{
	char path[SP_PATH_MAX], fan[3], mark[96];
	int r;

	if (!id_valid(id) || attempt < 1 || attempt > SPOOL_ATTEMPTS_MAX || off < -1)
		return sp_fail(sp, -EINVAL, "bad order id, attempt or offset for a log");
	sp_fan(id, fan);
	snprintf(path, sizeof(path), "logs/%s/%s.%03d.log", fan, id, attempt);
	/* the same marker spool_log_put writes: a log put whole after its live
	 * appends reads the same */
	snprintf(mark, sizeof(mark), "\n[spool: log truncated at %d bytes]\n", SPOOL_LOG_MAX);
	r = sp_append_capped(sp, path, off, data, len, SPOOL_LOG_MAX, mark, size);
	if (r < 0 && r != -ESPIPE)
		return sp_fail(sp, r, "cannot append to '%s': %s", path, strerror(-r));
	return r;
}

int spool_log_read_at(struct spool *sp, const char *id, int attempt, int64_t off,
		      size_t max, struct buf *b, int64_t *size)
{
	char path[SP_PATH_MAX], fan[3];
	struct stat st;
	int fd, r = 0;

	*size = 0;
	if (!id_valid(id) || attempt < 1 || attempt > SPOOL_ATTEMPTS_MAX || off < 0)
		return sp_fail(sp, -EINVAL, "bad order id, attempt or offset for a log");
	sp_fan(id, fan);
	snprintf(path, sizeof(path), "logs/%s/%s.%03d.log", fan, id, attempt);
	if ((fd = openat(sp->root, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	*size = st.st_size;
	if (off > st.st_size) {
		r = -ERANGE;
		goto out;
	}
	if ((uint64_t)(st.st_size - off) < max)
		max = (size_t)(st.st_size - off);
	while (max) {
		char chunk[16384];
		ssize_t n = pread(fd, chunk, max < sizeof(chunk) ? max : sizeof(chunk), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if ((r = buf_add(b, chunk, (size_t)n)) < 0)
			break;
		off += n;
		max -= (size_t)n;
	}
out:
	close(fd);
	return r;
}

int spool_log_last_attempt(struct spool *sp, const char *id)
{
	char path[SP_PATH_MAX], fan[3];
	int a, last = 0;

	if (!id_valid(id))
		return 0;
	sp_fan(id, fan);
	for (a = 1; a <= SPOOL_ATTEMPTS_MAX; a++) {
		int have;

		snprintf(path, sizeof(path), "logs/%s/%s.%03d.log", fan, id, a);
		have = sp_exists(sp, path) == 1;
		if (!have) {
			snprintf(path, sizeof(path), "logs/%s/%s.%03d.series", fan, id, a);
			have = sp_exists(sp, path) == 1;
		}
		if (have)
			last = a;
		else if (last || a > 1)
			break;	/* attempts run 1, 2, 3...: the first gap ends them */
	}
	return last;
}
