/*
 * read: listing orders by state, and reading jobs, options and outcomes.
 * Nothing here changes the spool.
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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Visit the order files of one directory; sorted when sort is set. */
static int list_dir(struct spool *sp, enum spool_state st, const char *dir,
		    int sort, spool_visit_fn fn, void *arg)
{
	char **names;
	size_t n, i;
	int r;

	r = sp_dir_names(sp, dir, sp_is_order_name, &names, &n);
	if (r < 0)
		return r == -ENOENT ? 0 : sp_fail(sp, r, "cannot read '%s/%s': %s", sp->path, dir, strerror(-r));
	if (sort && n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && r == 0; i++) {
		struct order o;

		if (sp_order_from(&o, st, names[i]) == 0)
			r = fn(arg, &o);
	}
	sp_names_free(names, n);
	return r;
}

int spool_list(struct spool *sp, enum spool_state st, spool_visit_fn fn,
	       void *arg)
{
	int f, r;

	if ((unsigned)st >= ST_COUNT)
		return -EINVAL;
	if (st == ST_NEW || st == ST_ASSIGNED || st == ST_HELD)
		return list_dir(sp, st, spool_state_name(st), st == ST_NEW, fn, arg);
	for (f = 0; f < 256; f++) {
		char dir[32];

		snprintf(dir, sizeof(dir), "%s/%02x", spool_state_name(st), f);
		if ((r = list_dir(sp, st, dir, 0, fn, arg)) != 0)
			return r;
	}
	return 0;
}

static int count_one(void *arg, const char *name)
{
	if (sp_is_order_name(name))
		++*(long *)arg;
	return 0;
}

/* Count names in one directory that parse as orders, storing none. */
static long count_dir(struct spool *sp, const char *dir)
{
	long n = 0;

	sp_dir_walk(sp, dir, count_one, &n);
	return n;
}

struct scan {
	enum spool_state st;
	spool_visit_fn fn;
	void *arg;
};

static int scan_one(void *arg, const char *name)
{
	struct scan *sc = arg;
	struct order o;

	if (name[0] == '.' || sp_order_from(&o, sc->st, name) < 0)
		return 0;
	return sc->fn(sc->arg, &o);
}

struct scan_new {
	spool_visit_fn fn;
	void (*drop)(void *arg, const char *name);
	void *arg;
};

static int scan_new_one(void *arg, const char *name)
{
	struct scan_new *sc = arg;
	struct order o;

	if (name[0] == '.')
		return 0;
	if (sp_order_from(&o, ST_NEW, name) == 0)
		return sc->fn(sc->arg, &o);
	if (sc->drop)
		sc->drop(sc->arg, name);
	return 0;
}

int spool_scan_new(struct spool *sp, spool_visit_fn fn,
		   void (*drop)(void *arg, const char *name), void *arg)
{
	struct scan_new sc = { fn, drop, arg };
	int r = sp_dir_walk(sp, "new", scan_new_one, &sc);

	return r == -ENOENT ? 0 : r;
}

