/*
 * jobcache.h: the stored documents of jobs just submitted, kept until
 * their first claim answers from them (jobcache.c). Any thread.
 */
#ifndef SPOOLD_JOBCACHE_H
#define SPOOLD_JOBCACHE_H

#include "buf.h"

/* Keep id's stored document: doc's storage is taken (doc is left empty),
 * or left alone when the document is too large or its slot is held. */
void jobcache_put(const char *id, struct buf *doc);

/* 1 with id's document moved into out (out's old storage freed) and
 * forgotten here, or 0 when it is not held. */
int jobcache_take(const char *id, struct buf *out);

/* Forget id's document, if held. */
void jobcache_drop(const char *id);

#endif
