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
 * Start-up ingests with spool_ingest_each before its first scan.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
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
	g->rc = spool_ingest(sp, g->file, g->id);
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
		say(wa->log, "reject '%s': %s", pr, g->msg);
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
				if (ev->mask & (IN_MOVED_FROM | IN_DELETE))
					index_del(&wa->core->ix, ev->name);
				else
					added += core_seen(wa->core, ev->name, &on);
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
	uv_timer_init(loop, &wa->rescan_timer);
	uv_timer_init(loop, &wa->merge_timer);
	wa->rescan_timer.data = wa->merge_timer.data = wa;
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
	uv_close((uv_handle_t *)&wa->merge_timer, NULL);
}

/* ---- scanning ----------------------------------------------------------------------- */

/* A scan's findings: records "name\0tag,tag\0" (the tags empty if none),
 * and the drops it saw ("name\0" each), for the writer to ingest. */
struct scan {
	struct spool *sp;
	struct buf names;
	struct buf drops;
	int err;
	size_t n;
};

#define SCAN_DROPS_MAX (4 << 20)	/* bytes of drop names one rescan hands on */

static void scan_drop(void *arg, const char *name)
{
	struct scan *s = arg;

	/* past the ceiling the next rescan takes the rest */
	buf_add(&s->drops, name, strlen(name) + 1);
}

static int scan_visit(void *arg, const struct order *o)
{
	struct scan *s = arg;
	char tags[SPOOL_TAGS_MAX * (SPOOL_TAG_MAX + 1) + 1] = "";
	if (o->n.claimed)
		return 0;
	if (o->n.tagged) {
		struct job_opts opts;
		int64_t created;
		int i;
		if (spool_read_opts(s->sp, o, &opts, &created) < 0)
			return 0;	/* gone or unreadable: not claimable */
		for (i = 0; i < opts.ntags; i++) {
			if (i)
				strcat(tags, ",");
			strcat(tags, opts.tags[i]);
		}
	}
	if (buf_add(&s->names, o->file, strlen(o->file) + 1) < 0 ||
	    buf_add(&s->names, tags, strlen(tags) + 1) < 0) {
		s->err = -E2BIG;
		return 1;
	}
	s->n++;
	return 0;
}

/* Merge up to max records of s from *pos on into the index; how many were
 * new. *pos is left after the last record merged. */
