/*
 * live: a run's log and metrics series, handed over while the run lasts.
 *
 * exec's poll loop gives every chunk of output to live_output, which only
 * copies it into memory: the head of the log (the bytes the final log
 * starts with: the first half of --log-max, at most SPOOL_LOG_MAX) and the
 * stdout lines that are JSON objects with a numeric "step" or "epoch" (the
 * series, capped as spool-layout.md says). The heartbeat (slot.c's on_beat,
 * about every second) calls live_beat, which hands what is new to the
 * store: appended to the spool by a local runner, posted by offset to the
 * boss by a remote one. The first hand-over of a run replaces what an
 * earlier run of the same attempt number left (a released claim keeps its
 * number); then appends follow, and a 409 from the boss resyncs to the
 * length it gives. A boss that does not answer is tried again 5 s later;
 * what it has not taken stays in memory, under the same caps, and the
 * whole log reaches it at the end through the outbox as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "runner.h"

#define LIVE_LINE_MAX (64 << 10)	/* a longer stdout line is not a point */
#define LIVE_POST_MAX (1 << 20)		/* bytes per request */
#define LIVE_RETRY_MS 5000		/* after a transport failure */
#define LIVE_TIMEOUT_S 5

static void stream_init(struct live_stream *st, size_t cap)
{
	buf_init(&st->data, cap);
	st->sent = 0;
	st->put = 0;
}

void live_begin(struct live *lv, struct claimer *cl, struct task *t, size_t log_max)
{
	size_t head = log_max - log_max / 2;	/* exec's head: the final log's first bytes */

	memset(lv, 0, sizeof(*lv));
	lv->cl = cl;
	lv->t = t;
	lv->remote = cl->rn->boss_url != NULL;
	stream_init(&lv->log, head < SPOOL_LOG_MAX ? head : SPOOL_LOG_MAX);
	stream_init(&lv->series, SPOOL_SERIES_MAX + sizeof(SPOOL_SERIES_MARK) + 1);
	buf_init(&lv->line, LIVE_LINE_MAX);
	buf_init(&lv->fixed, LIVE_LINE_MAX + 64);
	lv->on = 1;
}

/* A step or epoch that is there: 1 a number, -1 something else, 0 absent. */
static int step_kind(const struct json *j)
{
	static const char *const keys[] = { "step", "epoch" };
	int found = 0;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int i = json_get(j, 0, keys[k]);
		double v;

		if (i < 0)
			continue;
		if (json_num(j, i, &v) < 0)
			return -1;
		found = 1;
	}
	return found;
}

static void series_add(struct live *lv, const char *s, size_t n)
{
	struct buf *d = &lv->series.data;

	if (lv->series_capped)
		return;
	if (lv->series_lines >= SPOOL_SERIES_LINES || d->len + n + 1 > SPOOL_SERIES_MAX) {
		buf_puts(d, SPOOL_SERIES_MARK "\n");	/* room kept for it */
		lv->series_capped = 1;
		return;
	}
	if (buf_add(d, s, n) < 0 || buf_puts(d, "\n") < 0) {
		lv->series_capped = 1;	/* out of memory: what is kept stays */
		return;
	}
	lv->series_lines++;
}

static void line_end(struct live *lv)
{
	const char *s = lv->line.data;
	size_t n = lv->line.len;
	struct json j;
	int kind;

	if (lv->line_over || !n)
		goto out;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		goto out;
	if (json_validate(s, n, NULL, 0) < 0) {
		/* Python prints NaN and Infinity, which JSON has not: as null */
		if (exec_nonfinite_null(s, n, &lv->fixed) <= 0 ||
		    json_validate(lv->fixed.data, lv->fixed.len, NULL, 0) < 0)
			goto out;
		s = lv->fixed.data;
		n = lv->fixed.len;
	}
	if (json_parse(&j, s, n, 4096, NULL, 0) < 0)
		goto out;
	kind = j.tok[0].type == JSMN_OBJECT ? step_kind(&j) : 0;
	json_release(&j);
	if (kind > 0) {
		series_add(lv, s, n);
	} else if (kind < 0) {
		if (!lv->bad_steps++) {
			snprintf(lv->bad_first, sizeof(lv->bad_first), "%.*s",
				 (int)(n < 100 ? n : 100), s);
			say(lv->cl->rn, "slot %d: %s attempt %d: a metrics line with a step or "
			    "epoch that is not a number, not kept in the series: %s",
			    lv->cl->slot, lv->t->id, lv->t->attempt, lv->bad_first);
		}
	}
out:
	buf_reset(&lv->line);
	lv->line_over = 0;
}

void live_output(void *arg, int fd, const char *p, size_t n)
{
	struct live *lv = arg;
	struct buf *d = &lv->log.data;

	if (!lv->on)
		return;
	if (d->len < d->max) {
		size_t k = d->max - d->len < n ? d->max - d->len : n;

		if (buf_add(d, p, k) < 0)
			d->max = d->len;	/* out of memory: the final log still has it */
	}
	if (fd != 1)
		return;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		if (!lv->line_over && buf_add(&lv->line, p, k) < 0) {
			lv->line_over = 1;
			buf_reset(&lv->line);
		}
		if (nl) {
			line_end(lv);
			k++;
		}
		p += k;
		n -= k;
	}
}

/* ---- handing over --------------------------------------------------------- */