int spool_scan(struct spool *sp, enum spool_state st, spool_visit_fn fn, void *arg)
{
	struct scan sc = { st, fn, arg };
	char dir[32];
	int f, r;

	if ((unsigned)st >= ST_COUNT)
		return -EINVAL;
	if (st == ST_NEW || st == ST_ASSIGNED || st == ST_HELD) {
		r = sp_dir_walk(sp, spool_state_name(st), scan_one, &sc);
		return r == -ENOENT ? 0 : r;
	}
	for (f = 0; f < 256; f++) {
		snprintf(dir, sizeof(dir), "%s/%02x", spool_state_name(st), f);
		r = sp_dir_walk(sp, dir, scan_one, &sc);
		if (r != 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

int spool_count(struct spool *sp, long counts[ST_COUNT])
{
	int st, f;

	for (st = 0; st < ST_COUNT; st++) {
		counts[st] = 0;
		if (st == ST_NEW || st == ST_ASSIGNED || st == ST_HELD) {
			counts[st] = count_dir(sp, spool_state_name(st));
			continue;
		}
		for (f = 0; f < 256; f++) {
			char dir[32];

			snprintf(dir, sizeof(dir), "%s/%02x", spool_state_name(st), f);
			counts[st] += count_dir(sp, dir);
		}
	}
	return 0;
}

int spool_read_job(struct spool *sp, const char *id, struct buf *b)
{
	char path[SP_PATH_MAX];
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad job id '%.40s': want %d hex digits", id, SPOOL_ID_LEN);
	sp_job_path(id, path, sizeof(path));
	r = sys_read_file(b, sp->root, path);
	if (r == -ENOENT)
		return sp_fail(sp, r, "no job '%s'", id);
	if (r < 0)
		return sp_fail(sp, r, "cannot read job '%s': %s", id, strerror(-r));
	return 0;
}

int spool_read_outcome(struct spool *sp, const struct order *o, struct buf *b)
{
	char path[SP_PATH_MAX];
	int r;

	if (!o->n.claimed)
		return sp_fail(sp, -ENOENT, "order '%s' has no outcome: it never ran", o->n.id);
	sp_outcome_path(o, path, sizeof(path));
	r = sys_read_file(b, sp->root, path);
	if (r == -ENOENT)
		return sp_fail(sp, r, "no outcome for order '%s' attempt %d", o->n.id, o->n.attempt);
	if (r < 0)
		return sp_fail(sp, r, "cannot read outcome of '%s': %s", o->n.id, strerror(-r));
	while (b->len && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
	return 0;
}

/* The seed's status words for our states. */
static const char *seed_status(enum spool_state st)
{
	switch (st) {
	case ST_NEW: return "unassigned";
	case ST_ASSIGNED: return "assigned";
	case ST_HELD: return "held";
	case ST_DONE: return "done";
	case ST_FAILED: return "failed";
	case ST_CANCELLED: return "cancelled";
	default: return "?";
	}
}

int spool_order_json(struct spool *sp, const struct order *o, int with_token,
		     struct buf *b)
{
	struct job_opts opts;
	int64_t created = 0;
	int i;

	if (spool_read_opts(sp, o, &opts, &created) < 0) {
		/* a missing or broken order file still shows what the name says */
		memset(&opts, 0, sizeof(opts));
		opts.max_attempts = SPOOL_DEF_MAX_ATTEMPTS;
		created = 0;
		for (i = 0; i < 12; i++) {
			char c = o->n.stamp[i];

			created = created * 16 + (c >= 'a' ? c - 'a' + 10 : c - '0');
		}
	}
	return spool_order_json_opts(o, &opts, created, with_token, b);
}

int spool_order_json_opts(const struct order *o, const struct job_opts *o_opts,
			  int64_t created, int with_token, struct buf *b)
{
	const struct job_opts opts = *o_opts;
	char iso[32], due[32];
	int r, i;

	iso_time(created, iso);
	iso_time(o->n.due, due);
	r = buf_printf(b, "{\"_id\":\"%s\",\"jobId\":\"%s\",\"createdDate\":\"%s\","
		       "\"status\":\"%s\",\"state\":\"%s\",\"priority\":%d,"
		       "\"attempt\":%d,\"maxAttempts\":%d,\"due\":\"%s\"",
		       o->n.id, o->n.id, iso, seed_status(o->state),
		       spool_state_name(o->state), o->n.priority, o->n.attempt,
		       opts.max_attempts, due);
	if (r == 0 && opts.timeout_s)
		r = buf_printf(b, ",\"timeout\":%d", opts.timeout_s);
	if (r == 0 && opts.ntags) {
		r = buf_puts(b, ",\"tags\":[");
		for (i = 0; r == 0 && i < opts.ntags; i++)
			r = buf_printf(b, "%s\"%s\"", i ? "," : "", opts.tags[i]);
		if (r == 0)
			r = buf_puts(b, "]");
	}
	if (r == 0 && o->n.claimed) {
		iso_time(o->n.deadline, iso);
		r = buf_printf(b, ",\"worker\":\"%s\",\"leaseDeadline\":\"%s\",\"leaseDeadlineMs\":%lld",
			       o->n.worker, iso, (long long)o->n.deadline);
		if (r == 0 && with_token)
			r = buf_printf(b, ",\"token\":\"%s\"", o->n.token);
	}
	if (r == 0)
		r = buf_puts(b, "}");
	return r;
}

struct last {
	struct spool *sp;
	const char *id;
	const char *dir;
	char best[SPOOL_NAME_MAX];
	int attempt;
	int64_t mtime;
};

/* outcomes/FF/ID.AAA.TOKEN.json: the highest attempt, the newest of equals. */
static int last_one(void *arg, const char *name)
{
	struct last *l = arg;
	char path[SP_PATH_MAX];
	struct stat st;
	int64_t mt;
	int a;

	if (strlen(name) != SPOOL_ID_LEN + 1 + 3 + 1 + SPOOL_TOKEN_LEN + 5 ||
	    memcmp(name, l->id, SPOOL_ID_LEN) != 0 || name[SPOOL_ID_LEN] != '.')
		return 0;
	a = atoi(name + SPOOL_ID_LEN + 1);
	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	if (fstatat(l->sp->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (a > l->attempt || (a == l->attempt && mt > l->mtime)) {
		l->attempt = a;
		l->mtime = mt;
		snprintf(l->best, sizeof(l->best), "%s", name);
	}
	return 0;
}

int spool_read_last_outcome(struct spool *sp, const char *id, struct buf *b,
			    int *attempt)
{
	char dir[32], fan[3], path[SP_PATH_MAX];
	struct last l;
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s'", id);
	sp_fan(id, fan);
	snprintf(dir, sizeof(dir), "outcomes/%s", fan);
	memset(&l, 0, sizeof(l));
	l.sp = sp;
	l.id = id;
	l.dir = dir;
	l.attempt = -1;
	if ((r = sp_dir_walk(sp, dir, last_one, &l)) < 0 && r != -ENOENT)
		return sp_fail(sp, r, "cannot read '%s': %s", dir, strerror(-r));
	if (l.attempt < 0)
		return sp_fail(sp, -ENOENT, "no outcome for order '%s'", id);
	snprintf(path, sizeof(path), "%s/%s", dir, l.best);
	if ((r = sys_read_file(b, sp->root, path)) < 0)
		return sp_fail(sp, r, "cannot read outcome of '%s': %s", id, strerror(-r));
	while (b->len && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
	if (attempt)
		*attempt = l.attempt;
	return 0;
}
