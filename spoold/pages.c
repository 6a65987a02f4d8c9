/*
 * pages: the two paged lists of the page (issue 14), read-only, each on a
 * reader (disk.c):
 *
 *	GET /v1/orders	 with sweep, after or reason: one page of orders
 *			 (state, sweep, a cursor, a limit); without them the
 *			 list of reads.c, answered as before
 *	GET /v1/results	 one page of a sweep's ranked runs with their parameters,
 *			 by an outcome key or (by=param) a job parameter
 *	GET /v1/orders/ID/attempts  an order's attempts, from the outcomes filed
 *
 * Neither sorts a whole listing: a page is one walk of a state's names
 * (spool_scan, no memory per name) keeping the first `limit` (or, ranked,
 * offset + limit) in a bounded heap. Which sweep an order belongs to comes
 * from the sweep table's id map (sweepmap.c: a job is read once per daemon
 * life).
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempts.h"
#include "handler.h"
#include "json.h"

#define RESULTS_PAGE_MAX  1000		/* rows of one /v1/results page */
#define PAGE_ORDERS_MAX	  10000		/* orders of one paged /v1/orders page */
#define RESULTS_DEPTH_MAX 10000		/* offset + limit of /v1/results */
#define RESULT_KEYS_MAX	  32		/* numeric outcome keys listed */
#define PARAM_TEXT_MAX	  256		/* bytes of a text parameter compared */

/* ---- a page of orders ---------------------------------------------------------- */

/*
 * An order's place in its state's listing: its name up to the id (priority,
 * due, stamp, id), unique and in claim order, and free of the claim token
 * the rest of a claimed name carries. The cursor is "STATE.KEY".
 */
static size_t key_len(const char *file)
{
	size_t i, dots = 0;
	for (i = 0; file[i]; i++)
		if (file[i] == '.' && ++dots == 4)
			break;
	return i;
}