/* The store's length from a 409's {"size": N}; -1 when it has none. */
static int64_t reply_size(struct boss *b)
{
	struct json j;
	int64_t v = -1;
	int i;

	if (json_parse(&j, b->reply.data, b->reply.len, 256, NULL, 0) < 0)
		return -1;
	if (j.tok[0].type == JSMN_OBJECT && (i = json_get(&j, 0, "size")) >= 0 &&
	    json_int(&j, i, &v) < 0)
		v = -1;
	json_release(&j);
	return v;
}

/*
 * One hand-over of st's new bytes (kind "log" or "series"): the first a
 * whole put, then appends by offset. 0 (done, or nothing to do), 1 (more
 * to send now), -1 (the store cannot be reached: later), -2 (give up).
 */
static int hand(struct live *lv, struct live_stream *st, const char *kind)
{
	struct claimer *cl = lv->cl;
	struct task *t = lv->t;
	size_t len = st->data.len, n;
	const char *p;
	int64_t size = 0;
	int r;

	if (st->put && st->sent >= len)
		return 0;
	if (!st->put && !len && lv->ending)
		return 0;	/* a short run with nothing to say: no file */
	if (!st->put) {
		st->sent = 0;
		n = len;
	} else {
		n = len - st->sent;
	}
	/* the series in whole lines only (it grows by whole lines: always) */
	if (n > LIVE_POST_MAX) {
		if (st->put || !strcmp(kind, "log"))
			n = LIVE_POST_MAX;
		if (!strcmp(kind, "series"))
			while (n && st->data.data[st->sent + n - 1] != '\n')
				n--;
	}
	p = st->data.data + st->sent;
	if (!lv->remote) {
		if (!st->put)
			r = !strcmp(kind, "log")
			    ? spool_log_put(&cl->sp, t->id, t->attempt, p, n)
			    : spool_series_put(&cl->sp, t->id, t->attempt, p, n);
		else
			r = !strcmp(kind, "log")
			    ? spool_log_append(&cl->sp, t->id, t->attempt, (int64_t)st->sent,
					       p, n, &size)
			    : spool_series_append(&cl->sp, t->id, t->attempt,
						  (int64_t)st->sent, p, n, &size);
		if (r == -ESPIPE) {
			st->put = 0;	/* someone else wrote: start it over */
			return 1;
		}
		if (r < 0) {
			say(cl->rn, "slot %d: %s: cannot keep the live %s: %s", cl->slot, t->id,
			    kind, spool_error(&cl->sp));
			return -2;
		}
	} else {
		char path[256];
		struct boss *b = &cl->b;

		if (!st->put)
			snprintf(path, sizeof(path), "/v1/orders/%s/%s?token=%s", t->id, kind,
				 t->token);
		else
			snprintf(path, sizeof(path), "/v1/orders/%s/%s?token=%s&offset=%zu",
				 t->id, kind, t->token, st->sent);
		if (boss_request(b, "POST", path, p, n, LIVE_TIMEOUT_S, 0) < 0 ||
		    b->status >= 500)
			return -1;
		if (b->status == 409 && st->put && (size = reply_size(b)) >= 0) {
			/* a gap or an overlap: resync to what the boss has */
			if ((uint64_t)size > len) {
				st->put = 0;	/* not ours: start it over */
			} else {
				st->sent = (size_t)size;
			}
			return 1;
		}
		if (b->status != 200) {
			if (!lv->said) {
				lv->said = 1;
				say(cl->rn, "slot %d: %s: the boss did not take the live %s "
				    "(HTTP %ld: %.200s); it gets the log at the end", cl->slot,
				    t->id, kind, b->status, b->reply.data ? b->reply.data : "");
			}
			return -2;
		}
	}
	st->put = 1;
	st->sent += n;
	return st->sent < st->data.len ? 1 : 0;
}

static void hand_all(struct live *lv)
{
	struct live_stream *sts[2] = { &lv->log, &lv->series };
	const char *kinds[2] = { "log", "series" };
	int i, k, r;

	if (!lv->on || mono_ms() < lv->retry_at)
		return;
	for (i = 0; i < 2; i++) {
		for (k = 0; k < 8 && (r = hand(lv, sts[i], kinds[i])) == 1; k++)
			;
		if (r == -1) {
			lv->retry_at = mono_ms() + LIVE_RETRY_MS;
			return;
		}
		if (r == -2) {
			lv->on = 0;	/* the final log, as before */
			return;
		}
	}
}

void live_beat(struct live *lv)
{
	if (lv)
		hand_all(lv);
}

void live_end(struct live *lv, struct buf *log)
{
	if (lv->line.len)
		line_end(lv);	/* a last line without its newline */
	/* the log itself goes whole with the outcome, as before; the series
	 * has no other way */
	lv->ending = 1;
	lv->log.put = 1;
	lv->log.sent = lv->log.data.len;
	lv->retry_at = 0;
	hand_all(lv);
	if (lv->bad_steps) {
		if (log->len && log->data[log->len - 1] != '\n')
			buf_puts(log, "\n");
		buf_printf(log, "[runner: %d metrics line%s with a step or epoch that is not a "
			   "number %s not kept in the series; the first: %s]\n", lv->bad_steps,
			   lv->bad_steps == 1 ? "" : "s", lv->bad_steps == 1 ? "was" : "were",
			   lv->bad_first);
	}
}

void live_release(struct live *lv)
{
	buf_release(&lv->log.data);
	buf_release(&lv->series.data);
	buf_release(&lv->line);
	buf_release(&lv->fixed);
}
