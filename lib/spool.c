/*
 * spool: opening a spool, the maildir write path, and group commit.
 *
 * Every write follows maildir delivery: a new file in tmp/, written, fsynced,
 * closed (checked), then linked or renamed into place, then its directory
 * fsynced. The library queues that work in a struct spool_pending so that a
 * batch of state changes shares one round of fsyncs (spool_begin/commit);
 * outside a batch each call commits itself.
 */
#include <ctype.h>
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
#include "json.h"

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

/*
 * A staged item: a file written to tmp/ to publish at commit, a rename of an
 * order to make at commit, or a file to unlink once everything is durable.
 */
struct pend_file {
	char tmp[SP_PATH_MAX];		/* PUB_MOVE: the order's current path */
	char dest[SP_PATH_MAX];
	char alt[SP_PATH_MAX];		/* PUB_OUTCOME: where it goes when the claim is lost */
	int fd;				/* -1 once synced and closed */
	int how, tier, group;
};

/*
 * A change: the items one state change staged (a job and its order; an
 * outcome and the rename that ends its claim). Its result is known only at
 * commit; the caller that asked (spool_track) gets it there.
 */
struct pend_group {
	int id;
	int rc;				/* 0, or the change's error */
	int skip;			/* a duplicate: the rest of the change is not needed */
	int outcome;			/* 1: published by this commit, 2: already on file */
	char outcome_path[SP_PATH_MAX], late_path[SP_PATH_MAX];
	char job_path[SP_PATH_MAX];	/* the job this change published, for undo */
	int *rc_out;			/* spool_track */
	struct order *o;		/* updated when its rename is made */
	enum spool_state st;
	char name[SPOOL_NAME_MAX];
};

struct spool_pending {
	struct pend_file *f;
	size_t n, cap;
	struct pend_group *g;
	size_t ng, gcap;
	char (*dirs)[SP_PATH_MAX];
	size_t ndirs, dcap;
	int open_fds;
	int unsynced;		/* files closed before the commit without an fsync */
	int next_group;
	int *track_rc;		/* spool_track: the next changes' result goes here */
	struct order *track_o;
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
	return sys_exists(sp->root, path);
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
	for (errno = 0; r == 0 && (e = readdir(d)); errno = 0) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = fn(arg, e->d_name);
	}
	/* a listing cut short (ESTALE on NFS) is no listing: a caller must
	 * not take what it missed for gone */
	if (r == 0 && !e && errno)
		r = -errno == -ESTALE ? -EIO : -errno;
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

/*
 * have[f] = 1 for each fan-out directory "dir/ff" one listing of dir shows
 * as a directory: a spool that misses none costs a listing, not 256 stats
 * (each a round trip on NFS). A name the listing cannot type is left to
 * the stat.
 */
