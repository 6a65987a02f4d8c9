/*
 * nfsfs: a pass-through FUSE file system that behaves like an NFS client
 * where it matters to a spool, for the tests (there is no NFS here).
 *
 *   nfsfs BACKING MOUNTPOINT [--attr-ms N] [--neg-ms N] [--dir-ms N] [--ctl FILE]
 *         [--stats FILE] [--fault RULE]... [--seed N]
 *
 * Each mount of one backing directory is one NFS client:
 * - a change made through one mount reaches the other only through the
 *   backing directory, so it raises no inotify event there;
 * - the kernel keeps attributes and names for --attr-ms, and names found
 *   missing for --neg-ms (default 0: an NFS client looks a missing name up
 *   again once it sees that the directory changed, as it does after its
 *   own rename, which FUSE cannot tell the kernel); this file system serves
 *   a directory's listing from its own copy for --dir-ms, unless this mount
 *   changed that directory itself (as an NFS client drops its cache on its
 *   own changes);
 * - renameat2 with any flag (RENAME_NOREPLACE) fails with EINVAL, as on
 *   NFS; link(2) works;
 * - faults: a RULE is "OP KIND WHEN [MS]", from --fault or a line of the
 *   control file (re-read when it changes, its rules replacing the last):
 *     rename enoent-after  the rename is made, then ENOENT is answered
 *                          (a retransmitted request whose reply was lost)
 *     link eexist-after    the link is made, then EEXIST is answered
 *     unlink enoent-after  the unlink is made, then ENOENT is answered
 *     OP estale            OP fails with ESTALE and is not made
 *     OP delay MS          OP waits MS milliseconds first (a slow fsync),
 *                          or until the control file is next loaded
 *   OP is one of open read getattr readdir rename link unlink fsync;
 *   WHEN is 1/N (each call with chance 1/N), #N (the Nth call of OP since
 *   the rules were loaded) or always.
 * --stats FILE gets one line per rule, "OP KIND WHEN fired N", and one per
 * operation, "calls OP N", each time a fault fires and at unmount.
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum op { OP_OPEN, OP_READ, OP_GETATTR, OP_READDIR, OP_RENAME, OP_LINK, OP_UNLINK, OP_FSYNC, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"open", "read", "getattr", "readdir", "rename", "link", "unlink", "fsync",
};
enum kind { K_ENOENT_AFTER, K_EEXIST_AFTER, K_ESTALE, K_DELAY };
static const char *const kind_names[] = { "enoent-after", "eexist-after", "estale", "delay" };

#define RULES_MAX 32
struct rule {
	enum op op;
	enum kind kind;
	long every;		/* 1/N: chance; 0 with nth */
	long nth;		/* #N */
	int always;
	int ms;
	long fired;
	char text[80];
};

/* A cached listing of one directory. */
struct listing {
	char *dir;
	char **names;
	unsigned char *types;
	ino_t *inos;
	size_t n;
	int64_t at_ms;
	struct listing *next;
};

static struct {
	int bfd;			/* the backing directory */
	const char *backing;
	double attr_s, neg_s;
	int64_t dir_ms;
	const char *ctl, *stats;
	pthread_mutex_t lock;		/* everything below */
	struct rule rules[RULES_MAX];
	int nrules, ncmdline;
	long calls[OP_COUNT], since_load[OP_COUNT];
	uint64_t rng;
	struct timespec ctl_mtime;
	ino_t ctl_ino;
	int64_t ctl_checked;
	long ctl_loads;			/* times the control file was loaded */
	struct listing *cache;
} g;

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* "/a/b" -> "a/b", "/" -> "." (relative to the backing directory) */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* ---- faults ---------------------------------------------------------- */

