/*
 * workdir: the per-run work directories below the runner's work root, and
 * the mending of what dead runners left there.
 *
 * A run's directory ROOT/ID.ATTEMPT comes with a lock file ROOT/.ID.ATTEMPT.lock
 * that its runner holds (flock) for as long as the run lasts. A runner that
 * dies, however it dies, drops its locks with its descriptors; the next
 * runner started on the same root finds the directories whose lock it can
 * take and removes them (workdir_sweep). A directory without a lock file
 * (--keep-workdirs, or an older runner's) is left alone.
 *
 * What a run keeps of its directory (its artifacts, its checkpoint) goes
 * where the claimer's orders come from: the spool for a local runner (the
 * library's artifact.h), the boss for a remote one (an upload per artifact,
 * the checkpoint as one pack), always fenced by the claim's token.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "runner.h"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *f)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int workdir_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

int dir_make_p(const char *path)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ROOT/.NAME.lock for the run directory ROOT/NAME. */
static int lock_path(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (!slash)
		return -EINVAL;
	n = snprintf(out, cap, "%.*s/.%s.lock", (int)(slash - path), path, slash + 1);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int workdir_make(const char *path, int *lock)
{
	char lp[PATH_MAX];
	int r, fd;

	*lock = -1;
	if ((r = lock_path(path, lp, sizeof(lp))) < 0)
		return r;
	/* locked before the directory exists, so a sweep never sees it unlocked */
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = workdir_remove(path)) < 0 || (mkdir(path, 0755) < 0 && (r = -errno))) {
		unlink(lp);
		close(fd);
		return r;
	}
	*lock = fd;
	return 0;
}

void workdir_done(const char *path, int lock, int keep)
{
	char lp[PATH_MAX];

	if (!keep)
		workdir_remove(path);
	if (lock >= 0) {
		if (lock_path(path, lp, sizeof(lp)) == 0)
			unlink(lp);
		close(lock);
	}
}

int workdir_sweep(const char *root)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!(d = opendir(root)))
		return -errno;
	while ((e = readdir(d))) {
		char run[PATH_MAX], lp[PATH_MAX];
		size_t len = strlen(e->d_name);
		int fd;

		if (e->d_name[0] != '.' || len < 7 || strcmp(e->d_name + len - 5, ".lock") ||
		    snprintf(run, sizeof(run), "%s/%.*s", root, (int)(len - 6),
			     e->d_name + 1) >= (int)sizeof(run) ||
		    snprintf(lp, sizeof(lp), "%s/%s", root, e->d_name) >= (int)sizeof(lp))
			continue;
		if ((fd = open(lp, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* its runner is gone: nobody else holds it */
			if (workdir_remove(run) == 0)
				n++;
			unlink(lp);
		}
		close(fd);
	}
	closedir(d);
	return n;
}

/* ---- artifacts and checkpoints ------------------------------------------------ */

#define NOTES_MAX (256 << 10)	/* bytes of the refusals kept for the record */
#define NOTE_ROOM (64 << 10)	/* the log's ceiling is raised this much for the notes */

void files_init(struct run_files *f)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->refused, NOTES_MAX);
	buf_init(&f->ckpt_refused, NOTES_MAX);
}

void files_release(struct run_files *f)
{
	buf_release(&f->refused);
	buf_release(&f->ckpt_refused);
}

/* What the boss's answer says went wrong (client/boss.c's words), into out. */
static void boss_why(struct boss *b, char *out, size_t cap)
{
	boss_error(b);
	snprintf(out, cap, "%.*s", (int)(cap ? cap - 1 : 0), b->err);
}

int files_dirs(const char *wd, struct run_files *f)
{
	snprintf(f->adir, sizeof(f->adir), "%s/%s", wd, SCRIPT_ARTIFACTS_DIR);
	snprintf(f->cdir, sizeof(f->cdir), "%s/%s", wd, SCRIPT_CHECKPOINT_DIR);
	if (mkdir(f->adir, 0755) < 0 || mkdir(f->cdir, 0755) < 0)
		return -errno;
	return 0;
}

