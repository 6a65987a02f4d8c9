/*
 * spool: opening a spool, the maildir write path, and group commit.
 *
 * Every write follows maildir delivery: a new file in tmp/, written, fsynced,
 * closed (checked), then linked or renamed into place, then its directory
 * fsynced. The library queues that work in a struct spool_pending so that a
 * batch of state changes shares one round of fsyncs (spool_begin/commit);
 * outside a batch each call commits itself.
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

/* Top-level directories, and those that fan out into 256 sub-directories. */
static const char *const top_dirs[] = {
	"tmp", "new", "assigned", "held", "done", "failed", "cancelled",
	"jobs", "outcomes", "logs", "late", "rejected", "workers",
};
static const char *const fan_dirs[] = {
	"done", "failed", "cancelled", "jobs", "outcomes", "logs",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define FORMAT_FILE "format"
#define FORMAT_TEXT "spool-layout 1\n"
#define PEND_FDS_MAX 128	/* files kept open for a grouped fsync */

struct pend_file {
	char tmp[SP_PATH_MAX];
	char dest[SP_PATH_MAX];
	char undo_from[SP_PATH_MAX], undo_to[SP_PATH_MAX];
	int fd;			/* -1 once synced and closed */
	int how, tier, group;
};

struct spool_pending {
	struct pend_file *f;
	size_t n, cap;
	char (*dirs)[SP_PATH_MAX];
	size_t ndirs, dcap;
	int open_fds;
	int unsynced;		/* files closed before the commit without an fsync */
	int next_group;
};

int sp_fail(struct spool *sp, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sp->err, sizeof(sp->err), fmt, ap);
	va_end(ap);
	return r;
}

const char *spool_error(const struct spool *sp)
{
	return sp->err;
}

void sp_fan(const char *id, char out[3])
{
	size_t n = strlen(id);

	out[0] = n >= 2 ? id[n - 2] : '0';
	out[1] = n >= 1 ? id[n - 1] : '0';
	out[2] = '\0';
}

static int fanned(enum spool_state st)
{
	return st == ST_DONE || st == ST_FAILED || st == ST_CANCELLED;
}

void sp_state_dir(enum spool_state st, const char *id, char *out, size_t cap)
{
	char fan[3];

	if (fanned(st)) {
		sp_fan(id, fan);
		snprintf(out, cap, "%s/%s", spool_state_name(st), fan);
	} else {
		snprintf(out, cap, "%s", spool_state_name(st));
	}
}

void sp_state_path(enum spool_state st, const char *id, const char *file,
		   char *out, size_t cap)
{
	char dir[32];

	sp_state_dir(st, id, dir, sizeof(dir));
	snprintf(out, cap, "%s/%s", dir, file);
}

void spool_order_path(const struct order *o, char *out, size_t cap)
{
	sp_state_path(o->state, o->n.id, o->file, out, cap);
}

