/*
 * internal: what the library's files share and nobody else may use.
 */
#ifndef SPOOL_INTERNAL_H
#define SPOOL_INTERNAL_H

#include <stdarg.h>
#include <sys/types.h>

#include "spool.h"

/* ---- sysio.c: system calls behind the fault seam ---- */

/* Write all of p. 0 or -errno. */
int sys_write_all(int fd, const void *p, size_t n);
/* fdatasync/fsync. 0 or -errno. */
int sys_fsync(int fd);
/* syncfs: everything of the file system fd is on, to disk. 0 or -errno. */
int sys_syncfs(int fd);
/* renameat / linkat relative to one directory fd. 0 or -errno. */
int sys_rename(int dirfd, const char *from, const char *to);
int sys_link(int dirfd, const char *from, const char *to);
/*
 * Move from to to unless to exists (-EEXIST: from stays): one
 * renameat2(RENAME_NOREPLACE), or link + unlink where the file system has
 * no such rename. Behind the "link" fault. 0 or -errno.
 */
int sys_publish_once(int dirfd, const char *from, const char *to);
/* Load SPOOL_FAULT from the environment (once). */
void sys_fault_env(void);

/* ---- spool.c: the write path and group commit ---- */

#define SP_PATH_MAX 320		/* relative paths inside the spool */

/* Record a message for spool_error and return r. */
int sp_fail(struct spool *sp, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The fan-out sub-directory of an id: its last two hex digits. */
void sp_fan(const char *id, char out[3]);

/* Path of order file name `file` in state st for id (fan-out applied). */
void sp_state_path(enum spool_state st, const char *id, const char *file,
		   char *out, size_t cap);

/* Directory (relative) that holds state st's files for id. */
void sp_state_dir(enum spool_state st, const char *id, char *out, size_t cap);

/* Mark a directory as needing an fsync before the next commit returns. */
int sp_dirty(struct spool *sp, const char *dir);

/* Rename inside the spool and mark both directories dirty. 0 or -errno. */
int sp_move(struct spool *sp, const char *from, const char *to);

enum { PUB_LINK, PUB_RENAME, PUB_UNLINK };

/*
 * Write data to a new file tmp/tmpname and queue it for publishing at dest
 * (by link: never replaces, or rename) at commit. tier 0 is published, and
 * its directories synced, before tier 1. Items of one group are skipped
 * when an earlier item of the group hit EEXIST. undo_from/undo_to (may be
 * NULL) is a rename to make if this item cannot be published.
 * 0 or -errno (nothing is left behind on error).
 */
int sp_stage(struct spool *sp, const char *tmpname, const void *data,
	     size_t len, const char *dest, int how, int tier, int group,
	     const char *undo_from, const char *undo_to);

/* Take back the last sp_stage of this call (its file is removed). */
void sp_unstage_last(struct spool *sp);

/* Unlink path once the commit succeeded (queued after every publish). */
int sp_unlink_after(struct spool *sp, const char *path);

/* A fresh group number for sp_stage. */
int sp_group(struct spool *sp);

/* Outside a batch, commit now; returns r if r < 0, else the commit's result. */
int sp_end(struct spool *sp, int r);

/*
 * Make room for need elements of size elem in *arr (capacity *cap),
 * doubling. 0 or -ENOMEM (the array is unchanged).
 */
int sp_reserve(void *arr, size_t *cap, size_t need, size_t elem);

/*
 * Call fn(arg, name) for each name in directory dir (relative to the spool)
 * but "." and "..", as readdir gives them, storing nothing; a non-zero
 * return stops the walk and is returned. fn must not change dir. 0 or
 * -errno (-ENOENT: no such directory).
 */
int sp_dir_walk(struct spool *sp, const char *dir, int (*fn)(void *arg, const char *name),
		void *arg);

/*
 * The names in directory dir (relative to the spool) that keep accepts
 * (keep NULL: all but "." and ".."), unsorted, into *out (*n of them).
 * 0, or -errno (-ENOENT: no such directory). Free with sp_names_free.
 */
int sp_dir_names(struct spool *sp, const char *dir, int (*keep)(const char *),
		 char ***out, size_t *n);
void sp_names_free(char **v, size_t n);

/* Filters for sp_dir_names. */
int sp_is_order_name(const char *name);
int sp_is_queued_name(const char *name);
int sp_is_drop_name(const char *name);

/* 1 if path exists (lstat), 0 if not, -errno on other errors. */
int sp_exists(struct spool *sp, const char *path);

/* ---- order.c ---- */

/* Fill o from state + file name. 0 or -EINVAL. */
int sp_order_from(struct order *o, enum spool_state st, const char *file);

/* Write the order file for a new job and queue it in new/ (tier 1). */
int sp_queue_order(struct spool *sp, const char *id, const char *stamp,
		   const struct job_opts *opts, int64_t created, int group);

/* Render the order file's JSON. */
int sp_order_doc(struct buf *b, const char *id, int64_t created,
		 const struct job_opts *opts);

/* ---- job.c ---- */

/* Parse options from an already parsed job. */
struct json;
int job_opts_parse(const struct json *j, int64_t now, struct job_opts *o,
		   char *err, size_t errlen);

/* Read the options object of an order file. */
int order_doc_parse(const char *s, size_t len, struct job_opts *o,
		    int64_t *created);

#endif