static void fan_listed(struct spool *sp, const char *dir, unsigned char have[256])
{
	struct dirent *e;
	DIR *d;
	int fd, hi, lo;

	memset(have, 0, 256);
	fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* only the name "%02x" makes ("ab", not "AB") */
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] && e->d_name[1] && !e->d_name[2] &&
		    !isupper((unsigned char)e->d_name[0]) && !isupper((unsigned char)e->d_name[1]) &&
		    (hi = hex_value((unsigned char)e->d_name[0])) >= 0 &&
		    (lo = hex_value((unsigned char)e->d_name[1])) >= 0)
			have[hi * 16 + lo] = 1;
	closedir(d);
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
	for (i = 0; i < NELEM(fan_dirs); i++) {
		unsigned char have[256];

		fan_listed(sp, fan_dirs[i], have);
		for (f = 0; f < 256; f++) {
			char p[32];

			if (have[f])
				continue;
			snprintf(p, sizeof(p), "%s/%02x", fan_dirs[i], f);
			if ((r = ensure_dir(sp, p, create)) < 0)
				return sp_fail(sp, r, "cannot make '%s/%s': %s", sp->path, p, strerror(-r));
			made |= r;
			sp->made_dirs += r;
		}
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
	sp->stale_ms = SPOOL_DEF_STALE_MS;
	sys_fault_env();
	if (getenv("SPOOL_TMP_STALE_MS"))
		sp->stale_ms = atoll(getenv("SPOOL_TMP_STALE_MS"));
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
	sp->pend->ng = 0;
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
			if (sp->root >= 0 && sp->pend->f[i].how != PUB_UNLINK &&
			    sp->pend->f[i].how != PUB_MOVE)
				unlinkat(sp->root, sp->pend->f[i].tmp, 0);
		pend_forget(sp);
		free(sp->pend->f);
		free(sp->pend->g);
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

void spool_set_claim_sync(struct spool *sp, int on)
{
	sp->claim_nosync = !on;
}

int spool_flush(struct spool *sp)
{
	uint64_t made = 0;
	int g = sp_gate_shut(sp, 1, &made);	/* 1: no gate */
	int r = g < 0 ? g : sys_syncfs(sp->root);

	if (g <= 0)
		sp_gate_open(sp, made, 1, r == 0);
	return r < 0 ? sp_fail(sp, r, "cannot sync '%s': %s", sp->path, strerror(-r)) : 0;
}

void spool_track(struct spool *sp, int *rc, struct order *o)
{
	sp->pend->track_rc = rc;
	sp->pend->track_o = o;
	if (rc)
		*rc = 0;
}

static struct pend_group *group_of(struct spool *sp, int id)
{
	struct spool_pending *p = sp->pend;
	size_t i;

	for (i = p->ng; i > 0; i--)
		if (p->g[i - 1].id == id)
			return &p->g[i - 1];
	return NULL;
}

int sp_group(struct spool *sp)
{
	struct spool_pending *p = sp->pend;
	struct pend_group *g;

	if (sp_reserve(&p->g, &p->gcap, p->ng + 1, sizeof(*p->g)) < 0)
		return -ENOMEM;
	g = &p->g[p->ng++];
	memset(g, 0, sizeof(*g));
	g->id = ++p->next_group;
	g->rc_out = p->track_rc;
	return g->id;
}

int sp_last_group(struct spool *sp)
{
	return sp->pend->ng ? sp->pend->g[sp->pend->ng - 1].id : 0;
}

void sp_group_claim(struct spool *sp, int group, struct order *o,
		    enum spool_state st, const char *name)
{
	struct pend_group *g = group_of(sp, group);

	if (!g)
		return;
	/* in a batch only the tracked order is the caller's to update: others
	 * (the reaper's) live on the caller's stack */
	g->o = !sp->batch || o == sp->pend->track_o ? o : NULL;
	g->st = st;
	snprintf(g->name, sizeof(g->name), "%s", name);
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

static struct pend_file *new_item(struct spool *sp, int *group)
{
	struct spool_pending *p = sp->pend;
	struct pend_file *f;

	if (sp_reserve(&p->f, &p->cap, p->n + 1, sizeof(*p->f)) < 0)
		return NULL;
	if (!*group && (*group = sp_group(sp)) < 0)
		return NULL;
	f = &p->f[p->n];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->group = *group;
	return f;
}

int sp_stage(struct spool *sp, const char *tmpname, const void *data,
	     size_t len, const char *dest, int how, int tier, int group)
{
	struct spool_pending *p = sp->pend;
	struct pend_file *f;
	char tmp[SP_PATH_MAX];
	int fd, r;

	snprintf(tmp, sizeof(tmp), "tmp/%s", tmpname);
	if (!(f = new_item(sp, &group)))
		return -ENOMEM;
	fd = openat(sp->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return sp_fail(sp, -errno, "cannot create '%s/%s': %s", sp->path, tmp, strerror(errno));
	if ((r = sys_write_all(fd, data, len)) < 0) {
		close(fd);
		unlinkat(sp->root, tmp, 0);
		return sp_fail(sp, r, "cannot write '%s/%s': %s", sp->path, tmp, strerror(-r));
	}
	snprintf(f->tmp, sizeof(f->tmp), "%s", tmp);
	snprintf(f->dest, sizeof(f->dest), "%s", dest);
	f->fd = fd;
	f->how = how;
	f->tier = tier;
	p->open_fds++;
	p->n++;
	if (how == PUB_OUTCOME) {
		/* ID.AAA.TOKEN.json: the same name in late/ */
		const char *base = strrchr(dest, '/');

		snprintf(f->alt, sizeof(f->alt), "late/%s", base ? base + 1 : dest);
	}
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

int sp_stage_move(struct spool *sp, const char *from, const char *to, int group)
{
	struct pend_file *f = new_item(sp, &group);

	if (!f)
		return -ENOMEM;
	snprintf(f->tmp, sizeof(f->tmp), "%s", from);
	snprintf(f->dest, sizeof(f->dest), "%s", to);
	f->how = PUB_MOVE;
	f->tier = 1;
	sp->pend->n++;
	return 0;
}

void sp_unstage_group(struct spool *sp, int group)
{
	struct spool_pending *p = sp->pend;
	size_t i, k = 0;

	for (i = 0; i < p->n; i++) {
		struct pend_file *f = &p->f[i];

		if (f->group != group) {
			p->f[k++] = *f;
			continue;
		}
		if (f->fd >= 0) {
			close(f->fd);
			p->open_fds--;
		}
		if (f->how != PUB_MOVE && f->how != PUB_UNLINK)
			unlinkat(sp->root, f->tmp, 0);
	}
	p->n = k;
	{
		struct pend_group *g = group_of(sp, group);

		if (g)
			g->skip = 1;	/* nothing of it is left to do */
	}
}

int sp_unlink_after(struct spool *sp, const char *path, int group)
{
	struct pend_file *f = new_item(sp, &group);

	if (!f)
		return -ENOMEM;
	snprintf(f->tmp, sizeof(f->tmp), "%s", path);
	f->how = PUB_UNLINK;
	f->tier = 2;
	sp->pend->n++;
	return 0;
}

/* An fd to fsync directory dir: one of the top-level fds kept open, or a
 * new one (*opened set: the caller closes it). -errno on failure. */
int sp_dir_fd(struct spool *sp, const char *dir, int *opened)
{
	size_t t;
	int fd;

	*opened = 0;
	for (t = 0; t < NELEM(top_dirs); t++)
		if (sp->topfd[t] >= 0 && strcmp(dir, top_dirs[t]) == 0)
			return sp->topfd[t];
	fd = openat(sp->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*opened = 1;
	return fd;
}

static void group_fail(struct pend_group *g, int e);
static void all_fail(struct spool *sp, int e);

/*
 * One round of syncs: with files, every staged file's contents (then the
 * file is closed), and every directory marked dirty, all issued at once
 * (sys_fsync_all), or one syncfs for all of it (use_fs). A file's failure
 * fails its group; a directory's (or syncfs's) every group, as nobody
 * knows which of its entries are durable.
 */
static void sync_round_now(struct spool *sp, int files, int use_fs)
{
	struct spool_pending *p = sp->pend;
	size_t i, n = 0, cap = p->ndirs + (files ? p->n : 0);
	struct { struct pend_file *file; const char *dir; int opened; } *what;
	int *fds, *rc, e;

	if (sp->nosync) {
		p->ndirs = 0;
		for (i = 0; files && i < p->n; i++)
			sync_and_close(sp, &p->f[i], 0);
		return;
	}
	if (use_fs) {
		int any = p->ndirs > 0;

		p->ndirs = 0;
		for (i = 0; files && i < p->n; i++) {
			any = 1;
			if ((e = sync_and_close(sp, &p->f[i], 0)) < 0)
				group_fail(group_of(sp, p->f[i].group),
					   sp_fail(sp, e, "cannot close '%s/%s': %s", sp->path, p->f[i].tmp, strerror(-e)));
		}
		if (any && (e = sys_syncfs(sp->root)) < 0)
			all_fail(sp, sp_fail(sp, e, "cannot sync '%s': %s", sp->path, strerror(-e)));
		else if (any)
			sp->rounds_synced++;
		return;
	}
	if (!cap)
		return;
	fds = calloc(cap * 2, sizeof(int));
	what = malloc(cap * sizeof(*what));
	if (!fds || !what) {
		free(fds);
		free(what);
		all_fail(sp, sp_fail(sp, -ENOMEM, "out of memory for a round of syncs"));
		return;
	}
	rc = fds + cap;
	for (i = 0; files && i < p->n; i++)
		if (p->f[i].fd >= 0) {
			what[n].file = &p->f[i];
			what[n].dir = NULL;
			what[n].opened = 0;
			fds[n++] = p->f[i].fd;
		}
	for (i = 0; i < p->ndirs; i++) {
		int fd = sp_dir_fd(sp, p->dirs[i], &what[n].opened);

		if (fd < 0) {
			all_fail(sp, sp_fail(sp, fd, "cannot open '%s/%s': %s", sp->path, p->dirs[i], strerror(-fd)));
			continue;
		}
		what[n].file = NULL;
		what[n].dir = p->dirs[i];
		fds[n++] = fd;
	}
	sys_fsync_all(fds, n, rc);
	for (e = 0, i = 0; i < n; i++)
		e |= rc[i] < 0;
	if (n && !e)
		sp->rounds_synced++;
	for (i = 0; i < n; i++) {
		struct pend_file *f = what[i].file;

		if (f) {
			if (rc[i] < 0)
				group_fail(group_of(sp, f->group),
					   sp_fail(sp, rc[i], "cannot sync '%s/%s': %s", sp->path, f->tmp, strerror(-rc[i])));
			if ((e = sync_and_close(sp, f, 0)) < 0)
				group_fail(group_of(sp, f->group),
					   sp_fail(sp, e, "cannot close '%s/%s': %s", sp->path, f->tmp, strerror(-e)));
			continue;
		}
		if (rc[i] < 0)
			all_fail(sp, sp_fail(sp, rc[i], "cannot sync directory '%s/%s': %s", sp->path, what[i].dir, strerror(-rc[i])));
		if (what[i].opened)
			close(fds[i]);
	}
	p->ndirs = 0;
	free(fds);
	free(what);
}

static int dirty_has(struct spool *sp, const char *dir)
{
	struct spool_pending *p = sp->pend;
	size_t i;

	for (i = 0; i < p->ndirs; i++)
		if (strcmp(p->dirs[i], dir) == 0)
			return 1;
	return 0;
}

/*
 * A round of syncs (sync_round_now), through the gate when sp has one: a
 * round that syncs new/ (or the file system) keeps the gate shut, after
 * an fsync of assigned/ for the claims made through it (lib/gate.c). If
 * that fsync fails, nothing of the round is synced (every group fails).
 */
static void sync_round(struct spool *sp, int files, int use_fs)
{
	struct spool_pending *p = sp->pend;
	int hold, assigned, r;
	uint64_t made = 0;
	size_t i;

	if (!sp->gate || sp->nosync || (!p->ndirs && !(files && p->n))) {
		sync_round_now(sp, files, use_fs);
		return;
	}
	hold = dirty_has(sp, "new") || (use_fs && (p->ndirs || (files && p->n)));
	assigned = use_fs ? hold : dirty_has(sp, "assigned");
	if ((r = sp_gate_shut(sp, hold, &made)) < 0) {
		all_fail(sp, sp_fail(sp, r, "cannot sync directory '%s/assigned': %s", sp->path, strerror(-r)));
		p->ndirs = 0;
		for (i = 0; files && i < p->n; i++)
			sync_and_close(sp, &p->f[i], 0);
		sp_gate_open(sp, made, hold, 0);
		return;
	}
	sync_round_now(sp, files, use_fs);
	sp_gate_open(sp, made, hold, assigned && !sp->sync_rc);
}

void spool_begin(struct spool *sp)
{
	sp->batch++;
}

/* A change failed with e (the first error is kept). */
static void group_fail(struct pend_group *g, int e)
{
	if (g && !g->rc)
		g->rc = e;
}

/* Every change that is still good fails with e (its durability is unknown). */
static void all_fail(struct spool *sp, int e)
{
	size_t i;

	if (!sp->sync_rc)
		sp->sync_rc = e;
	for (i = 0; i < sp->pend->ng; i++)
		if (!sp->pend->g[i].skip)
			group_fail(&sp->pend->g[i], e);
}

int sp_same_content(struct spool *sp, const char *path, const char *s, size_t len)
{
	struct buf b;
	int same;

	buf_init(&b, SPOOL_OUTCOME_MAX + 2);
	same = sys_read_file(&b, sp->root, path) == 0;
	while (same && b.len && b.data[b.len - 1] == '\n')
		b.len--;
	while (len && s[len - 1] == '\n')
		len--;
	same = same && b.len == len && memcmp(b.data, s, len) == 0;
	buf_release(&b);
	return same;
}

const char *sp_job_path(const char *id, char *out, size_t cap)
{
	char fan[3];

	sp_fan(id, fan);
	snprintf(out, cap, "jobs/%s/%s.json", fan, id);
	return out;
}

int sp_sync_file(struct spool *sp, const char *path)
{
	int fd, r;

	if (sp->nosync)
		return 0;
	fd = openat(sp->root, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_fail(sp, -errno, "cannot open '%s/%s': %s", sp->path, path, strerror(errno));
	r = sys_fsync(fd);
	close(fd);
	if (r < 0)
		return sp_fail(sp, r, "cannot sync '%s/%s': %s", sp->path, path, strerror(-r));
	return dirty_parent(sp, path);
}

int sp_torn(struct spool *sp, const char *path)
{
	struct buf b;
	struct json j;
	char err[8];
	int torn;

	buf_init(&b, SPOOL_JOB_MAX + 64);
	if (sys_read_file(&b, sp->root, path) < 0) {
		buf_release(&b);
		return 0;
	}
	torn = json_parse(&j, b.data, b.len, JSON_TOKENS_MAX, err, sizeof(err)) < 0;
	if (!torn) {
		torn = j.tok[0].type != JSMN_OBJECT;
		json_release(&j);
	}
	buf_release(&b);
	return torn;
}

/* 1 if the files at a and b hold the same document. */
static int same_files(struct spool *sp, const char *a, const char *b)
{
	struct buf x;
	int same;

	buf_init(&x, SPOOL_OUTCOME_MAX + 2);
	same = sys_read_file(&x, sp->root, a) == 0 &&
	       sp_same_content(sp, b, x.data, x.len);
	buf_release(&x);
	return same;
}

/* Publish one tier-0 item (a job, an outcome, a document). */
static void publish(struct spool *sp, struct pend_file *f, struct pend_group *g)
{
	int e;

	if (f->how == PUB_RENAME) {
		e = sys_rename(sp->root, f->tmp, f->dest);
	} else {
		e = sys_publish_once(sp->root, f->tmp, f->dest);
		if (e == -EEXIST) {
			/* written once, never replaced */
			if ((f->how == PUB_OUTCOME || f->how == PUB_SYNTH) && sp_torn(sp, f->dest)) {
				/* left torn by a machine crash, never acknowledged */
				e = sys_rename(sp->root, f->tmp, f->dest);
				goto published;
			}
			if (f->how == PUB_OUTCOME && same_files(sp, f->tmp, f->dest)) {
				g->outcome = 2;	/* a repeated request */
				unlinkat(sp->root, f->tmp, 0);
				return;
			}
			if (f->how == PUB_OUTCOME) {
				/* another outcome ended this claim first (the
				 * reaper's): ours is kept aside */
				if (sys_publish_once(sp->root, f->tmp, f->alt) == 0)
					dirty_parent(sp, f->alt);
				else
					unlinkat(sp->root, f->tmp, 0);
				group_fail(g, sp_fail(sp, -ESTALE, "the claim was ended by another outcome first; outcome kept in late/"));
				g->skip = 1;
				return;
			}
			unlinkat(sp->root, f->tmp, 0);
			if (f->how == PUB_JOB || f->how == PUB_SYNTH)
				g->skip = 1;	/* there already: nothing more to do */
			return;
		}
	}
published:
	if (e < 0) {
		unlinkat(sp->root, f->tmp, 0);
		group_fail(g, sp_fail(sp, e, "cannot publish '%s/%s': %s", sp->path, f->dest, strerror(-e)));
		return;
	}
	if (f->how == PUB_OUTCOME) {
		g->outcome = 1;
		snprintf(g->outcome_path, sizeof(g->outcome_path), "%s", f->dest);
		snprintf(g->late_path, sizeof(g->late_path), "%s", f->alt);
	} else if (f->how == PUB_JOB) {
		snprintf(g->job_path, sizeof(g->job_path), "%s", f->dest);
	}
	dirty_parent(sp, f->dest);
	new_changed(sp, f->dest);
}

/* 1 if an order for the id in new/NAME (dest) exists in any state. */
static int order_exists(struct spool *sp, const char *dest)
{
	struct order_name n;
	struct order o;
	const char *base = strrchr(dest, '/');
	char keep[sizeof(sp->err)];
	int found;

	if (sp_exists(sp, dest) == 1)
		return 1;
	if (name_parse(base ? base + 1 : dest, &n) < 0)
		return 0;
	memcpy(keep, sp->err, sizeof(keep));
	found = spool_lookup(sp, n.id, &o) == 0;
	memcpy(sp->err, keep, sizeof(keep));
	return found;
}

/* Make one tier-1 item: an order entering new/, or the rename ending a claim. */
static void apply(struct spool *sp, struct pend_file *f, struct pend_group *g)
{
	int e = sys_rename(sp->root, f->tmp, f->dest);

	if (e == 0) {
		dirty_parent(sp, f->dest);
		new_changed(sp, f->dest);
		if (f->how == PUB_MOVE) {
			dirty_parent(sp, f->tmp);
			if (g->o)
				sp_order_from(g->o, g->st, g->name);
		}
		return;
	}
	if (f->how == PUB_MOVE) {
		/* On NFS a retransmitted rename can say ENOENT after it
		 * succeeded: the destination names the token, so it says. */
		if (e == -ENOENT && sp_exists(sp, f->dest) == 1) {
			if (g->outcome == 2)
				group_fail(g, sp_fail(sp, -EALREADY, "this claim was already finished"));
			else if (g->o)
				sp_order_from(g->o, g->st, g->name);
			return;
		}
		if (e == -ENOENT && g->outcome == 2) {
			/* our outcome was on file already and ended the claim */
			group_fail(g, sp_fail(sp, -EALREADY, "this claim was already finished"));
			return;
		}
		if (e == -ENOENT) {
			/* the claim was lost (cancelled, requeued, reaped) after
			 * its outcome was filed: the outcome is kept aside */
			if (g->outcome == 1 &&
			    sys_publish_once(sp->root, g->outcome_path, g->late_path) == 0) {
				dirty_parent(sp, g->outcome_path);
				dirty_parent(sp, g->late_path);
			}
			group_fail(g, sp_fail(sp, -ESTALE, "the claim is no longer held (lease expired, cancelled or requeued); outcome kept in late/"));
			return;
		}
		/* the claim stands with its outcome filed: a retry finishes it,
		 * or the reaper does once the lease is over */
		group_fail(g, sp_fail(sp, e, "cannot move order '%s': %s", f->tmp, strerror(-e)));
		return;
	}
	/* an order into new/: a recovering process may have moved it there
	 * already (spool_recover), and it may have moved on since */
	if (e == -ENOENT && order_exists(sp, f->dest)) {
		sp_dirty(sp, "new");
		return;
	}
	unlinkat(sp->root, f->tmp, 0);
	if (g->job_path[0]) {
		/* a job without its order was never accepted: take it back */
		unlinkat(sp->root, g->job_path, 0);
		dirty_parent(sp, g->job_path);
	}
	group_fail(g, sp_fail(sp, e, "cannot publish '%s/%s': %s", sp->path, f->dest, strerror(-e)));
}

/* Whether the parent directory of path is d. */
static int parent_is(const char *path, const char *d)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;

	if (!slash)
		return strcmp(d, ".") == 0;
	return strlen(d) == n && strncmp(path, d, n) == 0;
}

/* The second round's directories (of tier-1 renames that will be tried). */
static int round2_dir(struct spool *sp, const char *d)
{
	struct spool_pending *p = sp->pend;
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct pend_file *f = &p->f[i];
		struct pend_group *g = group_of(sp, f->group);

		if (f->tier != 1 || g->rc || g->skip)
			continue;
		if (parent_is(f->dest, d) || (f->how == PUB_MOVE && parent_is(f->tmp, d)))
			return 1;
	}
	return 0;
}

/*
 * Take out of the first round the dirty state directories the second
 * round syncs anyway; *out gets them (to be marked again before it), the
 * count is returned. Only state directories can be such: tier 0 publishes
 * into jobs/ and outcomes/, which no tier-1 rename touches.
 */
static size_t defer_dirs(struct spool *sp, char (**out)[SP_PATH_MAX])
{
	struct spool_pending *p = sp->pend;
	size_t i, k = 0, n = 0;

	*out = NULL;
	if (sp->nosync || !p->ndirs)
		return 0;
	for (i = 0; i < p->ndirs; i++)
		if (round2_dir(sp, p->dirs[i]))
			n++;
	if (!n || !(*out = malloc(n * sizeof(**out))))
		return 0;	/* (out of memory: synced in both rounds) */
	n = 0;
	for (i = 0; i < p->ndirs; i++) {
		if (round2_dir(sp, p->dirs[i]))
			memcpy((*out)[n++], p->dirs[i], SP_PATH_MAX);
		else if (k != i)
			memcpy(p->dirs[k++], p->dirs[i], SP_PATH_MAX);
		else
			k++;
	}
	p->ndirs = k;
	return n;
}

int spool_commit(struct spool *sp)
{
	struct spool_pending *p = sp->pend;
	size_t i, ndefer;
	char (*defer)[SP_PATH_MAX];
	int r = 0, use_fs;

	if (sp->batch > 0)
		sp->batch--;
	if (sp->batch > 0)
		return 0;	/* an outer batch commits */
	use_fs = !sp->nosync && (sp->sync_mode == SYNC_FS || p->unsynced ||
				 (sp->sync_mode == SYNC_AUTO && p->n >= SPOOL_SYNCFS_MIN));
	sp->sync_rc = 0;
	/* 1. tier 0 (jobs, outcomes, documents) is published at once, before
	 * it is durable: nothing names it yet (its order is still staged, its
	 * claim still in assigned/), so a machine crash can leave only a torn
	 * file that no answer ever acknowledged, and whoever meets one removes
	 * it (sp_torn). This saves a round of syncs per batch. */
	for (i = 0; i < p->n; i++) {
		struct pend_file *f = &p->f[i];
		struct pend_group *g = group_of(sp, f->group);

		if (f->tier != 0 || f->how == PUB_UNLINK)
			continue;
		if (g->rc || g->skip)
			unlinkat(sp->root, f->tmp, 0);
		else
			publish(sp, f, g);
	}
	/* a directory that a rename made before the commit dirtied (a claim's
	 * new/ and assigned/) and that the second round syncs anyway (orders
	 * into new/, the ends of claims out of assigned/) is synced there
	 * only: one fsync less, and a claim's name in assigned/ is durable
	 * before its removal from new/ is, when both are deferred or not */
	ndefer = defer_dirs(sp, &defer);
	/* 2. one round: every staged file's contents, the directories of what
	 * was published and of the renames made before the commit (claims,
	 * holds); each file and directory at once, or one syncfs for all */
	sync_round(sp, 1, use_fs);
	/* 3. tier 1 (orders into new/, the renames that end claims) once what
	 * they name is durable, then their directories */
	for (i = 0; i < p->n; i++) {
		struct pend_file *f = &p->f[i];
		struct pend_group *g = group_of(sp, f->group);

		if (f->tier != 1)
			continue;
		if (g->rc || g->skip) {
			int gone = f->how != PUB_MOVE && unlinkat(sp->root, f->tmp, 0) == 0;

			/* a job without its order was never accepted: take it back,
			 * unless a recovering process queued the order meanwhile
			 * (then the staged file was gone, or is in new/ now) */
			if (g->rc && g->job_path[0] && gone && sp_exists(sp, f->dest) == 0) {
				unlinkat(sp->root, g->job_path, 0);
				g->job_path[0] = '\0';
			}
			continue;
		}
		apply(sp, f, g);
	}
	for (i = 0; i < ndefer; i++)
		sp_dirty(sp, defer[i]);	/* synced now, whatever the applies did */
	free(defer);
	sync_round(sp, 0, use_fs);
	/* 3. what may go once its change is durable */
	for (i = 0; i < p->n; i++) {
		struct pend_group *g = group_of(sp, p->f[i].group);

		if (p->f[i].how == PUB_UNLINK && !g->rc)
			unlinkat(sp->root, p->f[i].tmp, 0);
	}
	for (i = 0; i < p->ng; i++) {
		struct pend_group *g = &p->g[i];

		if (g->rc_out && g->rc && !*g->rc_out)
			*g->rc_out = g->rc;
		if (g->rc && !r)
			r = g->rc;
	}
	if (sp->sync_rc)
		r = sp->sync_rc;	/* renames of this round may not be durable */
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
