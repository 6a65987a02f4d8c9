/*
 * watch: keeping the index equal to new/.
 *
 * inotify on new/ reports names that arrive (IN_MOVED_TO, IN_CREATE for
 * links, IN_CLOSE_WRITE for files written in place by people) and names
 * that leave (IN_MOVED_FROM, IN_DELETE: claimed, held, cancelled by anyone
 * on this host). Order names go into the index (a tagged order's tags are
 * read from its file first, by a reader); other names are drops, ingested by
 * the writer (spool_ingest) once they are complete (IN_CLOSE_WRITE or
 * IN_MOVED_TO; IN_CREATE of a drop is ignored, its close comes later).
 *
 * inotify does not see what other NFS clients do, and its queue can
 * overflow, so a periodic rescan lists new/ (on a reader) and merges: names
 * found are added, names indexed before the scan began and not found are
 * swept out. The same walk notes the drops it passes, and the writer
 * ingests just those names (drops not ready yet are retried next time): the
 * writer never walks new/ itself, so claims never wait behind a listing.
 * Start-up is such a listing, made while the daemon already serves
 * (watch_load): claims are served from what is loaded so far, and a claim
 * that would not wait is held until the load is done.
 *
 * A listing's names reach the loop a chunk at a time, after inotify may
 * have reported some of them gone (claimed by a local runner, held,
 * cancelled): the loop keeps the names that leave during a listing (gone)
 * and merges none of them from it, else the index would keep an order that
 * is not there (counted as queued, as the oldest, until a later sweep).
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MOVED_FROM | \
		    IN_DELETE)
#define SCAN_MAX ((size_t)1 << 30)	/* bytes of names one rescan may list */
/* Names kept that left new/ during one listing (64 bytes each); past it
 * the listing is followed by another, whose sweep takes what slipped in. */
#define GONE_MAX ((size_t)1 << 16)

/* ---- drops --------------------------------------------------------------------- */

/* Ingesting one dropped file, on the writer. */
struct ingest_op {
	struct op op;
	struct watch *wa;
	char file[SPOOL_NAME_MAX];
	char id[SPOOL_ID_LEN + 1];
	int rc;
	char msg[300];
};

static void run_ingest(struct op *op, struct spool *sp)
{
	struct ingest_op *g = container_of(op, struct ingest_op, op);
	char pr[80];
	g->rc = spool_ingest(sp, g->file, g->id);
	/* logged here, as the rejection note appears, not a commit later */
	if (g->rc == 2)
		say(g->wa->log, "reject '%s': %s", printable(g->file, pr),
		    spool_error(sp));
	if (g->rc == 2)
		snprintf(g->msg, sizeof(g->msg), "%s", spool_error(sp));
	else if (g->rc < 0 && g->rc != -ENOENT)
		snprintf(g->msg, sizeof(g->msg), "%s", spool_error(sp)[0] ?
			 spool_error(sp) : strerror(-g->rc));
}

static void done_ingest(struct op *op)
{
	struct ingest_op *g = container_of(op, struct ingest_op, op);
	struct watch *wa = g->wa;
	char pr[80];
	printable(g->file, pr);
	if (g->rc == 0) {
		wa->ingested++;
		say(wa->log, "ingest '%s' as %s", pr, g->id);
	} else if (g->rc == 2) {
		wa->rejected++;
	} else if (g->rc < 0 && g->rc != -ENOENT) {
		say(wa->log, "ingest '%s' failed: %s", pr, g->msg);
	}
	free(g);
}

static void ingest(struct watch *wa, const char *name)
{
	struct ingest_op *g = calloc(1, sizeof(*g));
	if (!g)
		return;
	g->op.kind = OP_WRITE;
	g->op.run = run_ingest;
	g->op.done = done_ingest;
	g->wa = wa;
	snprintf(g->file, sizeof(g->file), "%s", name);
	disk_submit(wa->disk, &g->op);
}

/* name left new/ while a listing is under way, which may have read it;
 * when it cannot be kept, a listing follows whose sweep takes it out. */
static void note_gone(struct watch *wa, const char *name,
		      const struct order_name *n)
{
	if (wa->gone.n >= GONE_MAX || index_add(&wa->gone, name, n, NULL) < 0)
		wa->rescan_again = 1;
}