/*
 * The job's checkpoint from the boss, into pack. 0; -ENOENT when the job has
 * none (404, the one answer that means "start from nothing"); else a
 * negative errno, why in note.
 */
static int ckpt_fetch(struct claimer *cl, struct task *t, struct buf *pack,
		      char *note, size_t cap)
{
	char path[128], why[400] = "";
	size_t keep = cl->b.reply.max;
	int r;

	snprintf(path, sizeof(path), "/v1/jobs/%s/checkpoint?token=%s", t->id, t->token);
	cl->b.reply.max = CKPT_PACK_MAX;	/* this one answer may be that large */
	r = boss_request(&cl->b, "GET", path, NULL, 0, 300, 0);
	if (r == 0 && cl->b.status == 200)
		r = buf_add(pack, cl->b.reply.data ? cl->b.reply.data : "", cl->b.reply.len);
	else if (r == 0 && cl->b.status == 404)
		r = -ENOENT;
	else if (r == 0) {
		boss_why(&cl->b, why, sizeof(why));
		r = -EPROTO;
	} else
		snprintf(why, sizeof(why), "%.399s", cl->b.err[0] ? cl->b.err : strerror(-r));
	buf_release(&cl->b.reply);	/* do not keep a large one around */
	cl->b.reply.max = keep;
	if (r < 0 && r != -ENOENT)
		snprintf(note, cap, "cannot fetch the checkpoint: %s", why[0] ? why : strerror(-r));
	return r;
}

int files_prepare(struct claimer *cl, struct task *t, const char *wd,
		  struct run_files *f)
{
	struct buf pack;
	int r, fd;

