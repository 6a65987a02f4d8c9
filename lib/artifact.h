/*
 * artifact: the files a run keeps (artifacts/FF/ID/NAME) and the checkpoint
 * that carries over from one attempt of a job to the next
 * (checkpoints/FF/ID/STAMP/), in the spool; spool-layout.md, "Artifacts and
 * checkpoints", is the format. artifact.c holds names, caps and artifacts;
 * checkpoint.c the checkpoint's pack (how one travels to and from the boss)
 * and its generations in the spool.
 */
#ifndef SPOOL_ARTIFACT_H
#define SPOOL_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "spool.h"

#define ARTIFACT_NAME_MAX   128			/* bytes of a file's name */
#define ARTIFACT_FILE_MAX   (64ULL << 20)	/* default: bytes of one file */
#define ARTIFACT_TOTAL_MAX  (256ULL << 20)	/* default: bytes of a job's files */
#define ARTIFACT_COUNT_MAX  1000		/* default: files of a job */
/* a pack's own bytes per file (its header line), for ceilings */
#define CKPT_PACK_OVERHEAD  (ARTIFACT_NAME_MAX + 48)
#define CKPT_PACK_MAX	    (ARTIFACT_TOTAL_MAX + ARTIFACT_COUNT_MAX * CKPT_PACK_OVERHEAD + 64)

/* The ceilings on a job's artifacts, and on one checkpoint. */
struct artifact_caps {
	uint64_t file_max;
	uint64_t total_max;
	int count_max;
};

/* The defaults above. */
void artifact_caps_default(struct artifact_caps *c);

/*
 * Check the name of an artifact or checkpoint file: 1 to ARTIFACT_NAME_MAX
 * bytes of [A-Za-z0-9._+=,@-], not starting with '.' or '-', no "..". 0, or
 * -EINVAL with the reason in why.
 */
int artifact_name_check(const char *name, char *why, size_t whylen);

/*
 * Keep data as artifact name of job id: tmp/, fsync, rename into
 * artifacts/FF/ID/NAME (replacing one of the same name), fsync the
 * directory. Refused when the job is unknown (-ENOENT), the name is bad
 * (-EINVAL), or it would pass caps: the file (-EFBIG), the job's total
 * (-EDQUOT), the job's count (-EMLINK); spool_error says which.
 */
int spool_artifact_put(struct spool *sp, const char *id, const char *name,
		       const void *data, size_t len, const struct artifact_caps *caps);

/*
 * The artifacts of job id as a JSON array, by name:
 * [{"name": N, "size": S, "sha256": H}], appended to out. 0 (an empty
 * array when it has none), -ENOENT (no such job), -EINVAL, errno.
 */
int spool_artifact_list(struct spool *sp, const char *id, struct buf *out);

/* Read artifact name of job id into b. 0, -ENOENT, -EINVAL, -EFBIG, errno. */
int spool_artifact_read(struct spool *sp, const char *id, const char *name,
			struct buf *b);

/*
 * How many artifacts job id has, and their bytes, leaving out skip (may be
 * NULL): what a new one is checked against. 0 or errno.
 */
int spool_artifact_usage(struct spool *sp, const char *id, const char *skip,
			 int *count, uint64_t *bytes);

/*
 * Walk the regular files at the top of the directory dirfd, by name, within
 * caps: fn(arg, name, data, len, why, whylen) is called for each one kept
 * (its content read whole); a non-zero return leaves it out, with why. What
 * is left out (a bad name, a subdirectory, a symlink, a file over the cap,
 * past the total or the count, or refused by fn) is appended to notes as a
 * JSON array's members {"name": N, "why": W} (comma-separated). *kept and
 * *bytes get what fn took. 0, or a negative errno (the directory cannot be
 * read: -ENOENT when it is gone). With whole (a checkpoint: all of it or
 * none), a file that cannot be listed, stat'ed or read ends the walk with
 * that errno instead of a note; one gone meanwhile (ENOENT) is left out.
 */
int artifact_walk(int dirfd, const struct artifact_caps *caps,
		  int (*fn)(void *arg, const char *name, const void *data, size_t len,
			    char *why, size_t whylen),
		  void *arg, struct buf *notes, int whole, int *kept, uint64_t *bytes);

/* For artifact.c and checkpoint.c: TOP/FF/ID for job id into out (made when
 * make, the new entries synced); the job's existence (0, -ENOENT, -EINVAL). */
int sp_files_dir(struct spool *sp, const char *top, const char *id, char *out,
		 size_t cap, int make);
int sp_files_job(struct spool *sp, const char *id);

/* ---- checkpoint.c ------------------------------------------------------------ */

/*
 * A pack: "spool-checkpoint 1\n", then per file "F SIZE NAME\n" and its
 * bytes, then "E\n". Pack the regular files at the top of the directory
 * dirfd into out (reset first), within caps, as artifact_walk (notes
 * likewise) with whole: a file that cannot be read fails the pack, never
 * leaves it out. How many files were packed, or a negative errno.
 */
int ckpt_pack(int dirfd, const struct artifact_caps *caps, struct buf *out,
	      struct buf *notes);

/*
 * Write the files of pack into the directory dirfd (each fsynced unless
 * nosync). How many, or -EINVAL (a pack that does not parse, a bad name,
 * more than ARTIFACT_COUNT_MAX files or one over ARTIFACT_FILE_MAX), errno.
 */
int ckpt_unpack(const char *pack, size_t len, int dirfd, int nosync);

/*
 * Make pack the checkpoint of job id: unpacked into a fresh directory in
 * tmp/, synced, renamed to checkpoints/FF/ID/STAMP; older generations are
 * then removed. 0, -ENOENT (no such job), -EINVAL (bad pack), errno.
 */
int spool_checkpoint_put(struct spool *sp, const char *id, const char *pack,
			 size_t len);

/*
 * The newest checkpoint of job id, packed into out (whose ceiling should be
 * CKPT_PACK_MAX). 0, -ENOENT (none), errno. *stamp (may be NULL) gets its
 * generation's name.
 */
int spool_checkpoint_get(struct spool *sp, const char *id, struct buf *out,
			 char stamp[SPOOL_ID_LEN + 1]);

/*
 * Remove the generations of job id's checkpoint older than its newest (a
 * crash between a new one's rename and the removal leaves them). How many
 * (or would be, with repair 0), or errno.
 */
int spool_checkpoint_prune(struct spool *sp, const char *id, int repair);

/* Remove the directory tree path (relative to the spool). 0 or errno. */
int sp_remove_tree(struct spool *sp, const char *path);

/* 1 if name (in tmp/) is a checkpoint being staged: STAMP.ckpt.ID. */
int ckpt_is_staged(const char *name);

#endif
