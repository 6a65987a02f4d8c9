/*
 * index: the daemon's in-memory claim order of new/.
 *
 * The names of new/ sort in claim order (priority, then due time, then
 * submission stamp), but a single sorted set would let an order that is not
 * due yet, or that needs a tag, block the due ones behind it. So the index is
 * split into queues, one per (priority, required tag set); within a queue
 * the name order is due order, so only a queue's head needs to be looked at.
 * A claim looks at the heads of the queues of the highest priority that has
 * an eligible head: O(queues + log n), and the number of queues is the
 * number of distinct (priority, tags) combinations in use, which is small.
 *
 * Each queue is a treap keyed by the file name, its node priorities derived
 * from a hash of the name (nothing stored). A node is two pointers, the due
 * time, a mark bit for rescans and the name itself: about 110 bytes of heap
 * per queued order with malloc's overhead.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct inode {
	struct inode *l, *r;
	int64_t due;
	uint8_t mark;
	char name[];
};

struct queue {
	int priority;
	struct tagset *ts;	/* NULL: no tags needed */
	struct inode *root;
	size_t n;
};

void index_init(struct index *ix)
{
	memset(ix, 0, sizeof(*ix));
}

static void tree_free(struct inode *t)
{
	while (t) {
		struct inode *r = t->r;
		tree_free(t->l);
		free(t);
		t = r;
	}
}

