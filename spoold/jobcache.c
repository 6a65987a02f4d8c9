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
 * loop takes: one mutex.
 *
 * Layer: 1 base
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcache.h"
#include "spool.h"

#define JOBCACHE_SLOTS	 4096
#define JOBCACHE_DOC_MAX 2048
#define JOBCACHE_KEEP_MS 60000

struct jc_slot {
	char id[SPOOL_ID_LEN + 1];	/* "" when empty */
	int64_t at;			/* ms, when put */
	struct buf doc;
};

static struct jc_slot slots[JOBCACHE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct jc_slot *slot_of(const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	int i;

	for (i = 0; i < SPOOL_ID_LEN && id[i]; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return &slots[h % JOBCACHE_SLOTS];
}

void jobcache_put(const char *id, struct buf *doc)
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
	s = slot_of(id);
	now = now_ms();
	pthread_mutex_lock(&lock);
	if (s->id[0] && now - s->at < JOBCACHE_KEEP_MS) {
		pthread_mutex_unlock(&lock);
		return;		/* the older job keeps it */
	}
	old = s->doc;
	memcpy(s->id, id, SPOOL_ID_LEN + 1);
	s->at = now;
	s->doc = *doc;
	pthread_mutex_unlock(&lock);
	buf_init(doc, doc->max);
	buf_release(&old);
}

int jobcache_take(const char *id, struct buf *out)
{
	struct jc_slot *s = slot_of(id);
	struct buf got;

	pthread_mutex_lock(&lock);
	if (!s->id[0] || strcmp(s->id, id) != 0) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	got = s->doc;
	buf_init(&s->doc, 0);
	s->id[0] = '\0';
	pthread_mutex_unlock(&lock);
	buf_release(out);
	*out = got;
	return 1;
}

void jobcache_drop(const char *id)
{
	struct buf b;

	buf_init(&b, 0);
	if (jobcache_take(id, &b))
		buf_release(&b);
}
