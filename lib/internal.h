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
/*
 * fsync each of fds[0..n) (fsyncall.c): issued at once by a small pool of
 * threads, each result in rc[i] (0 or -errno). Safe from any thread.
 */
void sys_fsync_all(const int *fds, size_t n, int *rc);
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
/*
 * Read the file at path (relative to dirfd) into b, as buf_read_file does
 * (behind the "read" fault),
 * opening it again when its handle goes stale (NFS): ESTALE never reaches
 * the caller, for whom it means a lost claim; -EIO after SYS_STALE_TRIES.
 */
#define SYS_STALE_TRIES 5
int sys_read_file(struct buf *b, int dirfd, const char *path);
/* 1 if path (relative to dirfd, not followed) exists, 0 if not, else -errno.
 * Behind the "stat" fault. */
int sys_exists(int dirfd, const char *path);
/* Load SPOOL_FAULT from the environment (once). */
void sys_fault_env(void);

/* ---- spool.c: the write path and group commit ---- */

#define SP_PATH_MAX 320		/* relative paths inside the spool */

/* The fd of directory dir of the spool (*opened: the caller closes it). */
int sp_dir_fd(struct spool *sp, const char *dir, int *opened);

/* ---- gate.c: unsynced claims beside syncs of new/ (spool_set_gate) ---- */

int sp_gate_shut(struct spool *sp, int hold, uint64_t *made);
void sp_gate_open(struct spool *sp, uint64_t made, int held, int synced_assigned);

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

/*
 * How a staged item is published at commit:
 * PUB_LINK	publish-once (never replaces; EEXIST: it is there, fine)
 * PUB_RENAME	rename (replaces: logs, worker records, notes)
 * PUB_JOB	publish-once; EEXIST: a duplicate, the rest of its change is skipped
 * PUB_OUTCOME	publish-once; EEXIST with the same content: a repeated request;
 *		with other content: the claim was ended by another outcome, ours
 *		goes to late/ and the change fails with -ESTALE
 * PUB_SYNTH	publish-once of a synthetic outcome (the reaper's); EEXIST: the
 *		claimant's is there, the rest of the change is skipped
 * PUB_MOVE	rename of an order file (tier 1), the end of a claim
 * PUB_UNLINK	unlink once the change is durable (tier 2)
 */
enum { PUB_LINK, PUB_RENAME, PUB_UNLINK, PUB_JOB, PUB_OUTCOME, PUB_SYNTH, PUB_MOVE };

/*
 * Write data to a new file tmp/tmpname and queue it for publishing at dest
 * at commit, as how says. tier 0 is published, and its directories synced,
 * before tier 1. group (0: a change of its own) ties the items of one state
 * change together: when one fails or is skipped, so are the later ones.
 * 0 or -errno (nothing is left behind on error).
 */
int sp_stage(struct spool *sp, const char *tmpname, const void *data,
	     size_t len, const char *dest, int how, int tier, int group);

/* Queue the rename of order file from to to (tier 1) in group. 0 or -ENOMEM. */
int sp_stage_move(struct spool *sp, const char *from, const char *to, int group);

/* Take back every staged item of group (its tmp files are removed). */
void sp_unstage_group(struct spool *sp, int group);

/* Unlink path once group's change is durable (tier 2). 0 or -ENOMEM. */
int sp_unlink_after(struct spool *sp, const char *path, int group);

/* The group of the last change staged (0: none yet). */
int sp_last_group(struct spool *sp);

/*
 * Group's rename ends a claim: when it is made, o (if it is the caller's
 * to update: outside a batch, or the tracked order) becomes (st, name).
 */
void sp_group_claim(struct spool *sp, int group, struct order *o,
		    enum spool_state st, const char *name);

/* 1 if the file at path holds exactly s[0..len) (trailing newlines aside). */
int sp_same_content(struct spool *sp, const char *path, const char *s, size_t len);

/*
 * 1 if the document at path (a job or an outcome) is torn: it exists but
 * is not a whole JSON object. Documents are published before their sync
 * (spool_commit), so only a machine crash leaves one, and no answer ever
 * acknowledged it: whoever meets one removes it. 0 otherwise (absent too).
 */
int sp_torn(struct spool *sp, const char *path);

/*
 * Make a document someone else published durable before a change of ours
 * names it: fsync it now, and mark its directory for the commit's first
 * round (the reaper ending a claim by the outcome its claimant filed). 0 or
 * a negative errno.
 */
int sp_sync_file(struct spool *sp, const char *path);

/* The stored job of id: jobs/FF/ID.json (returns out). */
const char *sp_job_path(const char *id, char *out, size_t cap);

/* The outcome of claim o: outcomes/FF/ID.AAA.TOKEN.json. */
void sp_outcome_path(const struct order *o, char *out, size_t cap);

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

/* ---- log.c ---- */

/*
 * Append data to the file at path (created) at offset off (-1: its end):
 * the rule of spool_log_append, capped at cap bytes and then mark, once.
 * 0, -ESPIPE (a gap or an overlap), -errno. *size: the length after.
 */
int sp_append_capped(struct spool *sp, const char *path, int64_t off, const void *data,
		     size_t len, size_t cap, const char *mark, int64_t *size);

/* ---- recover.c ---- */

/* Queue the order of job id that a cut commit left staged in tmp/, if any.
 * 1 queued, 0 none staged, or -errno. */
int sp_recover_order(struct spool *sp, const char *id);

/* ---- order.c ---- */

/* Fill o from state + file name. 0 or -EINVAL. */
int sp_order_from(struct order *o, enum spool_state st, const char *file);

/*
 * Where claim o goes when it ends with an outcome (has_status: its numeric
 * "status"; failure: the claimant said it failed): done, unless it failed
 * or its status is outside 200-299; then failed/ when the status is 4xx or
 * the attempts are used up, else new/ (retried).
 */
enum spool_state sp_ending(const struct order *o, const struct job_opts *opts,
			   int has_status, int64_t status, int failure);

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
