/*
 * workdir: the per-run work directories below the runner's work root, and
 * the mending of what dead runners left there.
 *
 * A run's directory ROOT/ID.ATTEMPT comes with a lock file ROOT/.ID.ATTEMPT.lock
 * that its runner holds (flock) for as long as the run lasts. A runner that
 * dies, however it dies, drops its locks with its descriptors; the next
 * runner started on the same root finds the directories whose lock it can
 * take and removes them (workdir_sweep). A directory without a lock file
 * (--keep-workdirs, or an older runner's) is left alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *f)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int workdir_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

int dir_make_p(const char *path)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ROOT/.NAME.lock for the run directory ROOT/NAME. */
static int lock_path(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (!slash)
		return -EINVAL;
	n = snprintf(out, cap, "%.*s/.%s.lock", (int)(slash - path), path, slash + 1);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int workdir_make(const char *path, int *lock)
{
	char lp[PATH_MAX];
	int r, fd;

	*lock = -1;
	if ((r = lock_path(path, lp, sizeof(lp))) < 0)
		return r;
	/* locked before the directory exists, so a sweep never sees it unlocked */
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = workdir_remove(path)) < 0 || (mkdir(path, 0755) < 0 && (r = -errno))) {
		unlink(lp);
		close(fd);
		return r;
	}
	*lock = fd;
	return 0;
}

void workdir_done(const char *path, int lock, int keep)
{
	char lp[PATH_MAX];

	if (!keep)
		workdir_remove(path);
	if (lock >= 0) {
		if (lock_path(path, lp, sizeof(lp)) == 0)
			unlink(lp);
		close(lock);
	}
}

int workdir_sweep(const char *root)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!(d = opendir(root)))
		return -errno;
	while ((e = readdir(d))) {
		char run[PATH_MAX], lp[PATH_MAX];
		size_t len = strlen(e->d_name);
		int fd;

		if (e->d_name[0] != '.' || len < 7 || strcmp(e->d_name + len - 5, ".lock") ||
		    snprintf(run, sizeof(run), "%s/%.*s", root, (int)(len - 6),
			     e->d_name + 1) >= (int)sizeof(run) ||
		    snprintf(lp, sizeof(lp), "%s/%s", root, e->d_name) >= (int)sizeof(lp))
			continue;
		if ((fd = open(lp, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* its runner is gone: nobody else holds it */
			if (workdir_remove(run) == 0)
				n++;
			unlink(lp);
		}
		close(fd);
	}
	closedir(d);
	return n;
}
