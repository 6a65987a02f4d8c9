/*
 * jobcache: the stored documents of the jobs this server just submitted,
 * so that the claim that follows answers without reading the job's file
 * (an open, a stat, two reads and a close per claim). A job file never
 * changes once stored, so the copy is the file's text; the claim still
 * checks that the file exists (an order without its job is failed, as
 * before). Direct-mapped: a job whose slot is taken by a later one is read
 * from its file. Bounded: JOBCACHE_SLOTS documents of at most
 * JOBCACHE_DOC_MAX bytes (their buffers 8 MB at most). The writer puts
 * (before its commit: a claim may come before the submit's answer), the
 * loop takes: one mutex.
 *
 * Layer: 1 base
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "jobcache.h"
#include "spool.h"

#define JOBCACHE_SLOTS	 1024
#define JOBCACHE_DOC_MAX 4096

struct jc_slot {
	char id[SPOOL_ID_LEN + 1];	/* "" when empty */
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

	if (strlen(id) != SPOOL_ID_LEN || !doc->data || doc->len > JOBCACHE_DOC_MAX)
		return;
	s = slot_of(id);
	pthread_mutex_lock(&lock);
	old = s->doc;
	memcpy(s->id, id, SPOOL_ID_LEN + 1);
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
