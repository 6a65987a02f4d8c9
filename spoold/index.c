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
 * from a hash of the key (nothing stored). A queued name is 74 characters
 * of fixed layout (PPPP.DDDDDDDDDDDDD.SSSS(24).IIII(24).AAA.F): its dots
 * sit at fixed places and every other character but the flag is a decimal
 * or lower-case hex digit, so a node keeps it packed, a nibble a digit and
 * a byte for the flag (35 bytes), and memcmp of two keys orders them as
 * strcmp orders the names. A node is two pointers, the key and a mark bit
 * for rescans: 56 bytes, 64 with malloc's overhead (it was ~112 with the
 * name as text); the due time is read from the key when needed.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define QNAME_LEN 74		/* a queued order name */
#define KEY_DIGITS 68		/* its characters that are not dots or the flag */
#define KEY_LEN (KEY_DIGITS / 2 + 1)

struct inode {
	struct inode *l, *r;
	uint8_t key[KEY_LEN];
	uint8_t mark;
};

/* The dots of a queued name (name_parse's grammar). */
static int is_dot_at(size_t i)
{
	return i == 4 || i == 18 || i == 43 || i == 68 || i == 72;
}

/* name -> key: 0, or -EINVAL when name is not a queued name's shape. */
static int key_pack(const char *name, uint8_t key[KEY_LEN])
{
	size_t i, d = 0;
	memset(key, 0, KEY_LEN);
	for (i = 0; i < QNAME_LEN - 1; i++) {
		char c = name[i];
		int v;
		if (is_dot_at(i)) {
			if (c != '.')
				return -EINVAL;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -EINVAL;
		key[d / 2] |= (uint8_t)(d % 2 ? v : v << 4);
		d++;
	}
	if ((name[QNAME_LEN - 1] != '-' && name[QNAME_LEN - 1] != 't') ||
	    name[QNAME_LEN])
		return -EINVAL;
	key[KEY_LEN - 1] = name[QNAME_LEN - 1] == 't';	/* '-' < 't' */
	return 0;
}

static int nibble(const uint8_t *key, size_t d)
{
	return d % 2 ? key[d / 2] & 15 : key[d / 2] >> 4;
}

/* key -> name (QNAME_LEN + 1 bytes) */
static void key_unpack(const uint8_t key[KEY_LEN], char *name)
{
	size_t i, d = 0;
	for (i = 0; i < QNAME_LEN - 1; i++) {
		int v;
		if (is_dot_at(i)) {
			name[i] = '.';
			continue;
		}
		v = nibble(key, d++);
		name[i] = (char)(v < 10 ? '0' + v : 'a' + v - 10);
	}
	name[QNAME_LEN - 1] = key[KEY_LEN - 1] ? 't' : '-';
	name[QNAME_LEN] = 0;
}

/* The due time: the 13 digits after the priority's 4. */
static int64_t key_due(const uint8_t key[KEY_LEN])
{
	int64_t v = 0;
	size_t d;
	for (d = 4; d < 4 + 13; d++)
		v = v * 10 + nibble(key, d);
	return v;
}

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
	size_t i;
	for (i = 0; i < KEY_LEN; i++)
		h = (h ^ x->key[i]) * 16777619u;
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
	c = memcmp(x->key, t->key, KEY_LEN);
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

static struct inode *t_delete(struct inode *t, const uint8_t *key,
			      struct inode **gone)
{
	int c;
	if (!t)
		return NULL;
	c = memcmp(key, t->key, KEY_LEN);
	if (!c) {
		*gone = t;
		return t_merge(t->l, t->r);
	}
	if (c < 0)
		t->l = t_delete(t->l, key, gone);
	else
		t->r = t_delete(t->r, key, gone);
	return t;
}

static struct inode *t_find(struct inode *t, const uint8_t *key)
{
	while (t) {
		int c = memcmp(key, t->key, KEY_LEN);
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
	uint8_t key[KEY_LEN];

	if (key_pack(name, key) < 0)
		return -EINVAL;	/* not a queued name: never claimable from new/ */
	q = q_get(ix, n->priority, ts);
	if (!q)
		return -ENOMEM;
	x = t_find(q->root, key);
	if (x) {
		x->mark = ix->mark;
		return 0;
	}
	x = malloc(sizeof(*x));
	if (!x) {
		q_drop_if_empty(ix, q);
		return -ENOMEM;
	}
	x->l = x->r = NULL;
	x->mark = ix->mark;
	memcpy(x->key, key, KEY_LEN);
	q->root = t_insert(q->root, x, &dup);
	q->n++;
	ix->n++;
	return 1;
}

/* The queue holding name (packed as key), if any: its priority is in the
 * name, its tag set is not, so a tagged name is looked for in every queue
 * of its priority. */
static struct queue *q_holding(struct index *ix, const char *name,
			       uint8_t key[KEY_LEN])
{
	struct order_name n;
	size_t i;

	if (name_parse(name, &n) < 0 || key_pack(name, key) < 0)
		return NULL;
	for (i = 0; i < ix->nq; i++) {
		struct queue *q = ix->q[i];
		if (q->priority != n.priority || (!n.tagged && q->ts))
			continue;
		if (t_find(q->root, key))
			return q;
	}
	return NULL;
}

int index_has(struct index *ix, const char *name)
{
	uint8_t key[KEY_LEN];
	return q_holding(ix, name, key) != NULL;
}

static void q_remove(struct index *ix, struct queue *q, const uint8_t *key)
{
	struct inode *gone = NULL;
	q->root = t_delete(q->root, key, &gone);
	if (gone) {
		free(gone);
		q->n--;
		ix->n--;
	}
	q_drop_if_empty(ix, q);
}

int index_del(struct index *ix, const char *name)
{
	uint8_t key[KEY_LEN];
	struct queue *q = q_holding(ix, name, key);
	if (!q)
		return 0;
	q_remove(ix, q, key);
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
	return index_take_ts(ix, now, ntags, tags, out, NULL);
}

int index_take_ts(struct index *ix, int64_t now, int ntags,
		  const char *const *tags, char *out, struct tagset **ts)
{
	struct queue *bq = NULL;
	struct inode *best = NULL;
	uint8_t key[KEY_LEN];
	size_t i;

	for (i = 0; i < ix->nq; i++) {
		struct queue *q = ix->q[i];
		struct inode *h;
		if (bq && q->priority != bq->priority)
			break;
		if (!has_tags(q->ts, ntags, tags))
			continue;
		h = t_min(q->root);
		if (!h || key_due(h->key) > now)
			continue;
		if (!best || memcmp(h->key, best->key, KEY_LEN) < 0) {
			best = h;
			bq = q;
		}
	}
	if (!best)
		return 0;
	memcpy(key, best->key, KEY_LEN);
	key_unpack(key, out);
	if (ts)
		*ts = bq->ts;
	q_remove(ix, bq, key);
	return 1;
}

int64_t index_next_due(const struct index *ix, int64_t now)
{
	int64_t t = INT64_MAX;
	size_t i;
	for (i = 0; i < ix->nq; i++) {
		struct inode *h = t_min(ix->q[i]->root);
		int64_t due = h ? key_due(h->key) : 0;
		if (h && due > now && due < t)
			t = due;
	}
	return t;
}

void index_mark_begin(struct index *ix)
{
	ix->mark ^= 1;
}

struct stale {
	uint8_t (*keys)[KEY_LEN];
	size_t n, cap;
};

static void collect_stale(struct inode *t, uint8_t mark, struct stale *s)
{
	while (t) {
		collect_stale(t->l, mark, s);
		if (t->mark != mark) {
			if (s->n == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 64;
				uint8_t (*nk)[KEY_LEN] = realloc(s->keys, cap * KEY_LEN);
				if (!nk)
					return;
				s->keys = nk;
				s->cap = cap;
			}
			memcpy(s->keys[s->n++], t->key, KEY_LEN);
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
			struct inode *gone = NULL;
			q->root = t_delete(q->root, s.keys[k], &gone);
			if (gone) {
				free(gone);
				q->n--;
				ix->n--;
				removed++;
			}
		}
		free(s.keys);
		if (emptied && !q->n)
			q_drop_if_empty(ix, q);	/* the next queue slides to i */
		else
			i++;
	}
	return removed;
}

size_t index_bytes(const struct index *ix)
{
	/* a node and malloc's overhead */
	return ix->n * 64 +
	       ix->capq * sizeof(*ix->q) + ix->nq * sizeof(struct queue);
}