	if ((r = files_dirs(wd, f)) < 0)
		return r;
	buf_init(&pack, CKPT_PACK_MAX);
	if (cl->rn->boss_url)
		r = ckpt_fetch(cl, t, &pack, f->ckpt_note, sizeof(f->ckpt_note));
	else if ((r = spool_checkpoint_get(&cl->sp, t->id, &pack, NULL)) < 0 && r != -ENOENT)
		snprintf(f->ckpt_note, sizeof(f->ckpt_note), "cannot read the checkpoint: %s",
			 spool_error(&cl->sp));
	if (r == 0) {
		if ((fd = open(f->cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r = -errno;
		} else {
			r = ckpt_unpack(pack.data, pack.len, fd, 1);
			close(fd);
		}
		if (r >= 0)
			f->restored = r;
		else
			snprintf(f->ckpt_note, sizeof(f->ckpt_note), "cannot restore the checkpoint: %s",
				 r == -EINVAL ? "not a valid pack" : strerror(-r));
	}
	buf_release(&pack);
	/* a checkpoint that is there but not had: a run from nothing would
	 * save over it at its end (a save prunes the older generations) */
	return r < 0 && r != -ENOENT ? r : 0;
}

struct keep_ctx {
	struct claimer *cl;
	struct task *t;
	int down;		/* the boss could not be reached: stop trying */
};

static int keep_one(void *arg, const char *name, const void *data, size_t len,
		    char *why, size_t whylen)
{
	struct keep_ctx *k = arg;
	struct claimer *cl = k->cl;
	char path[256];
	int r;

	if (!cl->rn->boss_url) {
		if (spool_artifact_put(&cl->sp, k->t->id, name, data, len, &cl->rn->caps) < 0) {
			snprintf(why, whylen, "%s", spool_error(&cl->sp));
			return -1;
		}
		return 0;
	}
	if (k->down) {
		snprintf(why, whylen, "not uploaded: the boss could not be reached");
		return -1;
	}
	snprintf(path, sizeof(path), "/v1/jobs/%s/artifacts/%s?token=%s", k->t->id, name,
		 k->t->token);
	r = boss_request(&cl->b, "POST", path, data, len, 300, 0);
	if (r < 0) {
		k->down = 1;
		snprintf(why, whylen, "cannot upload it: %s", cl->b.err[0] ? cl->b.err : strerror(-r));
		return -1;
	}
	if (cl->b.status != 200 && cl->b.status != 201) {
		boss_why(&cl->b, why, whylen);
		return -1;
	}
	return 0;
}

/* The refusals in notes (JSON members) as log lines. */
static void note_lines(struct buf *log, const char *what, const struct buf *notes)
{
	struct json j;
	struct buf arr;
	int i, end;

	if (!notes->len)
		return;
	buf_init(&arr, notes->len + 4);
	buf_puts(&arr, "[");
	buf_add(&arr, notes->data, notes->len);
	buf_puts(&arr, "]");
	if (json_parse(&j, arr.data, arr.len, JSON_TOKENS_MAX, NULL, 0) == 0) {
		end = json_skip(&j, 0);
		for (i = 1; i < end; i = json_skip(&j, i)) {
			char name[ARTIFACT_NAME_MAX + 20] = "", why[400] = "";
			int k;

			if ((k = json_get(&j, i, "name")) >= 0)
				json_str(&j, k, name, sizeof(name));
			if ((k = json_get(&j, i, "why")) >= 0)
				json_str(&j, k, why, sizeof(why));
			buf_printf(log, "[runner: %s '%s' not kept: %s]\n", what, name, why);
		}
		json_release(&j);
	}
	buf_release(&arr);
}

static void log_room(struct buf *log)
{
	if (log->len && log->data[log->len - 1] != '\n')
		buf_puts(log, "\n");
	if (log->max < log->len + NOTE_ROOM)
		log->max = log->len + NOTE_ROOM;
}

void files_keep(struct claimer *cl, struct task *t, struct run_files *f, struct buf *log)
{
	struct keep_ctx k = { cl, t, 0 };
	int fd, r;

	log_room(log);
	if (f->restored)
		buf_printf(log, "[runner: this attempt started from the job's checkpoint: %d file%s]\n",
			   f->restored, f->restored == 1 ? "" : "s");
	else if (f->ckpt_note[0])
		buf_printf(log, "[runner: %s]\n", f->ckpt_note);
	if ((fd = open(f->adir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			snprintf(f->art_err, sizeof(f->art_err), "$SPOOL_ARTIFACTS_DIR was removed by the script: no artifacts kept");
		else
			snprintf(f->art_err, sizeof(f->art_err), "cannot open $SPOOL_ARTIFACTS_DIR: %s", strerror(errno));
		buf_printf(log, "[runner: %s]\n", f->art_err);
		return;
	}
	r = artifact_walk(fd, &cl->rn->caps, keep_one, &k, &f->refused, 0, &f->kept,
			  &f->kept_bytes);
	close(fd);
	if (r < 0) {
		snprintf(f->art_err, sizeof(f->art_err), "cannot read $SPOOL_ARTIFACTS_DIR: %s", strerror(-r));
		buf_printf(log, "[runner: %s]\n", f->art_err);
	}
	note_lines(log, "artifact", &f->refused);
	if (f->kept)
		buf_printf(log, "[runner: kept %d artifact%s, %llu bytes]\n", f->kept,
			   f->kept == 1 ? "" : "s", (unsigned long long)f->kept_bytes);
}

void files_checkpoint(struct claimer *cl, struct task *t, struct run_files *f,
		      struct buf *log)
{
	struct buf pack;
	int fd, n, r = 0;

	log_room(log);
	if ((fd = open(f->cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		f->ckpt = -1;
		snprintf(f->ckpt_note, sizeof(f->ckpt_note), errno == ENOENT
			 ? "$SPOOL_CHECKPOINT_DIR was removed by the script: no checkpoint saved, the job's last one is kept"
			 : "cannot open $SPOOL_CHECKPOINT_DIR: no checkpoint saved");
		buf_printf(log, "[runner: %s]\n", f->ckpt_note);
		return;
	}
	buf_init(&pack, CKPT_PACK_MAX);
	{
		struct artifact_caps caps = cl->rn->caps;

		n = ckpt_pack(fd, &caps, &pack, &f->ckpt_refused);
	}
	close(fd);
	note_lines(log, "checkpoint file", &f->ckpt_refused);
	if (n <= 0) {
		/* nothing to carry over: the job's last checkpoint stands */
		if (n < 0) {
			f->ckpt = -1;
			snprintf(f->ckpt_note, sizeof(f->ckpt_note), "cannot read $SPOOL_CHECKPOINT_DIR: %s",
				 strerror(-n));
			buf_printf(log, "[runner: %s]\n", f->ckpt_note);
		}
		buf_release(&pack);
		return;
	}
	if (cl->rn->boss_url) {
		char path[128];

		snprintf(path, sizeof(path), "/v1/jobs/%s/checkpoint?token=%s", t->id, t->token);
		r = boss_request(&cl->b, "POST", path, pack.data, pack.len, 300, 0);
		if (r < 0)
			snprintf(f->ckpt_note, sizeof(f->ckpt_note), "checkpoint not saved: cannot upload it: %.400s",
				 cl->b.err[0] ? cl->b.err : strerror(-r));
		else if (cl->b.status != 200 && cl->b.status != 201) {
			char why[200];

			boss_why(&cl->b, why, sizeof(why));
			snprintf(f->ckpt_note, sizeof(f->ckpt_note), "checkpoint not saved: %s", why);
			r = -EPROTO;
		}
	} else if ((r = spool_checkpoint_put(&cl->sp, t->id, pack.data, pack.len)) < 0) {
		snprintf(f->ckpt_note, sizeof(f->ckpt_note), "checkpoint not saved: %s",
			 spool_error(&cl->sp));
	}
	buf_release(&pack);
	if (r < 0) {
		f->ckpt = -1;
		buf_printf(log, "[runner: %s]\n", f->ckpt_note);
		return;
	}
	f->ckpt = 1;
	f->ckpt_files = n;
	buf_printf(log, "[runner: checkpoint saved for the next attempt: %d file%s]\n", n,
		   n == 1 ? "" : "s");
}

int files_record(const struct run_files *f, struct buf *b)
{
	int e;

	if ((e = buf_printf(b, ",\"artifacts\":{\"kept\":%d,\"bytes\":%llu,\"refused\":[",
			    f->kept, (unsigned long long)f->kept_bytes)) < 0 ||
	    (e = buf_add(b, f->refused.data ? f->refused.data : "", f->refused.len)) < 0 ||
	    (e = buf_puts(b, "]")) < 0)
		return e;
	if (f->art_err[0] && ((e = buf_puts(b, ",\"error\":")) < 0 ||
			      (e = buf_json_str(b, f->art_err, strlen(f->art_err))) < 0))
		return e;
	if ((e = buf_printf(b, "},\"checkpoint\":{\"restored\":%d,\"saved\":%s",
			    f->restored, f->ckpt > 0 ? "true" : "false")) < 0)
		return e;
	if (f->ckpt > 0 && (e = buf_printf(b, ",\"files\":%d", f->ckpt_files)) < 0)
		return e;
	if (f->ckpt_refused.len &&
	    ((e = buf_puts(b, ",\"refused\":[")) < 0 ||
	     (e = buf_add(b, f->ckpt_refused.data, f->ckpt_refused.len)) < 0 ||
	     (e = buf_puts(b, "]")) < 0))
		return e;
	if (f->ckpt_note[0] && ((e = buf_puts(b, ",\"note\":")) < 0 ||
				(e = buf_json_str(b, f->ckpt_note, strlen(f->ckpt_note))) < 0))
		return e;
	return buf_puts(b, "}");
}