static int parse_rule(const char *line, struct rule *r)
{
	char op[16], kind[16], when[24];
	int i, n, ms = 0;

	n = sscanf(line, "%15s %15s %23s %d", op, kind, when, &ms);
	if (n < 3)
		return -1;
	memset(r, 0, sizeof(*r));
	for (i = 0; i < OP_COUNT && strcmp(op, op_names[i]); i++)
		;
	if (i == OP_COUNT)
		return -1;
	r->op = (enum op)i;
	for (i = 0; i < 4 && strcmp(kind, kind_names[i]); i++)
		;
	if (i == 4 || (i == K_DELAY && (n < 4 || ms <= 0 || ms > 60000)))
		return -1;
	r->kind = (enum kind)i;
	if ((r->kind == K_ENOENT_AFTER && r->op != OP_RENAME && r->op != OP_UNLINK) ||
	    (r->kind == K_EEXIST_AFTER && r->op != OP_LINK))
		return -1;
	r->ms = ms;
	if (strcmp(when, "always") == 0)
		r->always = 1;
	else if (when[0] == '#' && (r->nth = atol(when + 1)) > 0)
		;
	else if (strncmp(when, "1/", 2) == 0 && (r->every = atol(when + 2)) > 0)
		;
	else
		return -1;
	snprintf(r->text, sizeof(r->text), "%s %s %s", op, kind, when);
	return 0;
}

static void write_stats_locked(void)
{
	char tmp[PATH_MAX];
	FILE *f;
	int i;

	if (!g.stats)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.stats);
	if (!(f = fopen(tmp, "w")))
		return;
	for (i = 0; i < g.nrules; i++)
		fprintf(f, "%s fired %ld\n", g.rules[i].text, g.rules[i].fired);
	for (i = 0; i < OP_COUNT; i++)
		fprintf(f, "calls %s %ld\n", op_names[i], g.calls[i]);
	if (fclose(f) == 0)
		rename(tmp, g.stats);
}

/* Re-read the control file when it changed (looked at every 50 ms at most). */
static void ctl_refresh_locked(void)
{
	struct stat st;
	char line[128];
	FILE *f;
	int64_t now = mono_ms();
	int i;

	if (!g.ctl || now - g.ctl_checked < 50)
		return;
	g.ctl_checked = now;
	if (stat(g.ctl, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (st.st_ino == g.ctl_ino && st.st_mtim.tv_sec == g.ctl_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == g.ctl_mtime.tv_nsec)
		return;
	g.ctl_ino = st.st_ino;
	g.ctl_mtime = st.st_mtim;
	g.ctl_loads++;
	g.nrules = g.ncmdline;
	for (i = 0; i < OP_COUNT; i++)
		g.since_load[i] = 0;
	if (!(f = fopen(g.ctl, "r")))
		return;
	while (fgets(line, sizeof(line), f) && g.nrules < RULES_MAX) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_rule(line, &g.rules[g.nrules]) == 0)
			g.nrules++;
		else
			fprintf(stderr, "nfsfs: %s: bad rule: %s", g.ctl, line);
	}
	fclose(f);
	write_stats_locked();	/* a test knows the rules are on */
}

static uint64_t rnd_locked(void)
{
	/* xorshift64*: reproducible from --seed */
	g.rng ^= g.rng >> 12;
	g.rng ^= g.rng << 25;
	g.rng ^= g.rng >> 27;
	return g.rng * 2685821657736338717ULL;
}

/*
 * Count a call of op; the fault that hits it, if any: its kind (-1: none),
 * with *ms for a delay.
 */
static int fault(enum op op, int *ms)
{
	int i, hit = -1;
	long k;

	pthread_mutex_lock(&g.lock);
	ctl_refresh_locked();
	g.calls[op]++;
	k = ++g.since_load[op];
	for (i = 0; i < g.nrules && hit < 0; i++) {
		struct rule *r = &g.rules[i];

		if (r->op != op)
			continue;
		if (r->always || (r->nth && r->nth == k) ||
		    (r->every && rnd_locked() % (uint64_t)r->every == 0)) {
			r->fired++;
			hit = (int)r->kind;
			if (ms)
				*ms = r->ms;
			write_stats_locked();
		}
	}
	pthread_mutex_unlock(&g.lock);
	return hit;
}

/*
 * Wait ms milliseconds, in 50 ms steps, or until new rules are loaded: a
 * test that lifts a delay need not wait out the calls already delayed.
 */
static void delay(int ms)
{
	long loads;
	int64_t end = mono_ms() + ms;

	pthread_mutex_lock(&g.lock);
	loads = g.ctl_loads;
	pthread_mutex_unlock(&g.lock);
	for (;;) {
		int64_t left = end - mono_ms();
		struct timespec t = { 0, 50 * 1000000L };
		int changed;

		if (left <= 0)
			return;
		if (left < 50)
			t.tv_nsec = (long)left * 1000000L;
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&g.lock);
		ctl_refresh_locked();
		changed = g.ctl_loads != loads;
		pthread_mutex_unlock(&g.lock);
		if (changed)
			return;
	}
}

