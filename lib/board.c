/*
 * board: the leaderboard. Ranks the outcomes of done orders by one numeric
 * member (loss, metric, ...) and counts a sweep's orders per state, for
 * `spoolctl top` and `GET /v1/leaderboard`. Reads only. A run stopped early
 * (its outcome has "pruned", stop.h) is done but did not finish: its value
 * is not comparable with finished runs', so it is counted apart and ranked
 * only when asked (BOARD_PRUNED).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "stop.h"

struct walk {
	struct spool *sp;
	struct board *b;
	const char *key;
	const char *sweep;
	int flags;
	size_t cap;
	int count;		/* visit counts orders per state */
	struct buf job, out;
	int r;
};

/* 1 if the job's "sweep" member is sweep (or no sweep was asked for). */
static int in_sweep(const struct walk *w, const struct buf *job)
{
	struct json j;
	char err[8], name[256];
	int ok;

	if (!w->sweep)
		return 1;
	if (json_parse(&j, job->data, job->len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	ok = json_str(&j, json_get(&j, 0, "sweep"), name, sizeof(name)) == 0 &&
	     strcmp(name, w->sweep) == 0;
	json_release(&j);
	return ok;
}

static int visit(void *arg, const struct order *o)
{
	struct walk *w = arg;
	struct board *b = w->b;
	struct board_row *row;
	struct json j;
	char err[8];
	double v;
	int p, pruned;

	if (w->sweep || o->state == ST_DONE) {
		if (spool_read_job(w->sp, o->n.id, &w->job) < 0 || !in_sweep(w, &w->job))
			return 0;
	}
	if (w->count) {
		b->counts[o->state]++;
		b->total++;
	}
	if (o->state != ST_DONE || spool_read_outcome(w->sp, o, &w->out) < 0)
		return 0;
	if (json_parse(&j, w->out.data, w->out.len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	pruned = (p = json_get(&j, 0, "pruned")) >= 0 && j.tok[p].type == JSMN_OBJECT;
	b->pruned += pruned;
	if ((pruned && !(w->flags & BOARD_PRUNED)) ||
	    json_num(&j, json_get(&j, 0, w->key), &v) < 0 || !isfinite(v)) {
		json_release(&j);
		return 0;
	}
	json_release(&j);
	if (sp_reserve(&b->rows, &w->cap, b->n + 1, sizeof(*b->rows)) < 0)
		return -ENOMEM;
	row = &b->rows[b->n];
	memcpy(row->id, o->n.id, sizeof(row->id));
	row->pruned = pruned;
	row->value = v;
	while (w->job.len && w->job.data[w->job.len - 1] == '\n')
		w->job.data[--w->job.len] = '\0';
	row->outcome = strdup(w->out.data);
	row->job = strdup(w->job.data);
	if (!row->outcome || !row->job) {
		free(row->outcome);
		free(row->job);
		return -ENOMEM;
	}
	b->n++;
	return 0;
}

static int by_value_asc(const void *a, const void *b)
{
	const struct board_row *x = a, *y = b;

	return (x->value > y->value) - (x->value < y->value);
}

static int by_value_desc(const void *a, const void *b)
{
	return by_value_asc(b, a);
}

int spool_board(struct spool *sp, const char *key, int desc, size_t limit,
		const char *sweep, struct board *b)
{
	return spool_board_ex(sp, key, desc, limit, sweep, 0, b);
}

int spool_board_ex(struct spool *sp, const char *key, int desc, size_t limit,
		   const char *sweep, int flags, struct board *b)
{
	struct walk w;
	int st, r = 0;

	memset(b, 0, sizeof(*b));
	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.b = b;
	w.key = key;
	w.sweep = sweep;
	w.flags = flags;
	buf_init(&w.job, SPOOL_JOB_MAX + 64);
	buf_init(&w.out, SPOOL_OUTCOME_MAX + 2);
	if (!sweep) {
		/* counts come cheaper from the names alone */
		r = spool_count(sp, b->counts);
		for (st = 0; st < ST_COUNT; st++)
			b->total += b->counts[st];
		r = r < 0 ? r : spool_list(sp, ST_DONE, visit, &w);
	} else {
		w.count = 1;
		for (st = 0; st < ST_COUNT && r == 0; st++)
			r = spool_list(sp, st, visit, &w);
	}
	buf_release(&w.job);
	buf_release(&w.out);
	if (r == 0 && sweep && b->pruned) {
		struct buf sv;

		buf_init(&sv, 4096);
		if ((r = stop_savings_json(sp, sweep, &sv)) == 0 && !(b->saved = strdup(sv.data)))
			r = -ENOMEM;
		buf_release(&sv);
	}
	if (r < 0) {
		board_release(b);
		return r;
	}
	if (b->n)
		qsort(b->rows, b->n, sizeof(*b->rows), desc ? by_value_desc : by_value_asc);
	if (limit && b->n > limit) {
		size_t i;

		for (i = limit; i < b->n; i++) {
			free(b->rows[i].outcome);
			free(b->rows[i].job);
		}
		b->n = limit;
	}
	return 0;
}

void board_release(struct board *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->rows[i].outcome);
		free(b->rows[i].job);
	}
	free(b->rows);
	b->rows = NULL;
	b->n = 0;
	free(b->saved);
	b->saved = NULL;
}

int board_json(const struct board *b, const char *key, int desc, struct buf *out)
{
	size_t i;
	int st, r;

	r = buf_puts(out, "{\"key\":");
	if (r == 0)
		r = buf_json_str(out, key, strlen(key));
	if (r == 0)
		r = buf_printf(out, ",\"order\":\"%s\",\"total\":%ld,\"counts\":{", desc ? "desc" : "asc", b->total);
	for (st = 0; r == 0 && st < ST_COUNT; st++)
		r = buf_printf(out, "%s\"%s\":%ld", st ? "," : "", spool_state_name(st),
			       b->counts[st] - (st == ST_DONE ? b->pruned : 0));
	if (r == 0)
		r = buf_printf(out, ",\"pruned\":%ld}", b->pruned);
	if (r == 0 && b->saved)
		r = buf_printf(out, ",\"saved\":%s", b->saved);
	if (r == 0)
		r = buf_puts(out, ",\"rows\":[");
	for (i = 0; r == 0 && i < b->n; i++)
		r = buf_printf(out, "%s{\"rank\":%zu,\"id\":\"%s\",\"value\":%.17g,%s\"outcome\":%s,\"job\":%s}",
			       i ? "," : "", i + 1, b->rows[i].id, b->rows[i].value,
			       b->rows[i].pruned ? "\"pruned\":true," : "",
			       b->rows[i].outcome, b->rows[i].job);
	return r < 0 ? r : buf_puts(out, "]}");
}
