/*
 * jobcache.h: the stored documents of jobs just submitted, kept until
 * their first claim answers from them (jobcache.c). Any thread.
 */
#ifndef SPOOLD_JOBCACHE_H
#define SPOOLD_JOBCACHE_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "spool.h"

#define JOBCACHE_SLOTS	 4096
#define JOBCACHE_DOC_MAX 2048
#define JOBCACHE_KEEP_MS 60000

struct jc_slot {
	char id[SPOOL_ID_LEN + 1];	/* "" when empty */
	int64_t at;			/* ms, when put */
	struct buf doc;
};

/* Embedded in the server (jobcache_init before use). */
struct jobcache {
	pthread_mutex_t lock;		/* the writer puts, the loop takes */
	struct jc_slot slots[JOBCACHE_SLOTS];
};

void jobcache_init(struct jobcache *jc);

/* Free every document held (at exit, once no thread uses jc). */
void jobcache_release(struct jobcache *jc);

/* Keep id's stored document: doc's storage is taken (doc is left empty),
 * or left alone when the document is too large or its slot is held. */
void jobcache_put(struct jobcache *jc, const char *id, struct buf *doc);

/* 1 with id's document moved into out (out's old storage freed) and
 * forgotten here, or 0 when it is not held. */
int jobcache_take(struct jobcache *jc, const char *id, struct buf *out);

/* Forget id's document, if held. */
void jobcache_drop(struct jobcache *jc, const char *id);

#endif
