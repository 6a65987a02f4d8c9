/*
 * claimclock: order id -> when this daemon handed out its claim (and which
 * attempt), so that a complete or fail can tell how long the run took: a
 * claimed name carries its lease deadline, which heartbeats move, not the
 * moment of the claim. Open addressing with linear probing and
 * backward-shift deletion over fixed slots (no allocation per claim; the
 * table doubles now and then). Bounded: past CLAIMCLOCK_MAX entries a claim
 * is not timed (counted in untimed). A claim ended by the reaper or given
 * up stays until its order is claimed again, which replaces it.
 *
 * Layer: 1 base
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

struct cc_slot {
	uint64_t h;			/* 0: empty */
	char id[SPOOL_ID_LEN];		/* not NUL-terminated */
	int32_t attempt;
	int64_t ms;
};

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	int i;
	for (i = 0; i < SPOOL_ID_LEN; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
	return h ? h : 1;
}

void claimclock_init(struct claimclock *cc)
{
	memset(cc, 0, sizeof(*cc));
}

void claimclock_release(struct claimclock *cc)
{
	free(cc->slot);
	memset(cc, 0, sizeof(*cc));
}

/* The slot of id, or the empty one where it would go. */
static size_t find(const struct claimclock *cc, const char *id, uint64_t h)
{
	size_t i = h & (cc->cap - 1);
	while (cc->slot[i].h && (cc->slot[i].h != h ||
				 memcmp(cc->slot[i].id, id, SPOOL_ID_LEN)))
		i = (i + 1) & (cc->cap - 1);
	return i;
}

static int grow(struct claimclock *cc)
{
	size_t cap = cc->cap ? cc->cap * 2 : 256, i, ocap = cc->cap;
	struct cc_slot *old = cc->slot, *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	cc->slot = s;
	cc->cap = cap;
	for (i = 0; i < ocap; i++)
		if (old[i].h)
			cc->slot[find(cc, old[i].id, old[i].h)] = old[i];
	free(old);
	return 0;
}

static void del_at(struct claimclock *cc, size_t i)
{
	size_t j;
	cc->slot[i].h = 0;
	cc->n--;
	/* shift back the entries of the run after i that may sit at i */
	for (j = (i + 1) & (cc->cap - 1); cc->slot[j].h; j = (j + 1) & (cc->cap - 1)) {
		size_t home = cc->slot[j].h & (cc->cap - 1);
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			cc->slot[i] = cc->slot[j];
			cc->slot[j].h = 0;
			i = j;
		}
	}
}

int claimclock_put(struct claimclock *cc, const char *id, int attempt,
		   int64_t ms)
{
	uint64_t h;
	size_t i;

	if (strlen(id) != SPOOL_ID_LEN)
		return -EINVAL;
	h = hash_id(id);
	if (cc->n && (i = find(cc, id, h), cc->slot[i].h)) {
		cc->slot[i].attempt = attempt;	/* claimed again */
		cc->slot[i].ms = ms;
		return 0;
	}
	if (cc->n >= CLAIMCLOCK_MAX) {
		cc->untimed++;
		return -ENOSPC;
	}
	if ((cc->n + 1) * 4 > cc->cap * 3 && grow(cc) < 0) {
		cc->untimed++;
		return -ENOMEM;
	}
	i = find(cc, id, h);
	cc->slot[i].h = h;
	memcpy(cc->slot[i].id, id, SPOOL_ID_LEN);
	cc->slot[i].attempt = attempt;
	cc->slot[i].ms = ms;
	cc->n++;
	return 0;
}

int claimclock_take(struct claimclock *cc, const char *id, int attempt,
		    int64_t *ms)
{
	size_t i;
	int found;

	if (!cc->n || strlen(id) != SPOOL_ID_LEN)
		return 0;
	i = find(cc, id, hash_id(id));
	if (!cc->slot[i].h)
		return 0;
	found = cc->slot[i].attempt == attempt;
	if (found && ms)
		*ms = cc->slot[i].ms;
	del_at(cc, i);
	return found;
}