static int scan_apply(struct core *k, const struct scan *s, size_t *pos,
		      size_t max)
{
	const char *p = s->names.data ? s->names.data + *pos : NULL;
	const char *end = s->names.data ? s->names.data + s->names.len : NULL;
	int added = 0;
	while (p && p < end && max--) {
		const char *name = p, *tags = p + strlen(p) + 1;
		struct order_name n;
		p = tags + strlen(tags) + 1;
		if (name_parse(name, &n) < 0)
			continue;
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
	if (p)
		*pos = (size_t)(p - s->names.data);
	return added;
}

static int scan_list(struct spool *sp, struct scan *s)
{
	int rc;
	s->sp = sp;
	buf_init(&s->names, SCAN_MAX);
	buf_init(&s->drops, SCAN_DROPS_MAX);
	/* one walk of new/, unsorted (the index sorts), drops noted on the way */
	rc = spool_scan_new(sp, scan_visit, scan_drop, s);
	if (rc < 0)
		return rc;
	return s->err;
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

/* One log line per dropped file ingested at start. */
static void said_ingest(void *arg, const char *name, int rc, const char *id,
			const char *why)
{
	struct watch *wa = arg;

	if (rc == 0)
		say(wa->log, "ingest '%.100s' as %s", name, id);
	else if (rc == 2)
		say(wa->log, "reject '%.100s': %s", name, why);
}

int watch_scan_sync(struct watch *wa)
{
	struct spool *sp = &wa->disk->sp;
	struct scan s = { 0 };
	int ing = 0, rej = 0, wait = 0, rc;

	/* what a crash left in tmp/ first: a cut commit's orders are queued */
	if ((rc = watch_recover(wa->log, sp)) < 0)
		return rc;
	rc = spool_ingest_each(sp, said_ingest, wa, &ing, &rej, &wait);
	if (rc < 0)
		return rc;
	if (ing || rej)
		say(wa->log, "ingested %d dropped files, rejected %d", ing, rej);
	wa->ingested += (uint64_t)ing;
	wa->rejected += (uint64_t)rej;
	rc = scan_list(sp, &s);
	if (rc == 0) {
		size_t pos = 0;
		scan_apply(wa->core, &s, &pos, SIZE_MAX);
	}
	buf_release(&s.names);
	buf_release(&s.drops);	/* still being written: the first rescan retries them */
	return rc;
}

/* A rescan: the listing of new/, made on a reader, merged on the loop. */
struct watch_op {
	struct op op;
	struct watch *wa;
	struct scan s;
	int rc;
};

static void run_list_new(struct op *op, struct spool *sp)
{
	struct watch_op *l = container_of(op, struct watch_op, op);
	l->rc = scan_list(sp, &l->s);
}

/* The end of a rescan, merged or not. */
static void scan_finish(struct watch *wa, struct watch_op *l)
{
	buf_release(&l->s.names);
	buf_release(&l->s.drops);
	free(l);
	wa->merge = NULL;
	wa->scanning = 0;
	/* the listing was made on a pool thread, in its own malloc arena:
	 * hand those pages back rather than keep a scan's worth of memory */
	malloc_trim(0);
	if (wa->draining)
		return;
	if (wa->rescan_again) {
		wa->rescan_again = 0;
		watch_rescan(wa);
	} else {
		watch_schedule(wa);
	}
}

/*
 * Merge a listing into the index a slice per loop turn (MERGE_SLICE records,
 * a few milliseconds), so that a million-order rescan never holds up the
 * loop; requests and inotify events are served between slices. Entries
 * added meanwhile carry the new mark, so the sweep at the end spares them.
 */
#define MERGE_SLICE 16384

static void on_merge(uv_timer_t *t)
{
	struct watch *wa = t->data;
	struct watch_op *l = wa->merge;
	struct scan *s = &l->s;
	uint64_t t0 = uv_hrtime();
	int added;

	added = scan_apply(wa->core, s, &wa->merge_pos, MERGE_SLICE);
	wa->merge_added += added;
	if (added)
		core_dispatch(wa->core);
	if (wa->merge_pos < s->names.len) {
		wa->merge_ns += uv_hrtime() - t0;
		uv_timer_start(&wa->merge_timer, on_merge, 0, 0);
		return;
	}
	{
		size_t gone = index_sweep(&wa->core->ix);
		wa->merge_ns += uv_hrtime() - t0;
		wa->merge_ms = (int64_t)(wa->merge_ns / 1000000);
		if (wa->merge_added || gone)
			say(wa->log, "rescan: %d orders found, %zu gone",
			    wa->merge_added, gone);
	}
	scan_finish(wa, l);
}

static void done_list_new(struct op *op)
{
	struct watch_op *l = container_of(op, struct watch_op, op);
	struct watch *wa = l->wa;
	struct scan *s = &l->s;
	wa->scan_ms = (int64_t)((uv_hrtime() - wa->scan_t0) / 1000000);
	wa->scan_n = s->n;
	if (l->rc < 0 || wa->draining) {
		if (l->rc < 0)
			say(wa->log, "rescan failed: %s", strerror(-l->rc));
		scan_finish(wa, l);
		return;
	}
	/* the writer ingests just the drops the listing saw: it never lists
	 * new/ itself, so claims do not wait behind a directory walk */
	{
		const char *p = s->drops.data, *end = p ? p + s->drops.len : NULL;

		for (; p && p < end; p += strlen(p) + 1)
			ingest(wa, p);
	}
	wa->merge = l;
	wa->merge_pos = 0;
	wa->merge_added = 0;
	wa->merge_ns = 0;
	on_merge(&wa->merge_timer);
}

static void watch_abandon(struct watch *wa)
{
	if (wa->merge) {
		uv_timer_stop(&wa->merge_timer);
		scan_finish(wa, wa->merge);
	}
}

void watch_rescan(struct watch *wa)
{
	struct watch_op *l;
	if (wa->scanning) {
		wa->rescan_again = 1;
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		watch_schedule(wa);
		return;
	}
	l->op.kind = OP_READ;
	l->op.run = run_list_new;
	l->op.done = done_list_new;
	l->wa = wa;
	wa->scanning = 1;
	wa->scan_t0 = uv_hrtime();
	/* entries indexed from now on are not swept by this scan */
	index_mark_begin(&wa->core->ix);
	disk_submit(wa->disk, &l->op);
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