int sp_exists(struct spool *sp, const char *path)
{
	struct stat st;

	if (fstatat(sp->root, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int sp_reserve(void *arr, size_t *cap, size_t need, size_t elem)
{
	void **a = arr;
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (!(p = realloc(*a, ncap * elem)))
		return -ENOMEM;
	*a = p;
	*cap = ncap;
	return 0;
}

int sp_dir_walk(struct spool *sp, const char *dir, int (*fn)(void *arg, const char *name),
		void *arg)
{
	DIR *d;
	struct dirent *e;
	int fd, r = 0;

	fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (r == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = fn(arg, e->d_name);
	}
	closedir(d);
	return r;
}

struct collect {
	int (*keep)(const char *);
	char **v;
	size_t n, cap;
};

static int collect_name(void *arg, const char *name)
{
	struct collect *c = arg;

	if (c->keep && !c->keep(name))
		return 0;
	if (sp_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
		return -ENOMEM;
	if (!(c->v[c->n] = strdup(name)))
		return -ENOMEM;
	c->n++;
	return 0;
}

int sp_dir_names(struct spool *sp, const char *dir, int (*keep)(const char *),
		 char ***out, size_t *n)
{
	struct collect c = { keep, NULL, 0, 0 };
	int r = sp_dir_walk(sp, dir, collect_name, &c);

	if (r < 0) {
		sp_names_free(c.v, c.n);
		*out = NULL;
		*n = 0;
		return r;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

void sp_names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int sp_is_order_name(const char *name)
{
	struct order_name nm;

	return name[0] != '.' && name_parse(name, &nm) == 0;
}

int sp_is_queued_name(const char *name)
{
	struct order_name nm;

	return name[0] != '.' && name_parse(name, &nm) == 0 && !nm.claimed;
}

int sp_is_drop_name(const char *name)
{
	return name[0] != '.' && !sp_is_order_name(name);
}

static int ensure_dir(struct spool *sp, const char *path, int create)
{
	struct stat st;

	if (fstatat(sp->root, path, &st, 0) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (errno != ENOENT)
		return -errno;
	if (!create)
		return -ENOENT;
	if (mkdirat(sp->root, path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 1;
}

/* Make every directory of the layout; 0 or -errno. */
static int make_layout(struct spool *sp, int create)
{
	size_t i;
	int f, r, made = 0;

	for (i = 0; i < NELEM(top_dirs); i++) {
		if ((r = ensure_dir(sp, top_dirs[i], create)) < 0)
			return sp_fail(sp, r, "cannot make '%s/%s': %s", sp->path, top_dirs[i], strerror(-r));
		made |= r;
		sp->made_dirs += r;
	}
	for (i = 0; i < NELEM(fan_dirs); i++)
		for (f = 0; f < 256; f++) {
			char p[32];

			snprintf(p, sizeof(p), "%s/%02x", fan_dirs[i], f);
			if ((r = ensure_dir(sp, p, create)) < 0)
				return sp_fail(sp, r, "cannot make '%s/%s': %s", sp->path, p, strerror(-r));
			made |= r;
			sp->made_dirs += r;
		}
	if (made && !sp->nosync) {
		/* new directories must survive a crash before files go in them */
		for (i = 0; i < NELEM(fan_dirs); i++)
			sp_dirty(sp, fan_dirs[i]);
		sp_dirty(sp, ".");
	}
	return 0;
}

int spool_open(struct spool *sp, const char *path, int create)
{
	struct stat st;
	int r, fd, fresh = 0;

	memset(sp, 0, sizeof(*sp));
	sp->root = -1;
	memset(sp->topfd, -1, sizeof(sp->topfd));
	sp->reap_grace_ms = SPOOL_DEF_REAP_GRACE_MS;
	sp->settle_ms = SPOOL_DEF_SETTLE_MS;
	sys_fault_env();
	if (getenv("SPOOL_SETTLE_MS"))
		sp->settle_ms = atoll(getenv("SPOOL_SETTLE_MS"));
	if (getenv("SPOOL_REAP_GRACE_MS"))
		sp->reap_grace_ms = atoll(getenv("SPOOL_REAP_GRACE_MS"));
	if (getenv("SPOOL_NOSYNC") && strcmp(getenv("SPOOL_NOSYNC"), "1") == 0)
		sp->nosync = 1;
	if (getenv("SPOOL_SYNC")) {
		const char *m = getenv("SPOOL_SYNC");

		sp->sync_mode = strcmp(m, "fsync") == 0 ? SYNC_FILES :
				strcmp(m, "syncfs") == 0 ? SYNC_FS : SYNC_AUTO;
	}
	if (!(sp->path = strdup(path)))
		return -ENOMEM;
	if (!(sp->pend = calloc(1, sizeof(*sp->pend)))) {
		r = -ENOMEM;
		goto fail;
	}
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST) {
		r = sp_fail(sp, -errno, "cannot create spool '%s': %s", path, strerror(errno));
		goto fail;
	}
	sp->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->root < 0) {
		r = sp_fail(sp, -errno, "cannot open spool '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (fstatat(sp->root, FORMAT_FILE, &st, 0) < 0) {
		if (!create) {
			r = sp_fail(sp, -ENOENT, "'%s' is not a spool (no '%s' file; 'spoolctl init' makes one)", path, FORMAT_FILE);
			goto fail;
		}
		fd = openat(sp->root, FORMAT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || sys_write_all(fd, FORMAT_TEXT, strlen(FORMAT_TEXT)) < 0 ||
		    (!sp->nosync && sys_fsync(fd) < 0)) {
			r = sp_fail(sp, -EIO, "cannot write '%s/%s'", path, FORMAT_FILE);
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
		sp_dirty(sp, ".");
		fresh = 1;
	}
	/* After a restore or by an old tool, a fan-out directory may be missing:
	 * put it back (a read-only spool just stays as it is). */
	r = make_layout(sp, 1);
	if (r < 0 && (create || r != -EROFS))
		goto fail;
	if (fresh)
		sp->made_dirs = 0;	/* a new spool was missing nothing */
	/* held open: syncing a directory is then one call, not three */
	{
		size_t i;

		for (i = 0; i < NELEM(top_dirs); i++)
			sp->topfd[i] = openat(sp->root, top_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if ((r = spool_commit(sp)) < 0)
		goto fail;
	return 0;
fail:
	spool_close(sp);
	return r;
}

static void pend_forget(struct spool *sp)
{
	size_t i;

	for (i = 0; i < sp->pend->n; i++)
		if (sp->pend->f[i].fd >= 0)
			close(sp->pend->f[i].fd);
	sp->pend->n = 0;
	sp->pend->ndirs = 0;
	sp->pend->open_fds = 0;
	sp->pend->unsynced = 0;
}

void spool_close(struct spool *sp)
{
	size_t i;

	if (sp->pend) {
		/* files staged but never committed are not delivered */
		for (i = 0; i < sp->pend->n; i++)
			if (sp->root >= 0 && sp->pend->f[i].how != PUB_UNLINK)
				unlinkat(sp->root, sp->pend->f[i].tmp, 0);
		pend_forget(sp);
		free(sp->pend->f);
		free(sp->pend->dirs);
		free(sp->pend);
		sp->pend = NULL;
	}
	for (i = 0; i < sp->ncache; i++)
		free(sp->cache[i]);
	free(sp->cache);
	sp->cache = NULL;
	sp->ncache = sp->icache = 0;
	for (i = 0; i < NELEM(top_dirs); i++)
		if (sp->topfd[i] >= 0) {
			close(sp->topfd[i]);
			sp->topfd[i] = -1;
		}
	if (sp->root >= 0)
		close(sp->root);
	sp->root = -1;
	free(sp->path);
	sp->path = NULL;
}

int sp_dirty(struct spool *sp, const char *dir)
{
	struct spool_pending *p = sp->pend;
	size_t i;

	if (sp->nosync)
		return 0;
	for (i = 0; i < p->ndirs; i++)
		if (strcmp(p->dirs[i], dir) == 0)
			return 0;
	if (sp_reserve(&p->dirs, &p->dcap, p->ndirs + 1, sizeof(*p->dirs)) < 0)
		return -ENOMEM;
	snprintf(p->dirs[p->ndirs++], SP_PATH_MAX, "%s", dir);
	return 0;
}

/* Mark the directory part of path dirty. */
static int dirty_parent(struct spool *sp, const char *path)
{
	char d[SP_PATH_MAX];
	char *slash;

	snprintf(d, sizeof(d), "%s", path);
	slash = strrchr(d, '/');
	if (!slash)
		return sp_dirty(sp, ".");
	*slash = '\0';
	return sp_dirty(sp, d);
}

/* Something entered new/: a local claimer's cached listing is stale. */
static void new_changed(struct spool *sp, const char *to)
{
	if (strncmp(to, "new/", 4) == 0)
		sp->cache_ms = 0;
}

int sp_move(struct spool *sp, const char *from, const char *to)
{
	int r = sys_rename(sp->root, from, to);

	if (r < 0)
		return r;
	new_changed(sp, to);
	dirty_parent(sp, from);
	dirty_parent(sp, to);
	return 0;
}

int sp_group(struct spool *sp)
{
	return ++sp->pend->next_group;
}

/* Close a staged file, with an fsync first unless a syncfs will cover it. */
static int sync_and_close(struct spool *sp, struct pend_file *f, int fsync_it)
{
	int r = 0;

	if (f->fd < 0)
		return 0;
	if (!sp->nosync && fsync_it)
		r = sys_fsync(f->fd);
	if (close(f->fd) < 0 && r == 0)
		r = -errno;
	f->fd = -1;
	sp->pend->open_fds--;
	return r;
}

int sp_stage(struct spool *sp, const char *tmpname, const void *data,
	     size_t len, const char *dest, int how, int tier, int group,
	     const char *undo_from, const char *undo_to)
{
	struct spool_pending *p = sp->pend;
	struct pend_file *f;
	char tmp[SP_PATH_MAX];
	int fd, r;

	snprintf(tmp, sizeof(tmp), "tmp/%s", tmpname);
	if (sp_reserve(&p->f, &p->cap, p->n + 1, sizeof(*p->f)) < 0)
		return -ENOMEM;
	fd = openat(sp->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return sp_fail(sp, -errno, "cannot create '%s/%s': %s", sp->path, tmp, strerror(errno));
	if ((r = sys_write_all(fd, data, len)) < 0) {
		close(fd);
		unlinkat(sp->root, tmp, 0);
		return sp_fail(sp, r, "cannot write '%s/%s': %s", sp->path, tmp, strerror(-r));
	}
	f = &p->f[p->n];
	snprintf(f->tmp, sizeof(f->tmp), "%s", tmp);
	snprintf(f->dest, sizeof(f->dest), "%s", dest);
	snprintf(f->undo_from, sizeof(f->undo_from), "%s", undo_from ? undo_from : "");
	snprintf(f->undo_to, sizeof(f->undo_to), "%s", undo_to ? undo_to : "");
	f->fd = fd;
	f->how = how;
	f->tier = tier;
	f->group = group;
	p->open_fds++;
	p->n++;
	if (p->open_fds > PEND_FDS_MAX) {
		/* keep the number of open files bounded in a large batch: such a
		 * batch is synced with syncfs, unless told to fsync each file */
		int each = sp->sync_mode == SYNC_FILES;

		if (!each)
			p->unsynced = 1;
		if ((r = sync_and_close(sp, f, each)) < 0) {
			unlinkat(sp->root, tmp, 0);
			p->n--;
			return sp_fail(sp, r, "cannot sync '%s/%s': %s", sp->path, tmp, strerror(-r));
		}
	}
	return 0;
}

void sp_unstage_last(struct spool *sp)
{
	struct spool_pending *p = sp->pend;
	struct pend_file *f;

	if (!p->n)
		return;
	f = &p->f[--p->n];
	if (f->fd >= 0) {
		close(f->fd);
		p->open_fds--;
	}
	unlinkat(sp->root, f->tmp, 0);
}

int sp_unlink_after(struct spool *sp, const char *path)
{
	struct spool_pending *p = sp->pend;
	struct pend_file *f;

	if (sp_reserve(&p->f, &p->cap, p->n + 1, sizeof(*p->f)) < 0)
		return -ENOMEM;
	f = &p->f[p->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->tmp, sizeof(f->tmp), "%s", path);
	f->fd = -1;
	f->how = PUB_UNLINK;
	f->tier = 2;
	return 0;
}

static int group_failed(const int *failed, size_t nfailed, int g)
{
	size_t i;

	for (i = 0; g && i < nfailed; i++)
		if (failed[i] == g)
			return 1;
	return 0;
}

static int sync_dirs(struct spool *sp, int use_fs)
{
	struct spool_pending *p = sp->pend;
	size_t i;
	int r = 0;

	if (use_fs && p->ndirs) {
		p->ndirs = 0;
		if ((r = sys_syncfs(sp->root)) < 0)
			return sp_fail(sp, r, "cannot sync '%s': %s", sp->path, strerror(-r));
		return 0;
	}
	for (i = 0; i < p->ndirs; i++) {
		int fd = -1, e;
		size_t t;

		for (t = 0; t < NELEM(top_dirs); t++)
			if (sp->topfd[t] >= 0 && strcmp(p->dirs[i], top_dirs[t]) == 0) {
				fd = sp->topfd[t];
				break;
			}
		if (fd >= 0) {
			e = sys_fsync(fd);
			if (e < 0 && !r)
				r = sp_fail(sp, e, "cannot sync directory '%s/%s': %s", sp->path, p->dirs[i], strerror(-e));
			continue;
		}
		fd = openat(sp->root, p->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			if (!r)
				r = sp_fail(sp, -errno, "cannot open '%s/%s': %s", sp->path, p->dirs[i], strerror(errno));
			continue;
		}
		e = sys_fsync(fd);
		close(fd);
		if (e < 0 && !r)
			r = sp_fail(sp, e, "cannot sync directory '%s/%s': %s", sp->path, p->dirs[i], strerror(-e));
	}
	p->ndirs = 0;
	return r;
}

void spool_begin(struct spool *sp)
{
	sp->batch++;
}

int spool_commit(struct spool *sp)
{
	struct spool_pending *p = sp->pend;
	int *failed = NULL;
	size_t nfailed = 0, i;
	int tier, r = 0, use_fs;

	if (sp->batch > 0)
		sp->batch--;
	if (sp->batch > 0)
		return 0;	/* an outer batch commits */
	use_fs = !sp->nosync && (sp->sync_mode == SYNC_FS || p->unsynced ||
				 (sp->sync_mode == SYNC_AUTO && p->n >= SPOOL_SYNCFS_MIN));
	if (p->n) {
		/* an item fails at most once in each of three steps */
		failed = calloc(3 * p->n, sizeof(*failed));
		if (!failed) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* 1. file contents to disk: each file, or one syncfs for them all */
	for (i = 0; i < p->n; i++) {
		int e = sync_and_close(sp, &p->f[i], !use_fs);

		if (e < 0) {
			if (!r)
				r = sp_fail(sp, e, "cannot sync '%s/%s': %s", sp->path, p->f[i].tmp, strerror(-e));
			failed[nfailed++] = p->f[i].group ? p->f[i].group : -1;
			p->f[i].how = -1;	/* not to be published */
		}
	}
	if (use_fs && p->n) {
		int e = sys_syncfs(sp->root);

		if (e < 0) {
			r = sp_fail(sp, e, "cannot sync '%s': %s", sp->path, strerror(-e));
			for (i = 0; i < p->n; i++) {
				failed[nfailed++] = p->f[i].group ? p->f[i].group : -1;
				if (p->f[i].how != PUB_UNLINK)
					p->f[i].how = -1;
			}
		}
	}
	/* 2. publish tier by tier; a tier's directories are synced before the
	 * next tier refers to its files (a job before its order) */
	for (tier = 0; tier <= 1; tier++) {
		for (i = 0; i < p->n; i++) {
			struct pend_file *f = &p->f[i];
			int e;

			if (f->tier != tier || f->how == PUB_UNLINK)
				continue;
			if (f->how < 0 || group_failed(failed, nfailed, f->group)) {
				unlinkat(sp->root, f->tmp, 0);
				if (f->undo_from[0])
					sp_move(sp, f->undo_from, f->undo_to);
				f->how = -1;
				continue;
			}
			if (f->how == PUB_LINK) {
				e = sys_publish_once(sp->root, f->tmp, f->dest);
				if (e == -EEXIST) {
					/* already there: written once, never replaced */
					unlinkat(sp->root, f->tmp, 0);
					if (f->group)
						failed[nfailed++] = f->group;
					continue;
				}
			} else {
				e = sys_rename(sp->root, f->tmp, f->dest);
			}
			if (e < 0) {
				if (!r)
					r = sp_fail(sp, e, "cannot publish '%s/%s': %s", sp->path, f->dest, strerror(-e));
				unlinkat(sp->root, f->tmp, 0);
				if (f->undo_from[0])
					sp_move(sp, f->undo_from, f->undo_to);
				if (f->group)
					failed[nfailed++] = f->group;
				continue;
			}
			dirty_parent(sp, f->dest);
			new_changed(sp, f->dest);
		}
		if (tier == 0) {
			int e = sync_dirs(sp, use_fs);

			if (e < 0 && !r)
				r = e;
		}
	}
	/* 3. what may go once everything is durable */
	for (i = 0; r == 0 && i < p->n; i++)
		if (p->f[i].how == PUB_UNLINK)
			unlinkat(sp->root, p->f[i].tmp, 0);
out:
	{
		int e = sync_dirs(sp, use_fs);

		if (e < 0 && !r)
			r = e;
	}
	free(failed);
	pend_forget(sp);
	return r;
}

int sp_end(struct spool *sp, int r)
{
	int c;

	if (sp->batch > 0)
		return r;
	spool_begin(sp);
	c = spool_commit(sp);
	return r < 0 ? r : c;
}