static void on_inotify(uv_poll_t *p, int status, int events)
{
	struct watch *wa = p->data;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	int added = 0, rescan = 0;

	for (;;) {
		ssize_t n = read(wa->inotify_fd, buf, sizeof(buf));
		char *at;
		if (n <= 0)
			break;
		for (at = buf; at < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)at;
			struct order_name on;
			at += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				rescan = 1;
				continue;
			}
			if (!ev->len || ev->name[0] == '.' ||
			    strlen(ev->name) >= SPOOL_NAME_MAX)
				continue;
			if (name_parse(ev->name, &on) == 0) {
				if (ev->mask & (IN_MOVED_FROM | IN_DELETE)) {
					index_del(&wa->core->ix, ev->name);
					if (wa->scanning && !on.claimed)
						note_gone(wa, ev->name, &on);
				} else {
					added += core_seen(wa->core, ev->name, &on);
				}
			} else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
				ingest(wa, ev->name);
			}
		}
	}
	if (rescan) {
		say(wa->log, "inotify queue overflowed: rescanning new/");
		watch_rescan(wa);
	}
	if (added)
		core_dispatch(wa->core);
}

int watch_start(struct watch *wa, uv_loop_t *loop, struct core *k,
		struct disk *d, int64_t rescan_ms, const struct logger *log)
{
	char path[4096];
	int fd;

