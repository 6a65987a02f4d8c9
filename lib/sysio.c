/*
 * sysio: the few system calls that make the spool durable, behind a seam.
 *
 * Tests make write, fsync, rename, link, a whole-file read or an existence
 * check (sys_exists) fail (ENOSPC, EIO) to run the error
 * paths for real: sys_fault_set() from C, or SPOOL_FAULT="op:nth:ERR" in the
 * environment of any program linked with the library. ERR KILL makes the
 * process SIGKILL itself at that call instead: the state a crash leaves at
 * exactly that instant, for the crash tests. This process-wide
 * fault plan is the only mutable global of the library, and exists for tests.
 *
 * The calls are also made as a shared file system needs (spool-layout.md,
 * "Shared file systems"): an NFS client that retransmits a rename or a link
 * whose reply was lost can be told ENOENT or EEXIST although the first try
 * was made, and a file handle can go stale (ESTALE) under a reader. Each
 * call here tells such a made change from a failed one by looking at its
 * destination, so no caller has to.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

enum { F_WRITE, F_FSYNC, F_RENAME, F_LINK, F_READ, F_STAT, F_COUNT };
#define FAULT_KILL (-1)	/* not an errno: die at this call */
static const char *const fault_ops[F_COUNT] = { "write", "fsync", "rename", "link", "read", "stat" };

static struct {
	int armed[F_COUNT];
	long countdown[F_COUNT];	/* calls left before failing */
	int err[F_COUNT];
} faults;
static pthread_once_t fault_env_once = PTHREAD_ONCE_INIT;

void sys_fault_set(const char *op, int nth, int err)
{
	int i;

	for (i = 0; i < F_COUNT; i++)
		if (strcmp(op, fault_ops[i]) == 0) {
			faults.armed[i] = 1;
			faults.countdown[i] = nth > 0 ? nth - 1 : 0;
			faults.err[i] = err;
		}
}

void sys_fault_clear(void)
{
	memset(faults.armed, 0, sizeof(faults.armed));
}

static void fault_env_read(void)
{
	const char *e = getenv("SPOOL_FAULT");
	char op[16], name[16];
	int nth;

	if (!e || sscanf(e, "%15[a-z]:%d:%15[A-Z]", op, &nth, name) != 3)
		return;
	sys_fault_set(op, nth, strcmp(name, "EIO") == 0 ? EIO :
			       strcmp(name, "KILL") == 0 ? FAULT_KILL : ENOSPC);
}

void sys_fault_env(void)
{
	/* slots of a runner open their spools at once: read it once */
	pthread_once(&fault_env_once, fault_env_read);
}

/* Should this call of op fail? Then with which errno. */
static int fault(int op)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	int e = 0;

	if (!faults.armed[op])
		return 0;
	/* fsyncs run on several threads at once (sys_fsync_all) */
	pthread_mutex_lock(&mu);
	if (faults.countdown[op] > 0)
		faults.countdown[op]--;
	else
		e = faults.err[op];
	pthread_mutex_unlock(&mu);
	if (e == FAULT_KILL)
		kill(getpid(), SIGKILL);
	return e;
}

int sys_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	int f = fault(F_WRITE);

	if (f) {
		/* a full disk often takes part of the data first */
		if (n > 1 && write(fd, c, n / 2) < 0)
			return -errno;
		return -f;
	}
	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int sys_fsync(int fd)
{
	int f = fault(F_FSYNC);

	if (f)
		return -f;
	return fsync(fd) < 0 ? -errno : 0;
}

int sys_syncfs(int fd)
{
	int f = fault(F_FSYNC);	/* the same seam: it is the durability call */

	if (f)
		return -f;
	return syncfs(fd) < 0 ? -errno : 0;
}

/*
 * The spool's destination names are unique to the change (a claim's token,
 * a tmp/ name, a due time in ms), so after an ENOENT a destination that
 * exists is the rename itself, made by a first try whose reply was lost.
 */
static int made_anyway(int dirfd, const char *to)
{
	struct stat st;

	return fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* After EEXIST: is to the very file from (the link was made)? */
static int same_file(int dirfd, const char *from, const char *to)
{
	struct stat a, b;

	return fstatat(dirfd, from, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(dirfd, to, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int sys_rename(int dirfd, const char *from, const char *to)
{
	int f = fault(F_RENAME);

	if (f)
		return -f;
	if (renameat(dirfd, from, dirfd, to) == 0)
		return 0;
	f = errno;
	return f == ENOENT && made_anyway(dirfd, to) ? 0 : -f;
}

/* linkat, where EEXIST for a link to the same file means it was made. */
static int link_once(int dirfd, const char *from, const char *to)
{
	int e;

	if (linkat(dirfd, from, dirfd, to, 0) == 0)
		return 0;
	e = errno;
	return e == EEXIST && same_file(dirfd, from, to) ? 0 : -e;
}

int sys_publish_once(int dirfd, const char *from, const char *to)
{
	int f = fault(F_LINK);

	if (f)
		return -f;
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	/* a file system without RENAME_NOREPLACE (NFS): link, then unlink */
	if ((f = link_once(dirfd, from, to)) < 0)
		return f;
	unlinkat(dirfd, from, 0);
	return 0;
}

int sys_link(int dirfd, const char *from, const char *to)
{
	int f = fault(F_LINK);

	if (f)
		return -f;
	return link_once(dirfd, from, to);
}

int sys_exists(int dirfd, const char *path)
{
	struct stat st;
	int f = fault(F_STAT);

	if (f)
		return -f;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int sys_read_file(struct buf *b, int dirfd, const char *path)
{
	int i, r = -ESTALE, f = fault(F_READ);

	if (f)
		return -f;	/* a bad sector, a lost NFS server */
	/* a stale handle is the file's old self: a fresh open by path finds
	 * it where it is now, or says ENOENT */
	for (i = 0; i < SYS_STALE_TRIES && r == -ESTALE; i++)
		r = buf_read_file(b, dirfd, path);
	return r == -ESTALE ? -EIO : r;
}
