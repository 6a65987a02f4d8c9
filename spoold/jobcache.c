/*
 * jobcache: the stored documents of the jobs this server just submitted,
 * so that the claim that follows answers without reading the job's file
 * (an open, a stat, two reads and a close per claim). A job file never
 * changes once stored, so the copy is the file's text; the claim still
 * checks that the file exists (an order without its job is failed, as
 * before). Direct-mapped, and the older job keeps its slot (claims take
 * the oldest first, so a queue longer than the cache still finds its
 * next jobs here) unless it has waited JOBCACHE_KEEP_MS (one never
 * claimed through here: cancelled, or claimed by a local runner); a job
 * that finds its slot held is read from its file. Bounded: JOBCACHE_SLOTS
 * documents of at most JOBCACHE_DOC_MAX bytes, 8 MB in all. The writer puts
 * (before its commit: a claim may come before the submit's answer), the
 * loop takes: one mutex. Its state is the server's (struct jobcache).
 *
 * Layer: 1 base
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcache.h"
#include "spool.h"

void jobcache_init(struct jobcache *jc)
{
	memset(jc->slots, 0, sizeof(jc->slots));
	pthread_mutex_init(&jc->lock, NULL);
}

void jobcache_release(struct jobcache *jc)
{
	int i;

	for (i = 0; i < JOBCACHE_SLOTS; i++) {
		buf_release(&jc->slots[i].doc);
		jc->slots[i].id[0] = '\0';
	}
	pthread_mutex_destroy(&jc->lock);
}

static struct jc_slot *slot_of(struct jobcache *jc, const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	int i;

	for (i = 0; i < SPOOL_ID_LEN && id[i]; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return &jc->slots[h % JOBCACHE_SLOTS];
}

void jobcache_put(struct jobcache *jc, const char *id, struct buf *doc)
{
	struct jc_slot *s;
	struct buf old;
	int64_t now;
	char *p;

	if (strlen(id) != SPOOL_ID_LEN || !doc->data || doc->len > JOBCACHE_DOC_MAX)
		return;
	/* no more storage than the text (the buffer grew by doubling) */
	if (doc->cap > doc->len + 1 && (p = realloc(doc->data, doc->len + 1))) {
		doc->data = p;
		doc->cap = doc->len + 1;
	}
	s = slot_of(jc, id);
	now = now_ms();
	pthread_mutex_lock(&jc->lock);
	if (s->id[0] && now - s->at < JOBCACHE_KEEP_MS) {
		pthread_mutex_unlock(&jc->lock);
		return;		/* the older job keeps it */
	}
	old = s->doc;
	memcpy(s->id, id, SPOOL_ID_LEN + 1);
	s->at = now;
	s->doc = *doc;
	pthread_mutex_unlock(&jc->lock);
	buf_init(doc, doc->max);
	buf_release(&old);
}

int jobcache_take(struct jobcache *jc, const char *id, struct buf *out)
{
	struct jc_slot *s = slot_of(jc, id);
	struct buf got;

	pthread_mutex_lock(&jc->lock);
	if (!s->id[0] || strcmp(s->id, id) != 0) {
		pthread_mutex_unlock(&jc->lock);
		return 0;
	}
	got = s->doc;
	buf_init(&s->doc, 0);
	s->id[0] = '\0';
	pthread_mutex_unlock(&jc->lock);
	buf_release(out);
	*out = got;
	return 1;
}

void jobcache_drop(struct jobcache *jc, const char *id)
{
	struct buf b;

	buf_init(&b, 0);
	if (jobcache_take(jc, id, &b))
		buf_release(&b);
}
