/*
 * claimmap: order id -> the name of its claim in assigned/.
 *
 * Filled when the core hands out a claim and from one listing of assigned/
 * at start, so that ending a claim need not list assigned/ to find it
 * (spool_lookup_claim reads the whole directory). Open addressing with
 * linear probing and backward-shift deletion; a slot holds the id and the
 * name in one allocation. Bounded: past CLAIMMAP_MAX entries nothing more
 * is remembered and the lookups fall back to the library.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define CLAIMMAP_MAX (1u << 22)

struct cm_slot {
	uint64_t h;		/* 0: empty */
	char *v;		/* "ID\0NAME" */
};

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h ? h : 1;
}

void claimmap_init(struct claimmap *m)
{
	memset(m, 0, sizeof(*m));
}

void claimmap_release(struct claimmap *m)
{
	size_t i;
	for (i = 0; i < m->cap; i++)
		free(m->slot[i].v);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* The slot of id, or the empty one where it would go. */
static size_t find(const struct claimmap *m, const char *id, uint64_t h)
{
	size_t i = h & (m->cap - 1);
	while (m->slot[i].h && (m->slot[i].h != h || strcmp(m->slot[i].v, id)))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct claimmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64, i;
	struct cm_slot *old = m->slot, *s = calloc(cap, sizeof(*s));
	size_t ocap = m->cap;
	if (!s)
		return -ENOMEM;
	m->slot = s;
	m->cap = cap;
	for (i = 0; i < ocap; i++)
		if (old[i].h)
			m->slot[find(m, old[i].v, old[i].h)] = old[i];
	free(old);
	return 0;
}

int claimmap_put(struct claimmap *m, const char *id, const char *file)
{
	uint64_t h = hash_id(id);
	size_t i, il = strlen(id), fl = strlen(file);
	char *v;

	if ((m->n + 1) * 4 > m->cap * 3 && (m->n >= CLAIMMAP_MAX || grow(m) < 0)) {
		claimmap_del(m, id);	/* a stale name must not stay */
		return -ENOMEM;
	}
	v = malloc(il + fl + 2);
	if (!v) {
		claimmap_del(m, id);
		return -ENOMEM;
	}
	memcpy(v, id, il + 1);
	memcpy(v + il + 1, file, fl + 1);
	i = find(m, id, h);
	if (m->slot[i].h) {
		free(m->slot[i].v);
	} else {
		m->slot[i].h = h;
		m->n++;
	}
	m->slot[i].v = v;
	return 0;
}

const char *claimmap_get(const struct claimmap *m, const char *id)
{
	size_t i;
	if (!m->n)
		return NULL;
	i = find(m, id, hash_id(id));
	return m->slot[i].h ? m->slot[i].v + strlen(m->slot[i].v) + 1 : NULL;
}

void claimmap_del(struct claimmap *m, const char *id)
{
	size_t i, j;
	if (!m->n)
		return;
	i = find(m, id, hash_id(id));
	if (!m->slot[i].h)
		return;
	free(m->slot[i].v);
	m->slot[i].h = 0;
	m->slot[i].v = NULL;
	m->n--;
	/* shift back the entries of the run after i that may sit at i */
	for (j = (i + 1) & (m->cap - 1); m->slot[j].h; j = (j + 1) & (m->cap - 1)) {
		size_t home = m->slot[j].h & (m->cap - 1);
		/* j's entry may move to i when i lies cyclically in [home, j) */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->slot[i] = m->slot[j];
			m->slot[j].h = 0;
			m->slot[j].v = NULL;
			i = j;
		}
	}
}