/* The faults that fail an op before it is made: ESTALE, or a delay first. */
static int before(enum op op, int *kind)
{
	int ms = 0, k = fault(op, &ms);

	if (kind)
		*kind = k;
	if (k == K_ESTALE)
		return -ESTALE;
	if (k == K_DELAY)
		delay(ms);
	return 0;
}

/* ---- the listing cache ---------------------------------------------- */

static void listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->types);
	free(l->inos);
	free(l->dir);
	free(l);
}

/* This mount changed directory dir: its own next listing is fresh. */
static void dir_changed(const char *path)
{
	char d[PATH_MAX];
	char *slash;
	struct listing **p;

	snprintf(d, sizeof(d), "%s", rel(path));
	slash = strrchr(d, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(d, ".");
	pthread_mutex_lock(&g.lock);
	for (p = &g.cache; *p; p = &(*p)->next)
		if (strcmp((*p)->dir, d) == 0) {
			struct listing *l = *p;

			*p = l->next;
			listing_free(l);
			break;
		}
	pthread_mutex_unlock(&g.lock);
}

static struct listing *list_backing(const char *dir)
{
	struct listing *l = calloc(1, sizeof(*l));
	size_t cap = 0;
	struct dirent *e;
	DIR *d;
	int fd;

	if (!l)
		return NULL;
	if ((fd = openat(g.bfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		free(l);
		errno = err;
		return NULL;
	}
	while ((e = readdir(d))) {
		if (l->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nn = realloc(l->names, nc * sizeof(*nn));
			unsigned char *nt;
			ino_t *ni;

			if (nn)
				l->names = nn;
			nt = nn ? realloc(l->types, nc) : NULL;
			if (nt)
				l->types = nt;
			ni = nt ? realloc(l->inos, nc * sizeof(*ni)) : NULL;
			if (!ni)
				break;
			l->inos = ni;
			cap = nc;
		}
		if (!(l->names[l->n] = strdup(e->d_name)))
			break;
		l->types[l->n] = e->d_type;
		l->inos[l->n++] = e->d_ino;
	}
	closedir(d);
	l->dir = strdup(dir);
	l->at_ms = mono_ms();
	if (!l->dir) {
		listing_free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

static int nfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	const char *dir = rel(path);
	struct listing *l, **p;
	size_t i;
	int r;

	if ((r = before(OP_READDIR, NULL)) < 0)
		return r;
	pthread_mutex_lock(&g.lock);
	for (p = &g.cache; *p && strcmp((*p)->dir, dir) != 0; p = &(*p)->next)
		;
	l = *p;
	if (l && mono_ms() - l->at_ms >= g.dir_ms) {
		*p = l->next;
		listing_free(l);
		l = NULL;
	}
	if (!l) {
		pthread_mutex_unlock(&g.lock);
		if (!(l = list_backing(dir)))
			return -errno;
		pthread_mutex_lock(&g.lock);
		if (g.dir_ms > 0) {
			l->next = g.cache;
			g.cache = l;
		}
	}
	for (i = 0; i < l->n; i++) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_mode = (mode_t)DTTOIF(l->types[i]);
		st.st_ino = l->inos[i];	/* with use_ino: 0 would hide the name */
		if (fill(buf, l->names[i], &st, 0, 0))
			break;
	}
	if (g.dir_ms <= 0)
		listing_free(l);
	pthread_mutex_unlock(&g.lock);
	return 0;
}

/* ---- pass-through ---------------------------------------------------- */

/* An open file; a handle that went stale stays stale, as an NFS handle. */
struct ofile {
	int fd;
	int stale;
};
#define OF(fi) ((struct ofile *)(uintptr_t)(fi)->fh)
#define FD(fi) (OF(fi)->fd)
/* (a directory's handle is 0: there is no opendir) */
#define HAS_FD(fi) ((fi) && (fi)->fh)

static int ofile_new(struct fuse_file_info *fi, int fd)
{
	struct ofile *f = calloc(1, sizeof(*f));

	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

static void *nfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;		/* the server's inode numbers, as NFS's fileid */
	cfg->hard_remove = 1;
	cfg->entry_timeout = g.attr_s;
	cfg->attr_timeout = g.attr_s;
	cfg->negative_timeout = g.neg_s;
	cfg->kernel_cache = 0;
	return NULL;
}

static void nfs_destroy(void *data)
{
	pthread_mutex_lock(&g.lock);
	write_stats_locked();
	pthread_mutex_unlock(&g.lock);
}

static int nfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r;

	if ((r = before(OP_GETATTR, NULL)) < 0)
		return r;
	if (HAS_FD(fi))
		r = fstat(FD(fi), st);
	else
		r = fstatat(g.bfd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? -errno : 0;
}

static int nfs_open(const char *path, struct fuse_file_info *fi)
{
	int fd, r;

	if ((r = before(OP_OPEN, NULL)) < 0)
		return r;
	fd = openat(g.bfd, rel(path), fi->flags & ~O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return ofile_new(fi, fd);
}

static int nfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd, r;

	if ((r = before(OP_OPEN, NULL)) < 0)
		return r;
	fd = openat(g.bfd, rel(path), fi->flags | O_CREAT, mode);
	if (fd < 0)
		return -errno;
	dir_changed(path);
	return ofile_new(fi, fd);
}

static int nfs_read(const char *path, char *buf, size_t n, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t r;
	int e;

	/* the kernel retries a failed read-ahead: a stale handle stays stale */
	if (OF(fi)->stale || (e = before(OP_READ, NULL)) < 0) {
		OF(fi)->stale = 1;
		return -ESTALE;
	}
	r = pread(FD(fi), buf, n, off);
	return r < 0 ? -errno : (int)r;
}

static int nfs_write(const char *path, const char *buf, size_t n, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t r = pwrite(FD(fi), buf, n, off);

	return r < 0 ? -errno : (int)r;
}

static int nfs_release(const char *path, struct fuse_file_info *fi)
{
	close(FD(fi));
	free(OF(fi));
	return 0;
}

static int nfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int r;

	if ((r = before(OP_FSYNC, NULL)) < 0)
		return r;
	r = datasync ? fdatasync(FD(fi)) : fsync(FD(fi));
	return r < 0 ? -errno : 0;
}

static int nfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	int fd, r;

	if ((r = before(OP_FSYNC, NULL)) < 0)
		return r;
	if ((fd = openat(g.bfd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int nfs_mkdir(const char *path, mode_t mode)
{
	if (mkdirat(g.bfd, rel(path), mode) < 0)
		return -errno;
	dir_changed(path);
	return 0;
}

static int nfs_rmdir(const char *path)
{
	if (unlinkat(g.bfd, rel(path), AT_REMOVEDIR) < 0)
		return -errno;
	dir_changed(path);
	return 0;
}

static int nfs_unlink(const char *path)
{
	int kind, r;

	if ((r = before(OP_UNLINK, &kind)) < 0)
		return r;
	if (unlinkat(g.bfd, rel(path), 0) < 0)
		return -errno;
	dir_changed(path);
	return kind == K_ENOENT_AFTER ? -ENOENT : 0;
}

static int nfs_rename(const char *from, const char *to, unsigned int flags)
{
	int kind, r;

	if (flags)
		return -EINVAL;		/* NFS has no RENAME_NOREPLACE or EXCHANGE */
	if ((r = before(OP_RENAME, &kind)) < 0)
		return r;
	if (renameat(g.bfd, rel(from), g.bfd, rel(to)) < 0)
		return -errno;
	dir_changed(from);
	dir_changed(to);
	return kind == K_ENOENT_AFTER ? -ENOENT : 0;
}

static int nfs_link(const char *from, const char *to)
{
	int kind, r;

	if ((r = before(OP_LINK, &kind)) < 0)
		return r;
	if (linkat(g.bfd, rel(from), g.bfd, rel(to), 0) < 0)
		return -errno;
	dir_changed(to);
	return kind == K_EEXIST_AFTER ? -EEXIST : 0;
}

static int nfs_symlink(const char *target, const char *path)
{
	if (symlinkat(target, g.bfd, rel(path)) < 0)
		return -errno;
	dir_changed(path);
	return 0;
}

static int nfs_readlink(const char *path, char *buf, size_t n)
{
	ssize_t r = readlinkat(g.bfd, rel(path), buf, n - 1);

	if (r < 0)
		return -errno;
	buf[r] = '\0';
	return 0;
}

static int nfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int r = HAS_FD(fi) ? fchmod(FD(fi), mode) : fchmodat(g.bfd, rel(path), mode, 0);

	return r < 0 ? -errno : 0;
}

static int nfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int r = HAS_FD(fi) ? fchown(FD(fi), uid, gid) :
		     fchownat(g.bfd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);

	return r < 0 ? -errno : 0;
}

static int nfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int r, fd;

	if (HAS_FD(fi))
		return ftruncate(FD(fi), size) < 0 ? -errno : 0;
	if ((fd = openat(g.bfd, rel(path), O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	r = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int nfs_utimens(const char *path, const struct timespec tv[2],
		       struct fuse_file_info *fi)
{
	int r = HAS_FD(fi) ? futimens(FD(fi), tv) :
		     utimensat(g.bfd, rel(path), tv, AT_SYMLINK_NOFOLLOW);

	return r < 0 ? -errno : 0;
}

static int nfs_statfs(const char *path, struct statvfs *st)
{
	return fstatvfs(g.bfd, st) < 0 ? -errno : 0;
}

static int nfs_access(const char *path, int mask)
{
	return faccessat(g.bfd, rel(path), mask, AT_EACCESS) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
	.init = nfs_init,
	.destroy = nfs_destroy,
	.getattr = nfs_getattr,
	.readdir = nfs_readdir,
	.open = nfs_open,
	.create = nfs_create,
	.read = nfs_read,
	.write = nfs_write,
	.release = nfs_release,
	.fsync = nfs_fsync,
	.fsyncdir = nfs_fsyncdir,
	.mkdir = nfs_mkdir,
	.rmdir = nfs_rmdir,
	.unlink = nfs_unlink,
	.rename = nfs_rename,
	.link = nfs_link,
	.symlink = nfs_symlink,
	.readlink = nfs_readlink,
	.chmod = nfs_chmod,
	.chown = nfs_chown,
	.truncate = nfs_truncate,
	.utimens = nfs_utimens,
	.statfs = nfs_statfs,
	.access = nfs_access,
};

static void usage(void)
{
	fprintf(stderr, "usage: nfsfs BACKING MOUNTPOINT [--attr-ms N] [--neg-ms N] [--dir-ms N]\n"
		"             [--ctl FILE] [--stats FILE] [--fault 'OP KIND WHEN [MS]']... [--seed N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *fargv[8];
	int i, fargc = 0;
	long attr_ms = 1000, neg_ms = 0;

	g.dir_ms = 1000;
	g.rng = 0x9e3779b97f4a7c15ULL;
	pthread_mutex_init(&g.lock, NULL);
	if (argc < 3)
		usage();
	g.backing = argv[1];
	for (i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--attr-ms") == 0)
			attr_ms = atol(v);
		else if (strcmp(argv[i], "--neg-ms") == 0)
			neg_ms = atol(v);
		else if (strcmp(argv[i], "--dir-ms") == 0)
			g.dir_ms = atol(v);
		else if (strcmp(argv[i], "--ctl") == 0)
			g.ctl = v;
		else if (strcmp(argv[i], "--stats") == 0)
			g.stats = v;
		else if (strcmp(argv[i], "--seed") == 0)
			g.rng = (uint64_t)strtoull(v, NULL, 10) * 2 + 1;
		else if (strcmp(argv[i], "--fault") == 0) {
			if (g.ncmdline == RULES_MAX || parse_rule(v, &g.rules[g.ncmdline]) < 0) {
				fprintf(stderr, "nfsfs: bad rule '%s'\n", v);
				return 2;
			}
			g.ncmdline++;
		} else
			usage();
		i++;
	}
	g.nrules = g.ncmdline;
	g.attr_s = attr_ms / 1000.0;
	g.neg_s = neg_ms / 1000.0;
	g.bfd = open(g.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g.bfd < 0) {
		perror(g.backing);
		return 1;
	}
	pthread_mutex_lock(&g.lock);
	write_stats_locked();
	pthread_mutex_unlock(&g.lock);
	fargv[fargc++] = argv[0];
	fargv[fargc++] = argv[2];
	fargv[fargc++] = "-f";
	fargv[fargc++] = "-o";
	fargv[fargc++] = "fsname=nfsfs,subtype=nfsfs";
	fargv[fargc] = NULL;
	umask(0);
	return fuse_main(fargc, fargv, &ops, NULL);
}
