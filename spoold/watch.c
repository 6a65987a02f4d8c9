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

#include "spoold.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MOVED_FROM | \
		    IN_DELETE)
#define SCAN_MAX ((size_t)1 << 30)	/* bytes of names one rescan may list */

/* ---- tags of a tagged order ------------------------------------------------- */

static void run_tags(struct op *op, struct spool *sp)
{
	struct job_opts opts;
	int64_t created;
	int i;
	op->rc = spool_read_opts(sp, &op->o, &opts, &created);
	if (op->rc < 0)
		return;
	op->cl.ntags = opts.ntags;
	for (i = 0; i < opts.ntags && i < SPOOL_TAGS_MAX; i++) {
		memcpy(op->tagv[i], opts.tags[i], sizeof(op->tagv[i]));
		op->tags[i] = op->tagv[i];
	}
}

static void done_tags(struct server *srv, struct op *op)
{
	if (op->rc == 0) {
		struct tagset *ts = index_tagset(&srv->ix, op->cl.ntags, op->tags);
		if (index_add(&srv->ix, op->o.file, &op->o.n, ts) > 0)
			claim_dispatch(srv);
	}
	op_free(op);
}

/* ---- drops --------------------------------------------------------------------- */

static void run_ingest(struct op *op, struct spool *sp)
{
	op->rc = spool_ingest(sp, op->file, op->id);
	if (op->rc == 2)
		buf_puts(&op->out, spool_error(sp));
	else if (op->rc < 0 && op->rc != -ENOENT)
		buf_puts(&op->out, spool_error(sp)[0] ? spool_error(sp)
						      : strerror(-op->rc));
}

static void done_ingest(struct server *srv, struct op *op)
{
	char pr[80];
	printable(op->file, pr);
	if (op->rc == 0) {
		srv->m.ingested++;
		say(srv, "ingest '%s' as %s", pr, op->id);
	} else if (op->rc == 2) {
		srv->m.rejected++;
		say(srv, "reject '%s': %s", pr, op->out.data ? op->out.data : "");
	} else if (op->rc < 0 && op->rc != -ENOENT) {
		say(srv, "ingest '%s' failed: %s", pr,
		    op->out.data ? op->out.data : "");
	}
	op_free(op);
}

static void ingest(struct server *srv, const char *name)
{
	struct op *op = op_new(run_ingest, done_ingest, 0);
	if (!op)
		return;
	snprintf(op->file, sizeof(op->file), "%s", name);
	op->durable = 1;
	disk_submit(srv, op);
}

/* ---- names ------------------------------------------------------------------------ */

/* An order name (queued form) seen in new/. 1 if it went into the index. */
static int order_seen(struct server *srv, const char *name,
		      const struct order_name *n)
{
	struct op *op;
	if (n->claimed)
		return 0;	/* not a queued name: not claimable from new/ */
	if (!n->tagged)
		return index_add(&srv->ix, name, n, NULL) > 0;
	op = op_new(run_tags, done_tags, 1);
	if (!op)
		return 0;
	op->o.state = ST_NEW;
	snprintf(op->o.file, sizeof(op->o.file), "%s", name);
	op->o.n = *n;
	disk_submit(srv, op);
	return 0;
}

void watch_order(struct server *srv, const struct order *o)
{
	if (o->state == ST_NEW && order_seen(srv, o->file, &o->n))
		claim_dispatch(srv);
}

void watch_name(struct server *srv, const char *name)
{
	struct order_name n;
	if (name[0] == '.' || strlen(name) >= SPOOL_NAME_MAX)
		return;
	if (name_parse(name, &n) == 0)
		order_seen(srv, name, &n);
	else
		ingest(srv, name);
}

static void on_inotify(uv_poll_t *p, int status, int events)
{
	struct server *srv = p->data;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	int added = 0, rescan = 0;

	for (;;) {
		ssize_t n = read(srv->inotify_fd, buf, sizeof(buf));
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
					index_del(&srv->ix, ev->name);
				else
					added += order_seen(srv, ev->name, &on);
			} else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
				ingest(srv, ev->name);
			}
		}
	}
	if (rescan) {
		say(srv, "inotify queue overflowed: rescanning new/");
		watch_rescan(srv);
	}
	if (added)
		claim_dispatch(srv);
}