static int key_cmp(const char *a, const char *b)
{
	size_t la = key_len(a), lb = key_len(b);
	int r = memcmp(a, b, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

/*
 * What a run ranked by a parameter is ranked by. The classes keep their
 * order whatever the direction (numbers, then texts, then runs without the
 * parameter); asc or desc orders within a class.
 */
enum rank_class { RANK_NUM, RANK_TEXT, RANK_NONE };

struct rank_text {
	unsigned char cls;		/* enum rank_class */
	char s[PARAM_TEXT_MAX];		/* RANK_TEXT: the first bytes */
};

/* The k smallest orders by key: a max-heap of at most cap. */
struct heap {
	struct order *o;
	size_t n, cap;
	double *v;		/* results: the value ranked (NULL: by key) */
	struct rank_text *t;	/* by a parameter: its class and text, else NULL */
	int desc;
};

/* Where a ranks against b by value (and class): <0, 0, >0, direction applied. */
static int heap_cmp_value(const struct heap *h, size_t a, size_t b)
{
	int r = 0;
	if (h->t && h->t[a].cls != h->t[b].cls)
		return h->t[a].cls < h->t[b].cls ? -1 : 1;	/* either direction */
	if (h->t && h->t[a].cls == RANK_NONE)
		return 0;
	if (h->t && h->t[a].cls == RANK_TEXT)
		r = strcmp(h->t[a].s, h->t[b].s);	/* bytewise: UTF-8 order */
	else if (h->v[a] != h->v[b])
		r = h->v[a] < h->v[b] ? -1 : 1;
	return h->desc ? -r : r;
}

/* 1 if a ranks after b (the heap's root is the last kept). */
static int heap_after(const struct heap *h, size_t a, size_t b)
{
	if (h->v) {
		int r = heap_cmp_value(h, a, b);
		if (r)
			return r > 0;
		return strcmp(h->o[a].n.id, h->o[b].n.id) > 0;
	}
	return key_cmp(h->o[a].file, h->o[b].file) > 0;
}

static void heap_swap(struct heap *h, size_t a, size_t b)
{
	struct order t = h->o[a];
	h->o[a] = h->o[b];
	h->o[b] = t;
	if (h->v) {
		double v = h->v[a];
		h->v[a] = h->v[b];
		h->v[b] = v;
	}
	if (h->t) {
		struct rank_text x = h->t[a];
		h->t[a] = h->t[b];
		h->t[b] = x;
	}
}

static void heap_down(struct heap *h, size_t i, size_t n)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && heap_after(h, l, m))
			m = l;
		if (r < n && heap_after(h, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

/* Offer o (value v; by a parameter, t too); kept when among the cap first. */
static int heap_offer(struct heap *h, const struct order *o, double v,
		      const struct rank_text *t)
{
	size_t i;
	if (h->n == h->cap) {
		/* compare with the root through a scratch slot past the end */
		h->o[h->n] = *o;
		if (h->v)
			h->v[h->n] = v;
		if (h->t)
			h->t[h->n] = *t;
		if (!heap_after(h, 0, h->n))
			return 0;
		heap_swap(h, 0, h->n);
		heap_down(h, 0, h->n);
		return 0;
	}
	i = h->n++;
	h->o[i] = *o;
	if (h->v)
		h->v[i] = v;
	if (h->t)
		h->t[i] = *t;
	while (i && heap_after(h, i, (i - 1) / 2)) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

/* Sort the heap in place, first first. */
static void heap_sort(struct heap *h)
{
	size_t n = h->n;
	while (n > 1) {
		heap_swap(h, 0, n - 1);
		heap_down(h, 0, --n);
	}
}

/* cap rows (+1 scratch); values too when ranked (ranked 2: by a parameter,
 * texts too, PARAM_TEXT_MAX + 1 bytes a row). 0 or -ENOMEM. */
static int heap_init(struct heap *h, size_t cap, int ranked, int desc)
{
	memset(h, 0, sizeof(*h));
	h->cap = cap;
	h->desc = desc;
	h->o = malloc((cap + 1) * sizeof(*h->o));
	if (ranked)
		h->v = malloc((cap + 1) * sizeof(*h->v));
	if (ranked == 2)
		h->t = malloc((cap + 1) * sizeof(*h->t));
	return !h->o || (ranked && !h->v) || (ranked == 2 && !h->t) ? -ENOMEM : 0;
}

static void heap_release(struct heap *h)
{
	free(h->o);
	free(h->v);
	free(h->t);
}

/* A request for one page (either list). */
struct page_req {
	struct hop h;
	struct sweepmap *m;
	int state;			/* -1: every state */
	int from;			/* the state the page starts in */
	int limit, reason;
	int offset, desc;		/* results */
	int by_param;			/* results: ranked by the job's param */
	char param[64];			/* results: that parameter */
	char sweep[SPOOL_WORKER_MAX + 1];	/* "": any */
	char after[SPOOL_NAME_MAX];	/* the cursor's key, "" none */
	char next[SPOOL_NAME_MAX + 8];	/* the next page's cursor, "" none */
	char key[64];			/* results: the key ranked */
};

#define page_of(opp) container_of(hop_of(opp), struct page_req, h)

struct page_walk {
	struct sweepmap *m;
	struct spool *sp;
	struct heap h;
	const char *sweep;	/* the sweep wanted, NULL: any */
	const char *after;	/* key in this state, or NULL */
	struct buf job;
};

static int page_visit(void *arg, const struct order *o)
{
	struct page_walk *pw = arg;
	if (pw->after && key_cmp(o->file, pw->after) <= 0)
		return 0;
	if (pw->sweep && !sweepmap_is(pw->m, sweepmap_of(pw->m, pw->sp, o->n.id,
						      &pw->job), pw->sweep))
		return 0;
	return heap_offer(&pw->h, o, 0, NULL);
}

/* The first line of the failed outcome's "error" (else its "status") as
 * "reason", and the last line of its "stderrTail" as "stderrLast". */
static void add_reason(struct spool *sp, const struct order *o, struct buf *b,
		       struct buf *tmp)
{
	char err[8], line[240];
	struct json j;
	int t;

	buf_reset(tmp);
	if (spool_read_outcome(sp, o, tmp) < 0 || !tmp->data ||
	    json_parse(&j, tmp->data, tmp->len, JSON_TOKENS_MAX, err, sizeof(err)) < 0) {
		buf_puts(b, ", \"reason\": null");
		return;
	}
	t = j.tok[0].type == JSMN_OBJECT ? json_get(&j, 0, "error") : -1;
	line[0] = '\0';
	if (t >= 0 && j.tok[t].type == JSMN_STRING) {
		size_t n;
		/* long messages are cut: a first line is what is shown */
		if (json_str(&j, t, line, sizeof(line)) < 0) {
			const char *raw = json_raw(&j, t, &n);
			snprintf(line, sizeof(line), "%.*s", (int)(n < 200 ? n : 200), raw);
		}
		line[strcspn(line, "\r\n")] = '\0';
		buf_puts(b, ", \"reason\": ");
		buf_json_str(b, line, strlen(line));
	} else if ((t = json_get(&j, 0, "status")) >= 0) {
		size_t n;
		const char *raw = json_raw(&j, t, &n);
		snprintf(line, sizeof(line), "status %.*s", (int)(n < 40 ? n : 40), raw);
		buf_puts(b, ", \"reason\": ");
		buf_json_str(b, line, strlen(line));
	} else {
		buf_puts(b, ", \"reason\": null");
	}
	t = json_get(&j, 0, "stderrTail");
	if (t >= 0 && j.tok[t].type == JSMN_STRING) {
		size_t n, cap;
		char *tail;
		json_raw(&j, t, &cap);	/* the decoded text is no longer */
		if ((tail = malloc(cap + 1)) && json_str(&j, t, tail, cap + 1) == 0) {
			char *last;
			n = strlen(tail);
			while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
				tail[--n] = '\0';
			last = strrchr(tail, '\n');
			last = last ? last + 1 : tail;
			n = strlen(last);
			if (n > 200) {	/* cut on a character boundary */
				n = 200;
				while (n && ((unsigned char)last[n] & 0xC0) == 0x80)
					n--;
			}
			buf_puts(b, ", \"stderrLast\": ");
			buf_json_str(b, last, n);
		}
		free(tail);
	}
	json_release(&j);
}

static void run_page(struct op *op, struct spool *sp)
{
	struct page_req *r = page_of(op);
	struct buf *out = &r->h.out;
	struct page_walk pw;
	struct buf tmp;
	int st = r->from, last = r->state >= 0 ? r->state : ST_COUNT - 1;
	int got = 0, rc = 0, emitted = 0, more = 0;
	size_t i = 0;

	memset(&pw, 0, sizeof(pw));
	pw.m = r->m;
	pw.sp = sp;
	pw.sweep = r->sweep[0] ? r->sweep : NULL;
	buf_init(&pw.job, SPOOL_JOB_MAX + 2);
	buf_init(&tmp, SPOOL_OUTCOME_MAX + 2);
	buf_puts(out, "[");
	r->next[0] = '\0';
	for (; st <= last && got < r->limit && !rc; st++) {
		pw.after = st == r->from && r->after[0] ? r->after : NULL;
		/* one more than needed, to know whether a next page exists */
		if ((rc = heap_init(&pw.h, (size_t)(r->limit - got) + 1, 0, 0)) < 0) {
			heap_release(&pw.h);
			break;
		}
		rc = spool_scan(sp, st, page_visit, &pw);
		if (rc == 0) {
			heap_sort(&pw.h);
			for (i = 0; i < pw.h.n && got < r->limit; i++, got++) {
				struct order *o = &pw.h.o[i];
				if (emitted++)
					buf_puts(out, ",\n");
				if ((rc = spool_order_json(sp, o, 0, out)) < 0)
					break;
				if (r->reason && o->state == ST_FAILED &&
				    out->len && out->data[out->len - 1] == '}') {
					out->data[--out->len] = '\0';
					add_reason(sp, o, out, &tmp);
					buf_puts(out, "}");
				}
				snprintf(r->next, sizeof(r->next), "%d.%.*s", st,
					 (int)key_len(o->file), o->file);
			}
			/* a full page: more follow if this state kept more, or
			 * states after it remain to be listed */
			more = got == r->limit && (i < pw.h.n || st < last);
		}
		heap_release(&pw.h);
	}
	if (!more)
		r->next[0] = '\0';
	buf_release(&pw.job);
	buf_release(&tmp);
	if (rc < 0) {
		r->next[0] = '\0';
		hop_errno(&r->h, sp, rc, "list the orders");
		return;
	}
	buf_puts(out, "]\n");
	r->h.status = 200;
}

/* As hop_reply, with the next page's cursor in a header. */
static void done_page(struct op *op)
{
	struct page_req *r = page_of(op);
	char extra[SPOOL_NAME_MAX + 64];

	if (!r->h.held.c || r->h.status != 200 || !r->next[0]) {
		hop_reply(&r->h);
		return;
	}
	snprintf(extra, sizeof(extra), "X-Spool-Next: %s\r\n", r->next);
	http_reply_take(r->h.held.c, r->h.status, r->h.ctype, &r->h.out, extra);
	hop_free(&r->h);
}

/* A new page request for c, the sweep given (sweep=) or "" (answered 400:
 * NULL). */
static struct page_req *page_new(struct conn *c, op_run_fn run, op_done_fn done)
{
	struct page_req *r;
	char sweep[SPOOL_WORKER_MAX + 1];
	int has = sweeps_param(c, "sweep", sweep);

	if (has < 0 || !(r = hop_new(c, sizeof(*r), OP_READ, run, done)))
		return NULL;
	r->m = &srv_of(c)->sweeps;
	if (has)
		memcpy(r->sweep, sweep, sizeof(sweep));
	return r;
}

void pages_orders(struct conn *c)
{
	struct page_req *r;
	char st[32], after[SPOOL_NAME_MAX], pr[80];
	const char *q = c->req.query;
	long limit, reason;
	int state = -1, from = 0, rc;

	/* the list clients had before the page: unchanged */
	if (query_get(q, "sweep", st, sizeof(st)) == 0 &&
	    query_get(q, "after", st, sizeof(st)) == 0 &&
	    query_get(q, "reason", st, sizeof(st)) == 0) {
		reads_orders(c);
		return;
	}
	rc = query_get(q, "state", st, sizeof(st));
	if (rc > 0 && st[0] && (state = spool_state_parse(st)) < 0) {
		http_error(c, 400, "unknown state '%s' (new, assigned, held, done, "
			   "failed, cancelled)", printable(st, pr));
		return;
	} else if (rc < 0) {
		http_error(c, 400, "bad state");
		return;
	}
	if (query_int(q, "limit", 1, PAGE_ORDERS_MAX, LIST_LIMIT_DEFAULT,
		      &limit) < 0) {
		http_error(c, 400, "limit must be 1 to %d", PAGE_ORDERS_MAX);
		return;
	}
	if (query_int(q, "reason", 0, 1, 0, &reason) < 0) {
		http_error(c, 400, "reason must be 0 or 1");
		return;
	}
	rc = query_get(q, "after", after, sizeof(after));
	if (rc > 0 && after[0]) {
		/* "STATE.KEY", as a previous page's X-Spool-Next said */
		struct order_name n;
		char full[SPOOL_NAME_MAX + 8];
		size_t i;
		int ok = after[0] >= '0' && after[0] < '0' + ST_COUNT && after[1] == '.';
		from = after[0] - '0';
		for (i = 2; ok && after[i]; i++)
			ok = (after[i] >= '0' && after[i] <= '9') ||
			     (after[i] >= 'a' && after[i] <= 'f') || after[i] == '.';
		/* the key must be an order name's head: complete it and parse */
		snprintf(full, sizeof(full), "%s.000.-", ok ? after + 2 : "");
		if (!ok || name_parse(full, &n) < 0 || (state >= 0 && from != state)) {
			http_error(c, 400, "after must be the cursor a previous page "
				   "gave in X-Spool-Next");
			return;
		}
		memmove(after, after + 2, strlen(after + 2) + 1);
	} else if (rc < 0) {
		http_error(c, 400, "after must be the cursor a previous page gave "
			   "in X-Spool-Next");
		return;
	} else {
		/* absent or empty: the first page */
		after[0] = '\0';
		from = state >= 0 ? state : 0;
	}
	if (!(r = page_new(c, run_page, done_page)))
		return;
	r->state = state;
	r->from = from;
	r->limit = (int)limit;
	r->reason = (int)reason;
	memcpy(r->after, after, sizeof(after));
	hop_submit(&r->h);
}

/* ---- a page of ranked results ------------------------------------------------ */

struct results_walk {
	struct sweepmap *m;
	struct spool *sp;
	struct heap h;
	const char *sweep;	/* NULL: any */
	const char *key;
	const char *param;	/* ranked by this job member, NULL: by key */
	long total;
	long pruned;		/* done runs stopped early, left out */
	long missing;		/* by a parameter: runs without it (last) */
	struct buf job, out;
	char keys[RESULT_KEYS_MAX][64];
	int nkeys;
};

/* The outcome's numeric members other than status: the keys one can rank by. */
static void note_keys(struct results_walk *rw, const struct json *j)
{
	int k, i;
	for (k = 1; k < j->ntok && j->tok[k].start < j->tok[0].end;
	     k = json_skip(j, k + 1)) {
		char name[64];
		double v;
		if (rw->nkeys >= RESULT_KEYS_MAX || json_eq(j, k, "status") ||
		    json_str(j, k, name, sizeof(name)) < 0 ||
		    j->tok[k + 1].type != JSMN_PRIMITIVE || json_num(j, k + 1, &v) < 0)
			continue;
		for (i = 0; i < rw->nkeys && strcmp(rw->keys[i], name); i++)
			;
		if (i == rw->nkeys)
			memcpy(rw->keys[rw->nkeys++], name, sizeof(name));
	}
}

/*
 * The rank of a run by its job's member name: a number as a number, a
 * string by its text (its first PARAM_TEXT_MAX - 1 bytes), any other value
 * (true, null, an array) by its JSON text; a job without it (or unread)
 * ranks last. *v gets the number.
 */
static void param_rank(struct spool *sp, const char *id, const char *name,
		       struct buf *job, struct rank_text *t, double *v)
{
	struct json j;
	char err[8];
	int k;

	t->cls = RANK_NONE;
	t->s[0] = '\0';
	*v = 0;
	buf_reset(job);
	if (spool_read_job(sp, id, job) < 0 || !job->data ||
	    json_parse(&j, job->data, job->len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return;
	k = j.tok[0].type == JSMN_OBJECT ? json_get(&j, 0, name) : -1;
	/* the members that are not parameters (add_params leaves them out) */
	if (k >= 1 && sweepmap_reserved(&j, k - 1))
		k = -1;
	if (k >= 0 && json_num(&j, k, v) == 0) {
		t->cls = RANK_NUM;
	} else if (k >= 0) {
		int rc = j.tok[k].type == JSMN_STRING ?
			 json_str(&j, k, t->s, sizeof(t->s)) : -EINVAL;
		if (rc == -E2BIG) {
			t->s[sizeof(t->s) - 1] = '\0';	/* a prefix was written */
		} else if (rc < 0) {
			size_t n;
			const char *raw = json_raw(&j, k, &n);
			snprintf(t->s, sizeof(t->s), "%.*s", (int)n, raw);
		}
		t->cls = RANK_TEXT;
	}
	json_release(&j);
}

static int results_visit(void *arg, const struct order *o)
{
	struct results_walk *rw = arg;
	struct json j;
	char err[8];
	double v;
	int t;

	if (rw->sweep && !sweepmap_is(rw->m, sweepmap_of(rw->m, rw->sp, o->n.id,
						      &rw->job), rw->sweep))
		return 0;
	buf_reset(&rw->out);
	if (spool_read_outcome(rw->sp, o, &rw->out) < 0 || !rw->out.data ||
	    json_parse(&j, rw->out.data, rw->out.len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	t = j.tok[0].type == JSMN_OBJECT ? json_get(&j, 0, "pruned") : -1;
	if (t >= 0 && !json_eq(&j, t, "false") && !json_eq(&j, t, "null")) {
		/* stopped early: not ranked, as the leaderboard does */
		rw->pruned++;
	} else if (j.tok[0].type == JSMN_OBJECT) {
		note_keys(rw, &j);
		if (rw->param) {
			/* every run ranked: by the parameter, reported or not */
			struct rank_text rt;
			param_rank(rw->sp, o->n.id, rw->param, &rw->job, &rt, &v);
			rw->total++;
			rw->missing += rt.cls == RANK_NONE;
			heap_offer(&rw->h, o, v, &rt);
		} else {
			t = json_get(&j, 0, rw->key);
			if (t >= 0 && json_num(&j, t, &v) == 0 && isfinite(v)) {
				rw->total++;
				heap_offer(&rw->h, o, v, NULL);
			}
		}
	}
	json_release(&j);
	return 0;
}

/* Append the job's parameters (every member but _id, sweep, spool) as an object. */
static void add_params(struct buf *b, const struct buf *job)
{
	struct json j;
	char err[8];
	int k, n = 0;

	if (!job->data || json_parse(&j, job->data, job->len, JSON_TOKENS_MAX, err,
				     sizeof(err)) < 0) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, "{");
	for (k = 1; j.tok[0].type == JSMN_OBJECT && k < j.ntok &&
		    j.tok[k].start < j.tok[0].end; k = json_skip(&j, k + 1)) {
		if (sweepmap_reserved(&j, k))
			continue;
		buf_puts(b, n++ ? ", " : "");
		json_append_raw(&j, k, b);
		buf_puts(b, ": ");
		json_append_raw(&j, k + 1, b);
	}
	buf_puts(b, "}");
	json_release(&j);
}

/* The outcome's finite number key into *v: 1, else 0. */
static int outcome_num(const struct buf *out, int has, const char *key, double *v)
{
	struct json j;
	char err[8];
	int t, ok;

	if (!has || json_parse(&j, out->data, out->len, JSON_TOKENS_MAX, err,
			       sizeof(err)) < 0)
		return 0;
	t = j.tok[0].type == JSMN_OBJECT ? json_get(&j, 0, key) : -1;
	ok = t >= 0 && json_num(&j, t, v) == 0 && isfinite(*v);
	json_release(&j);
	return ok;
}

static void run_results(struct op *op, struct spool *sp)
{
	struct page_req *r = page_of(op);
	struct results_walk rw;
	struct buf *b = &r->h.out;
	int offset = r->offset, rc, i;
	size_t k;

	memset(&rw, 0, sizeof(rw));
	rw.m = r->m;
	rw.sp = sp;
	rw.key = r->key;
	rw.param = r->by_param ? r->param : NULL;
	rw.sweep = r->sweep[0] ? r->sweep : NULL;
	if (heap_init(&rw.h, (size_t)(offset + r->limit), r->by_param ? 2 : 1,
		      r->desc) < 0) {
		heap_release(&rw.h);
		hop_error(&r->h, 500, "out of memory");
		return;
	}
	buf_init(&rw.job, SPOOL_JOB_MAX + 2);
	buf_init(&rw.out, SPOOL_OUTCOME_MAX + 2);
	rc = spool_scan(sp, ST_DONE, results_visit, &rw);
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "rank the outcomes");
		goto out;
	}
	heap_sort(&rw.h);
	buf_puts(b, "{\"sweep\": ");
	if (r->sweep[0])
		buf_json_str(b, r->sweep, strlen(r->sweep));
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"key\": ");
	buf_json_str(b, r->key, strlen(r->key));
	buf_printf(b, ", \"order\": \"%s\", \"by\": \"%s\"", r->desc ? "desc" : "asc",
		   r->by_param ? "param" : "key");
	if (r->by_param) {
		buf_puts(b, ", \"param\": ");
		buf_json_str(b, r->param, strlen(r->param));
		buf_printf(b, ", \"missing\": %ld", rw.missing);
	}
	buf_printf(b, ", \"total\": %ld, \"pruned\": %ld, \"offset\": %d, \"keys\": [",
		   rw.total, rw.pruned, offset);
	for (i = 0; i < rw.nkeys; i++) {
		buf_puts(b, i ? ", " : "");
		buf_json_str(b, rw.keys[i], strlen(rw.keys[i]));
	}
	buf_puts(b, "],\n \"rows\": [");
	for (k = (size_t)offset; k < rw.h.n; k++) {
		struct order *o = &rw.h.o[k];
		char num[40];
		int has_out;
		buf_reset(&rw.out);
		has_out = spool_read_outcome(sp, o, &rw.out) == 0 && rw.out.data;
		/* by a parameter, the value is the outcome's key, when it has it */
		if (r->by_param && !outcome_num(&rw.out, has_out, r->key, &rw.h.v[k])) {
			strcpy(num, "null");
		} else {
			/* the shortest text that reads back as the same double */
			snprintf(num, sizeof(num), "%.15g", rw.h.v[k]);
			if (strtod(num, NULL) != rw.h.v[k])
				snprintf(num, sizeof(num), "%.17g", rw.h.v[k]);
		}
		buf_printf(b, "%s\n  {\"rank\": %zu, \"id\": \"%s\", \"value\": %s, "
			   "\"params\": ", k > (size_t)offset ? "," : "", k + 1,
			   o->n.id, num);
		buf_reset(&rw.job);
		if (spool_read_job(sp, o->n.id, &rw.job) < 0)
			buf_reset(&rw.job);
		add_params(b, &rw.job);
		buf_puts(b, ", \"outcome\": ");
		if (has_out) {
			while (rw.out.len && (rw.out.data[rw.out.len - 1] == '\n' ||
					      rw.out.data[rw.out.len - 1] == ' '))
				rw.out.data[--rw.out.len] = '\0';
			buf_add(b, rw.out.data, rw.out.len);
		} else {
			buf_puts(b, "null");
		}
		buf_puts(b, "}");
	}
	buf_puts(b, "]}\n");
	r->h.status = 200;
out:
	heap_release(&rw.h);
	buf_release(&rw.job);
	buf_release(&rw.out);
}

void pages_results(struct conn *c)
{
	struct page_req *r;
	char key[64], by[8], param[64];
	long limit, offset;
	int rc, has_param, desc;

	if (query_key(c->req.query, "loss", key) < 0) {
		http_error(c, 400, "key must be 1 to 63 of [A-Za-z0-9_.-]");
		return;
	}
	rc = query_get(c->req.query, "by", by, sizeof(by));
	if (rc == 0)
		strcpy(by, "key");
	if (rc < 0 || (strcmp(by, "key") && strcmp(by, "param"))) {
		http_error(c, 400, "by must be key or param");
		return;
	}
	has_param = query_get(c->req.query, "param", param, sizeof(param));
	if (!strcmp(by, "param") && (has_param <= 0 || !member_name_ok(param))) {
		http_error(c, 400, "by=param needs param, 1 to 63 of [A-Za-z0-9_.-]");
		return;
	}
	if (!strcmp(by, "key") && has_param) {
		/* a param alone would be ranked by key: say so rather than mislead */
		http_error(c, 400, "param ranks only with by=param");
		return;
	}
	if (query_order(c->req.query, &desc) < 0) {
		http_error(c, 400, "order must be asc or desc");
		return;
	}
	if (query_int(c->req.query, "limit", 1, RESULTS_PAGE_MAX, 50, &limit) < 0) {
		http_error(c, 400, "limit must be 1 to %d", RESULTS_PAGE_MAX);
		return;
	}
	if (query_int(c->req.query, "offset", 0, RESULTS_DEPTH_MAX - limit, 0,
		      &offset) < 0) {
		http_error(c, 400, "offset must be 0 to %ld (offset + limit at most %d)",
			   RESULTS_DEPTH_MAX - limit, RESULTS_DEPTH_MAX);
		return;
	}
	if (!(r = page_new(c, run_results, hop_done)))
		return;
	r->limit = (int)limit;
	r->offset = (int)offset;
	r->desc = desc;
	memcpy(r->key, key, sizeof(key));
	r->by_param = !strcmp(by, "param");
	if (r->by_param)
		memcpy(r->param, param, sizeof(param));
	hop_submit(&r->h);
}

/* ---- an order's attempts --------------------------------------------------------- */

static void run_attempts(struct op *op, struct spool *sp)
{
	struct page_req *r = page_of(op);
	int rc = spool_attempts_json(sp, r->key, &r->h.out);
	if (rc < 0) {
		buf_reset(&r->h.out);
		hop_errno(&r->h, sp, rc, "list the attempts");
		return;
	}
	buf_puts(&r->h.out, "\n");
	r->h.status = 200;
}

void pages_attempts(struct conn *c)
{
	struct page_req *r;
	char id[SPOOL_ID_LEN + 1];
	if (seg_id(c, 2, id) < 0)
		return;
	if (!(r = hop_new(c, sizeof(*r), OP_READ, run_attempts, hop_done)))
		return;
	memcpy(r->key, id, sizeof(id));
	hop_submit(&r->h);
}