void index_release(struct index *ix)
{
	size_t i;
	for (i = 0; i < ix->nq; i++) {
		tree_free(ix->q[i]->root);
		free(ix->q[i]);
	}
	free(ix->q);
	while (ix->tagsets) {
		struct tagset *t = ix->tagsets->next;
		free(ix->tagsets);
		ix->tagsets = t;
	}
	memset(ix, 0, sizeof(*ix));
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct tagset *index_tagset(struct index *ix, int ntags,
			    const char *const *tags)
{
	struct tagset want, *t;
	int i, j;

	memset(&want, 0, sizeof(want));
	for (i = 0; i < ntags && i < SPOOL_TAGS_MAX; i++) {
		for (j = 0; j < want.ntags; j++)
			if (!strcmp(want.tags[j], tags[i]))
				break;
		if (j == want.ntags) {
			strncpy(want.tags[want.ntags], tags[i], SPOOL_TAG_MAX);
			want.ntags++;
		}
	}
	if (!want.ntags)
		return NULL;
	qsort(want.tags, want.ntags, sizeof(want.tags[0]), tag_cmp);
	for (t = ix->tagsets; t; t = t->next)
		if (t->ntags == want.ntags &&
		    !memcmp(t->tags, want.tags, sizeof(want.tags[0]) * want.ntags))
			return t;
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	*t = want;
	t->next = ix->tagsets;
	ix->tagsets = t;
	return t;
}

/* ---- treap ----------------------------------------------------------------- */

static uint32_t prio(const struct inode *x)
{
	/* FNV-1a, then a murmur finaliser: stamps differ only in a few digits */
	uint32_t h = 2166136261u;
	const unsigned char *p;
	for (p = (const unsigned char *)x->name; *p; p++)
		h = (h ^ *p) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static struct inode *rot_right(struct inode *t)
{
	struct inode *l = t->l;
	t->l = l->r;
	l->r = t;
	return l;
}

static struct inode *rot_left(struct inode *t)
{
	struct inode *r = t->r;
	t->r = r->l;
	r->l = t;
	return r;
}

/* Insert x; *dup gets the node already holding its name, if any. */
static struct inode *t_insert(struct inode *t, struct inode *x,
			      struct inode **dup)
{
	int c;
	if (!t)
		return x;
	c = strcmp(x->name, t->name);
	if (!c) {
		*dup = t;
		return t;
	}
	if (c < 0) {
		t->l = t_insert(t->l, x, dup);
		if (t->l == x && prio(x) > prio(t))
			t = rot_right(t);
	} else {
		t->r = t_insert(t->r, x, dup);
		if (t->r == x && prio(x) > prio(t))
			t = rot_left(t);
	}
	return t;
}

static struct inode *t_merge(struct inode *a, struct inode *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (prio(a) > prio(b)) {
		a->r = t_merge(a->r, b);
		return a;
	}
	b->l = t_merge(a, b->l);
	return b;
}

static struct inode *t_delete(struct inode *t, const char *name,
			      struct inode **gone)
{
	int c;
	if (!t)
		return NULL;
	c = strcmp(name, t->name);
	if (!c) {
		*gone = t;
		return t_merge(t->l, t->r);
	}
	if (c < 0)
		t->l = t_delete(t->l, name, gone);
	else
		t->r = t_delete(t->r, name, gone);
	return t;
}

static struct inode *t_find(struct inode *t, const char *name)
{
	while (t) {
		int c = strcmp(name, t->name);
		if (!c)
			return t;
		t = c < 0 ? t->l : t->r;
	}
	return NULL;
}

static struct inode *t_min(struct inode *t)
{
	if (t)
		while (t->l)
			t = t->l;
	return t;
}

/* ---- queues ---------------------------------------------------------------- */

/* Queues sort by priority descending; within one, untagged first. */
static int q_before(int prio_a, const struct tagset *a, int prio_b,
		    const struct tagset *b)
{
	if (prio_a != prio_b)
		return prio_a > prio_b;
	return (uintptr_t)a < (uintptr_t)b;
}

/* Position of (p, ts) in ix->q, or where it would go; *found set. */
static size_t q_pos(const struct index *ix, int p, const struct tagset *ts,
		    int *found)
{
	size_t lo = 0, hi = ix->nq;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct queue *q = ix->q[mid];
		if (q->priority == p && q->ts == ts) {
			*found = 1;
			return mid;
		}
		if (q_before(q->priority, q->ts, p, ts))
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static struct queue *q_get(struct index *ix, int p, struct tagset *ts)
{
	int found;
	size_t i = q_pos(ix, p, ts, &found);
	struct queue *q;

	if (found)
		return ix->q[i];
	if (ix->nq == ix->capq) {
		size_t cap = ix->capq ? ix->capq * 2 : 8;
		struct queue **nq = realloc(ix->q, cap * sizeof(*nq));
		if (!nq)
			return NULL;
		ix->q = nq;
		ix->capq = cap;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->priority = p;
	q->ts = ts;
	memmove(ix->q + i + 1, ix->q + i, (ix->nq - i) * sizeof(*ix->q));
	ix->q[i] = q;
	ix->nq++;
	return q;
}

static void q_drop_if_empty(struct index *ix, struct queue *q)
{
	int found;
	size_t i;
	if (q->n)
		return;
	i = q_pos(ix, q->priority, q->ts, &found);
	if (!found)
		return;
	memmove(ix->q + i, ix->q + i + 1, (ix->nq - i - 1) * sizeof(*ix->q));
	ix->nq--;
	free(q);
}

int index_add(struct index *ix, const char *name, const struct order_name *n,
	      struct tagset *ts)
{
	struct queue *q;
	struct inode *x, *dup = NULL;
	size_t len = strlen(name);

	q = q_get(ix, n->priority, ts);
	if (!q)
		return -ENOMEM;
	x = t_find(q->root, name);
	if (x) {
		x->mark = ix->mark;
		return 0;
	}
	x = malloc(sizeof(*x) + len + 1);
	if (!x) {
		q_drop_if_empty(ix, q);
		return -ENOMEM;
	}
	x->l = x->r = NULL;
	x->due = n->due;
	x->mark = ix->mark;
	memcpy(x->name, name, len + 1);
	q->root = t_insert(q->root, x, &dup);
	q->n++;
	ix->n++;
	return 1;
}

/* The queue holding name, if any: its priority is in the name, its tag set
 * is not, so a tagged name is looked for in every queue of its priority. */
static struct queue *q_holding(struct index *ix, const char *name,
			       struct inode **node)
{
	struct order_name n;
	size_t i;

	if (name_parse(name, &n) < 0)
		return NULL;
	for (i = 0; i < ix->nq; i++) {
		struct queue *q = ix->q[i];
		if (q->priority != n.priority || (!n.tagged && q->ts))
			continue;
		if ((*node = t_find(q->root, name)))
			return q;
	}
	return NULL;
}

int index_has(struct index *ix, const char *name)
{
	struct inode *x;
	return q_holding(ix, name, &x) != NULL;
}

static void q_remove(struct index *ix, struct queue *q, const char *name)
{
	struct inode *gone = NULL;
	q->root = t_delete(q->root, name, &gone);
	if (gone) {
		free(gone);
		q->n--;
		ix->n--;
	}
	q_drop_if_empty(ix, q);
}

int index_del(struct index *ix, const char *name)
{
	struct inode *x;
	struct queue *q = q_holding(ix, name, &x);
	if (!q)
		return 0;
	q_remove(ix, q, name);
	return 1;
}

static int has_tags(const struct tagset *ts, int ntags,
		    const char *const *tags)
{
	int i, j;
	if (!ts)
		return 1;
	for (i = 0; i < ts->ntags; i++) {
		for (j = 0; j < ntags; j++)
			if (!strcmp(ts->tags[i], tags[j]))
				break;
		if (j == ntags)
			return 0;
	}
	return 1;
}

int index_take(struct index *ix, int64_t now, int ntags,
	       const char *const *tags, char *out)
{
	struct queue *bq = NULL;
	struct inode *best = NULL;
	size_t i;

	for (i = 0; i < ix->nq; i++) {
		struct queue *q = ix->q[i];
		struct inode *h;
		if (bq && q->priority != bq->priority)
			break;
		if (!has_tags(q->ts, ntags, tags))
			continue;
		h = t_min(q->root);
		if (!h || h->due > now)
			continue;
		if (!best || strcmp(h->name, best->name) < 0) {
			best = h;
			bq = q;
		}
	}
	if (!best)
		return 0;
	strncpy(out, best->name, SPOOL_NAME_MAX - 1);
	out[SPOOL_NAME_MAX - 1] = 0;
	q_remove(ix, bq, out);
	return 1;
}

int64_t index_next_due(const struct index *ix, int64_t now)
{
	int64_t t = INT64_MAX;
	size_t i;
	for (i = 0; i < ix->nq; i++) {
		struct inode *h = t_min(ix->q[i]->root);
		if (h && h->due > now && h->due < t)
			t = h->due;
	}
	return t;
}

void index_mark_begin(struct index *ix)
{
	ix->mark ^= 1;
}

struct stale {
	char **names;
	size_t n, cap;
};

static void collect_stale(struct inode *t, uint8_t mark, struct stale *s)
{
	while (t) {
		collect_stale(t->l, mark, s);
		if (t->mark != mark) {
			if (s->n == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 64;
				char **nn = realloc(s->names, cap * sizeof(*nn));
				if (!nn)
					return;
				s->names = nn;
				s->cap = cap;
			}
			s->names[s->n++] = strdup(t->name);
		}
		t = t->r;
	}
}

size_t index_sweep(struct index *ix)
{
	size_t removed = 0, i, k;

	for (i = 0; i < ix->nq;) {
		struct queue *q = ix->q[i];
		struct stale s = { 0 };
		int emptied;
		collect_stale(q->root, ix->mark, &s);
		emptied = s.n && s.n == q->n;
		for (k = 0; k < s.n; k++) {
			if (s.names[k]) {
				struct inode *gone = NULL;
				q->root = t_delete(q->root, s.names[k], &gone);
				if (gone) {
					free(gone);
					q->n--;
					ix->n--;
					removed++;
				}
			}
			free(s.names[k]);
		}
		free(s.names);
		if (emptied && !q->n)
			q_drop_if_empty(ix, q);	/* the next queue slides to i */
		else
			i++;
	}
	return removed;
}

size_t index_bytes(const struct index *ix)
{
	/* node header, a queued name (~76 bytes), malloc's word of overhead */
	return ix->n * (sizeof(struct inode) + 80 + 16) +
	       ix->capq * sizeof(*ix->q) + ix->nq * sizeof(struct queue);
}