	wa->loop = loop;
	wa->core = k;
	wa->disk = d;
	wa->rescan_ms = rescan_ms;
	wa->log = log;
	wa->inotify_fd = -1;
	index_init(&wa->gone);
	uv_timer_init(loop, &wa->rescan_timer);
	wa->rescan_timer.data = wa;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/new", d->sp.path);
	if (inotify_add_watch(fd, path, WATCH_MASK) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	wa->inotify_fd = fd;
	uv_poll_init(loop, &wa->inotify_poll, fd);
	wa->inotify_poll.data = wa;
	uv_poll_start(&wa->inotify_poll, UV_READABLE, on_inotify);
	return 0;
}

static void on_poll_close(uv_handle_t *h)
{
	struct watch *wa = h->data;
	close(wa->inotify_fd);
	wa->inotify_fd = -1;
}

static void watch_abandon(struct watch *wa);

void watch_stop(struct watch *wa)
{
	wa->draining = 1;
	uv_timer_stop(&wa->rescan_timer);
	watch_abandon(wa);
	if (wa->inotify_fd >= 0 && !uv_is_closing((uv_handle_t *)&wa->inotify_poll))
		uv_close((uv_handle_t *)&wa->inotify_poll, on_poll_close);
}

void watch_close(struct watch *wa)
{
	uv_close((uv_handle_t *)&wa->rescan_timer, NULL);
	index_release(&wa->gone);
}

/* ---- scanning ----------------------------------------------------------------------- */

/*
 * A listing of new/, made on a reader and merged on the loop as it goes:
 * every CHUNK_BYTES of names the reader hands a chunk to the loop (an
 * async wake-up), which merges it into the index at once, so that claims
 * are served from what is listed so far, a million orders or not. The
 * start-up load is such a listing; so is every rescan.
 */
#define CHUNK_BYTES ((size_t)1 << 20)	/* about 12,000 names */
/* The first chunk is handed after this many bytes (about 50 names), each
 * next one twice the last, up to CHUNK_BYTES: on a cold or busy disk the
 * first claim waits for a few directory blocks, not for 12,000 names. */
#define CHUNK_FIRST ((size_t)4 << 10)
#define SCAN_DROPS_MAX (4 << 20)	/* bytes of drop names one listing hands on */

/* Records "name\0tag,tag\0" (the tags empty if none). */
struct chunk {
	struct chunk *next;
	struct buf names;
};

struct watch_op {
	struct op op;
	struct watch *wa;
	struct spool *sp;		/* the reader's, during run */
	struct buf names;		/* the chunk being filled */
	size_t chunk_at;		/* its size at which it is handed over */
	struct buf drops;		/* drops seen ("name\0" each), for the writer */
	size_t n;
	int err, rc;
	int initial;			/* the start-up load */
	uv_async_t async;
	pthread_mutex_t mu;
	struct chunk *ready, **ready_tail;	/* handed over, not merged yet */
};

static int chunk_hand(struct watch_op *l)
{
	struct chunk *ch = malloc(sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->next = NULL;
	ch->names = l->names;
	buf_init(&l->names, CHUNK_BYTES * 2);
	pthread_mutex_lock(&l->mu);
	*l->ready_tail = ch;
	l->ready_tail = &ch->next;
	pthread_mutex_unlock(&l->mu);
	uv_async_send(&l->async);
	return 0;
}

static void scan_drop(void *arg, const char *name)
{
	struct watch_op *l = arg;

	/* past the ceiling the next rescan takes the rest */
	buf_add(&l->drops, name, strlen(name) + 1);
}

static int scan_visit(void *arg, const struct order *o)
{
	struct watch_op *l = arg;
	char tags[SPOOL_TAGS_MAX * (SPOOL_TAG_MAX + 1) + 1] = "";
	if (o->n.claimed)
		return 0;
	if (o->n.tagged) {
		struct job_opts opts;
		int64_t created;
		int i;
		if (spool_read_opts(l->sp, o, &opts, &created) < 0)
			return 0;	/* gone or unreadable: not claimable */
		for (i = 0; i < opts.ntags; i++) {
			if (i)
				strcat(tags, ",");
			strcat(tags, opts.tags[i]);
		}
	}
	if (buf_add(&l->names, o->file, strlen(o->file) + 1) < 0 ||
	    buf_add(&l->names, tags, strlen(tags) + 1) < 0) {
		l->err = -E2BIG;
		return 1;
	}
	l->n++;
	if (l->names.len >= l->chunk_at) {
		if (chunk_hand(l) < 0) {
			l->err = -ENOMEM;
			return 1;
		}
		if (l->chunk_at < CHUNK_BYTES)
			l->chunk_at *= 2;
	}
	return 0;
}

/* Merge the records of names into the index, but for the names that left
 * meanwhile; how many were new. */
static int scan_apply(struct watch *wa, const struct buf *names)
{
	struct core *k = wa->core;
	const char *p = names->data, *end = p ? p + names->len : NULL;
	int added = 0;
	while (p && p < end) {
		const char *name = p, *tags = p + strlen(p) + 1;
		struct order_name n;
		p = tags + strlen(tags) + 1;
		if (name_parse(name, &n) < 0)
			continue;
		if (wa->gone.n && index_has(&wa->gone, name))
			continue;	/* (back since? then inotify added it) */
		if (!tags[0]) {
			added += index_add(&k->ix, name, &n, NULL) > 0;
		} else {
			char tv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
			const char *tp[SPOOL_TAGS_MAX];
			int nt = 0, i;
			if (tags_parse(tags, tv, &nt) < 0)
				continue;
			for (i = 0; i < nt; i++)
				tp[i] = tv[i];
			added += index_add(&k->ix, name, &n,
					   index_tagset(&k->ix, nt, tp)) > 0;
		}
	}
	return added;
}

static void said_recover(void *arg, const char *line)
{
	say(arg, "recover: %s", line);
}

int watch_recover(const struct logger *lg, struct spool *sp)
{
	struct recover_opts ro = { 1, 0, sp->stale_ms, said_recover, (void *)lg };
	int rc = spool_recover(sp, &ro, NULL);

	return rc < 0 ? rc : 0;
}

static void run_list_new(struct op *op, struct spool *sp)
{
	struct watch_op *l = container_of(op, struct watch_op, op);
	l->sp = sp;
	/* one walk of new/, unsorted (the index sorts), drops noted on the way */
	l->rc = spool_scan_new(sp, scan_visit, scan_drop, l);
	if (l->rc == 0)
		l->rc = l->err;
}

/* Merge what the reader handed over so far. */
static void merge_ready(struct watch_op *l)
{
	struct watch *wa = l->wa;
	struct chunk *ch, *next;
	uint64_t t0 = uv_hrtime();
	int added = 0;

	pthread_mutex_lock(&l->mu);
	ch = l->ready;
	l->ready = NULL;
	l->ready_tail = &l->ready;
	pthread_mutex_unlock(&l->mu);
	for (; ch; ch = next) {
		next = ch->next;
		if (!wa->draining)
			added += scan_apply(wa, &ch->names);
		buf_release(&ch->names);
		free(ch);
	}
	wa->merge_added += added;
	wa->merge_ns += uv_hrtime() - t0;
	if (added)
		core_dispatch(wa->core);
}

static void on_chunk(uv_async_t *a)
{
	merge_ready(a->data);
}

static void on_list_closed(uv_handle_t *h)
{
	struct watch_op *l = h->data;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* The end of a listing, merged or not. */
static void scan_finish(struct watch *wa, struct watch_op *l)
{
	merge_ready(l);		/* (frees what is left when draining) */
	index_release(&wa->gone);
	buf_release(&l->names);
	buf_release(&l->drops);
	uv_close((uv_handle_t *)&l->async, on_list_closed);
	wa->scanning = 0;
	/* the listing was made on a pool thread, in its own malloc arena:
	 * hand those pages back rather than keep a scan's worth of memory */
	malloc_trim(0);
	if (l->initial)
		core_loaded(wa->core);
	if (wa->draining)
		return;
	if (wa->rescan_again) {
		wa->rescan_again = 0;
		watch_rescan(wa);
	} else {
		watch_schedule(wa);
	}
}

static void done_list_new(struct op *op)
{
	struct watch_op *l = container_of(op, struct watch_op, op);
	struct watch *wa = l->wa;
	uint64_t t0;
	size_t gone;

	wa->scan_ms = (int64_t)((uv_hrtime() - wa->scan_t0) / 1000000);
	wa->scan_n = l->n;
	if (l->rc < 0 || wa->draining) {
		if (l->rc < 0)
			say(wa->log, "%s failed: %s", l->initial ? "loading new/" :
			    "rescan", strerror(-l->rc));
		scan_finish(wa, l);
		return;
	}
	merge_ready(l);
	t0 = uv_hrtime();
	wa->merge_added += scan_apply(wa, &l->names);
	gone = index_sweep(&wa->core->ix);
	wa->merge_ns += uv_hrtime() - t0;
	wa->merge_ms = (int64_t)(wa->merge_ns / 1000000);
	if (l->initial)
		say(wa->log, "loaded new/: %zu orders queued (%lld ms)",
		    wa->core->ix.n, (long long)wa->scan_ms);
	else if (wa->merge_added || gone)
		say(wa->log, "rescan: %d orders found, %zu gone",
		    wa->merge_added, gone);
	/* the writer ingests just the drops the listing saw: it never lists
	 * new/ itself, so claims do not wait behind a directory walk */
	{
		const char *p = l->drops.data, *end = p ? p + l->drops.len : NULL;

		for (; p && p < end; p += strlen(p) + 1)
			ingest(wa, p);
	}
	core_dispatch(wa->core);
	scan_finish(wa, l);
}

static void watch_abandon(struct watch *wa)
{
	(void)wa;	/* a listing in flight ends on its own; draining drops it */
}

static void list_start(struct watch *wa, int initial)
{
	struct watch_op *l;
	if (wa->scanning) {
		wa->rescan_again = 1;
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l || uv_async_init(wa->loop, &l->async, on_chunk) < 0) {
		free(l);
		if (initial)
			core_loaded(wa->core);
		watch_schedule(wa);
		return;
	}
	l->async.data = l;
	pthread_mutex_init(&l->mu, NULL);
	l->ready_tail = &l->ready;
	buf_init(&l->names, CHUNK_BYTES * 2);
	l->chunk_at = CHUNK_FIRST;
	buf_init(&l->drops, SCAN_DROPS_MAX);
	l->op.kind = OP_READ;
	l->op.run = run_list_new;
	l->op.done = done_list_new;
	l->wa = wa;
	l->initial = initial;
	wa->scanning = 1;
	wa->scan_t0 = uv_hrtime();
	wa->merge_added = 0;
	wa->merge_ns = 0;
	/* entries indexed from now on are not swept by this scan */
	index_mark_begin(&wa->core->ix);
	disk_submit(wa->disk, &l->op);
}

void watch_rescan(struct watch *wa)
{
	list_start(wa, 0);
}

/* Mending tmp/ at start, on the writer (its renames into new/ are seen). */
struct recover_op {
	struct op op;
	struct watch *wa;
};

static void run_recover(struct op *op, struct spool *sp)
{
	struct recover_op *r = container_of(op, struct recover_op, op);
	/* what a crash left in tmp/: a cut commit's orders are queued */
	if (watch_recover(r->wa->log, sp) < 0)
		say(r->wa->log, "recover: %s", spool_error(sp));
}

static void done_recover(struct op *op)
{
	free(container_of(op, struct recover_op, op));
}

void watch_load(struct watch *wa)
{
	struct recover_op *r = calloc(1, sizeof(*r));
	if (r) {
		r->op.kind = OP_WRITE;
		r->op.run = run_recover;
		r->op.done = done_recover;
		r->wa = wa;
		disk_submit(wa->disk, &r->op);
	}
	wa->core->loading = 1;
	list_start(wa, 1);
}

static void on_rescan_timer(uv_timer_t *t)
{
	struct watch *wa = t->data;
	if (!wa->draining)
		watch_rescan(wa);
}

/*
 * A rescan is for what inotify cannot see (other NFS hosts, an overflow):
 * it may cost at most 1/RESCAN_STRETCH of the time, so a million-order
 * queue is not listed and merged over and over while claims wait for CPU.
 */
#define RESCAN_STRETCH 20

void watch_schedule(struct watch *wa)
{
	int64_t ms = wa->rescan_ms, cost = wa->scan_ms + wa->merge_ms;
	if (ms <= 0 || wa->draining)
		return;
	if (ms < cost * RESCAN_STRETCH)
		ms = cost * RESCAN_STRETCH;
	uv_timer_start(&wa->rescan_timer, on_rescan_timer, (uint64_t)ms, 0);
}