int watch_start(struct server *srv)
{
	char path[4096];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/new", srv->sp.path);
	if (inotify_add_watch(fd, path, WATCH_MASK) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	srv->inotify_fd = fd;
	uv_poll_init(srv->loop, &srv->inotify_poll, fd);
	srv->inotify_poll.data = srv;
	uv_poll_start(&srv->inotify_poll, UV_READABLE, on_inotify);
	return 0;
}

static void on_poll_close(uv_handle_t *h)
{
	struct server *srv = h->data;
	close(srv->inotify_fd);
	srv->inotify_fd = -1;
}

void watch_stop(struct server *srv)
{
	if (srv->inotify_fd >= 0 && !uv_is_closing((uv_handle_t *)&srv->inotify_poll))
		uv_close((uv_handle_t *)&srv->inotify_poll, on_poll_close);
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
static int scan_apply(struct server *srv, const struct scan *s, size_t *pos,
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
			added += index_add(&srv->ix, name, &n, NULL) > 0;
		} else {
			char tv[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
			const char *tp[SPOOL_TAGS_MAX];
			int nt = 0, i;
			if (tags_parse(tags, tv, &nt) < 0)
				continue;
			for (i = 0; i < nt; i++)
				tp[i] = tv[i];
			added += index_add(&srv->ix, name, &n,
					   index_tagset(&srv->ix, nt, tp)) > 0;
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

int watch_recover(struct server *srv, struct spool *sp)
{
	struct recover_opts ro = { 1, 0, sp->stale_ms, said_recover, srv };
	int rc = spool_recover(sp, &ro, NULL);

	return rc < 0 ? rc : 0;
}

/* One log line per dropped file ingested at start. */
static void said_ingest(void *arg, const char *name, int rc, const char *id,
			const char *why)
{
	struct server *srv = arg;

	if (rc == 0)
		say(srv, "ingest '%.100s' as %s", name, id);
	else if (rc == 2)
		say(srv, "reject '%.100s': %s", name, why);
}

int watch_scan_sync(struct server *srv)
{
	struct scan s = { 0 };
	int ing = 0, rej = 0, wait = 0, rc;

	/* what a crash left in tmp/ first: a cut commit's orders are queued */
	if ((rc = watch_recover(srv, &srv->sp)) < 0)
		return rc;
	rc = spool_ingest_each(&srv->sp, said_ingest, srv, &ing, &rej, &wait);
	if (rc < 0)
		return rc;
	if (ing || rej)
		say(srv, "ingested %d dropped files, rejected %d", ing, rej);
	srv->m.ingested += (uint64_t)ing;
	srv->m.rejected += (uint64_t)rej;
	rc = scan_list(&srv->sp, &s);
	if (rc == 0) {
		size_t pos = 0;
		scan_apply(srv, &s, &pos, SIZE_MAX);
	}
	buf_release(&s.names);
	buf_release(&s.drops);	/* still being written: the first rescan retries them */
	return rc;
}

static void run_list_new(struct op *op, struct spool *sp)
{
	struct scan *s = op->data;
	op->rc = scan_list(sp, s);
}

/* The end of a rescan, merged or not. */
static void scan_finish(struct server *srv, struct op *op)
{
	struct scan *s = op->data;
	buf_release(&s->names);
	buf_release(&s->drops);
	op_free(op);
	srv->merge = NULL;
	srv->scanning = 0;
	/* the listing was made on a pool thread, in its own malloc arena:
	 * hand those pages back rather than keep a scan's worth of memory */
	malloc_trim(0);
	if (srv->draining)
		return;
	if (srv->rescan_again) {
		srv->rescan_again = 0;
		watch_rescan(srv);
	} else {
		watch_schedule(srv);
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
	struct server *srv = t->data;
	struct op *op = srv->merge;
	struct scan *s = op->data;
	uint64_t t0 = uv_hrtime();
	int added;

	added = scan_apply(srv, s, &srv->merge_pos, MERGE_SLICE);
	srv->merge_added += added;
	if (added)
		claim_dispatch(srv);
	if (srv->merge_pos < s->names.len) {
		srv->merge_ns += uv_hrtime() - t0;
		uv_timer_start(&srv->merge_timer, on_merge, 0, 0);
		return;
	}
	{
		size_t gone = index_sweep(&srv->ix);
		srv->merge_ns += uv_hrtime() - t0;
		srv->merge_ms = (int64_t)(srv->merge_ns / 1000000);
		if (srv->merge_added || gone)
			say(srv, "rescan: %d orders found, %zu gone",
			    srv->merge_added, gone);
	}
	scan_finish(srv, op);
}

static void done_list_new(struct server *srv, struct op *op)
{
	struct scan *s = op->data;
	srv->scan_ms = (int64_t)((uv_hrtime() - srv->scan_t0) / 1000000);
	srv->scan_n = s->n;
	if (op->rc < 0 || srv->draining) {
		if (op->rc < 0)
			say(srv, "rescan failed: %s", strerror(-op->rc));
		scan_finish(srv, op);
		return;
	}
	/* the writer ingests just the drops the listing saw: it never lists
	 * new/ itself, so claims do not wait behind a directory walk */
	{
		const char *p = s->drops.data, *end = p ? p + s->drops.len : NULL;

		for (; p && p < end; p += strlen(p) + 1)
			ingest(srv, p);
	}
	srv->merge = op;
	srv->merge_pos = 0;
	srv->merge_added = 0;
	srv->merge_ns = 0;
	on_merge(&srv->merge_timer);
}

void watch_abandon(struct server *srv)
{
	if (srv->merge) {
		uv_timer_stop(&srv->merge_timer);
		scan_finish(srv, srv->merge);
	}
}

void watch_rescan(struct server *srv)
{
	struct op *list;
	if (srv->scanning) {
		srv->rescan_again = 1;
		return;
	}
	list = op_new(run_list_new, done_list_new, 1);
	if (!list || !(list->data = calloc(1, sizeof(struct scan)))) {
		op_free(list);
		watch_schedule(srv);
		return;
	}
	srv->scanning = 1;
	srv->scan_t0 = uv_hrtime();
	/* entries indexed from now on are not swept by this scan */
	index_mark_begin(&srv->ix);
	disk_submit(srv, list);
}

static void on_rescan_timer(uv_timer_t *t)
{
	struct server *srv = t->data;
	if (!srv->draining)
		watch_rescan(srv);
}

/*
 * A rescan is for what inotify cannot see (other NFS hosts, an overflow):
 * it may cost at most 1/RESCAN_STRETCH of the time, so a million-order
 * queue is not listed and merged over and over while claims wait for CPU.
 */
#define RESCAN_STRETCH 20

void watch_schedule(struct server *srv)
{
	int64_t ms = srv->cfg.rescan_ms, cost = srv->scan_ms + srv->merge_ms;
	if (ms <= 0 || srv->draining)
		return;
	if (ms < cost * RESCAN_STRETCH)
		ms = cost * RESCAN_STRETCH;
	uv_timer_start(&srv->rescan_timer, on_rescan_timer, (uint64_t)ms, 0);
}
