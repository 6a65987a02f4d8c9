/*
 * outcome: what a finished run hands back. A script that exits 0 with a
 * JSON object as its last JSON line of stdout succeeded, and that object is
 * its outcome, as in the seed. Everything else is a failure described by
 * the runner, with the exit code or the signal and the tail of stderr, so
 * that a person learns from the order why it failed. Either way a "_run"
 * record says where and how long it ran and how much memory it took.
 * A command job (a program that may know nothing of JSON) has two more
 * sources before that rule is applied: the file named by $SPOOL_OUTCOME,
 * else its exit status alone.
 *
 * What ran is part of the record too: the sha256 of the script (or the
 * command's program) and the commit of the scripts directory's git
 * checkout, read straight from .git (HEAD, then the ref's loose file or
 * packed-refs): no git is run, and a tree changed since its commit is not
 * detected (the record names the commit, not the tree).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "runner.h"

/* Append s as a JSON string, with bytes that are not valid UTF-8 as '?'. */
static int json_text(struct buf *b, const char *s, size_t n)
{
	struct buf t;
	size_t i = 0;
	int r;

	buf_init(&t, n + 1);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t j;

		if (k == 2 && c < 0xc2)
			k = 0;
		for (j = 1; k && j < k; j++)
			if (i + j >= n || ((unsigned char)s[i + j] & 0xc0) != 0x80)
				k = 0;
		if (k == 3 && ((c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) ||
			       (c == 0xed && (unsigned char)s[i + 1] >= 0xa0)))
			k = 0;
		if (k == 4 && ((c == 0xf0 && (unsigned char)s[i + 1] < 0x90) ||
			       c > 0xf4 || (c == 0xf4 && (unsigned char)s[i + 1] >= 0x90)))
			k = 0;
		if ((r = k ? buf_add(&t, s + i, k) : buf_add(&t, "?", 1)) < 0)
			goto out;
		i += k ? k : 1;
	}
	r = buf_json_str(b, t.data ? t.data : "", t.len);
out:
	buf_release(&t);
	return r;
}

static int run_record(struct buf *b, const struct exec_result *r,
		      const struct run_info *ri)
{
	char when[32], sig[16];
	int e;

	iso_time(r->started_ms, when);
	if ((e = buf_puts(b, "\"_run\":{\"worker\":")) < 0 ||
	    (e = buf_json_str(b, ri->worker, strlen(ri->worker))) < 0)
		return e;
	e = buf_printf(b, ",\"slot\":%d,\"attempt\":%d,\"startedAt\":\"%s\","
		       "\"wallMs\":%lld,\"cpuMs\":%lld,\"maxRssKb\":%ld,"
		       "\"stdoutBytes\":%llu,\"stderrBytes\":%llu",
		       ri->slot, ri->attempt, when, (long long)r->wall_ms,
		       (long long)r->cpu_ms, r->maxrss_kb,
		       (unsigned long long)r->out_bytes,
		       (unsigned long long)r->err_bytes);
	if (e < 0)
		return e;
	if (r->end == END_SPAWN)
		e = buf_puts(b, ",\"exit\":null,\"signal\":null");
	else if (r->sig)
		e = buf_printf(b, ",\"exit\":null,\"signal\":\"%s\"",
			       exec_signame(r->sig, sig));
	else
		e = buf_printf(b, ",\"exit\":%d,\"signal\":null", r->code);
	if (e < 0)
		return e;
	/* a diverged run printed NaN or Infinity: say so where its numbers are */
	if (r->nonfinite && (e = buf_printf(b, ",\"nonFiniteAsNull\":%d", r->nonfinite)) < 0)
		return e;
	if (ri->outcome_from &&
	    (e = buf_printf(b, ",\"outcomeFrom\":\"%s\"", ri->outcome_from)) < 0)
		return e;
	if (ri->sha256[0] &&
	    (e = buf_printf(b, ",\"script\":{\"sha256\":\"%s\",\"commit\":%s%s%s}",
			    ri->sha256, ri->commit[0] ? "\"" : "",
			    ri->commit[0] ? ri->commit : "null", ri->commit[0] ? "\"" : "")) < 0)
		return e;
	if (ri->files && (e = files_record(ri->files, b)) < 0)
		return e;
	return buf_printf(b, ",\"timedOut\":%s}",
			  r->end == END_TIMEOUT ? "true" : "false");
}

/*
 * The numeric "status" of the script's JSON outcome, if it has one: the
 * one reading of it behind both rules below. 1 (*v set) or 0.
 */
static int script_status_of(const struct exec_result *r, int64_t *v)
{
	struct json j;
	char err[8];
	int has;

	if (!r->outcome.len ||
	    json_parse(&j, r->outcome.data, r->outcome.len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	has = json_int(&j, json_get(&j, 0, "status"), v) == 0;
	json_release(&j);
	return has;
}

/*
 * The status of a failed run, as the spool reads it (spool_status_failed,
 * spool_fail; the same rule as /callback's): the script's own when it says
 * the job is wrong (4xx, as nn.py's 400), so that it fails at once; 500,
 * retried, otherwise.
 */
static int script_status(const struct exec_result *r)
{
	int64_t v = 500;

	if (!script_status_of(r, &v) || v < 400 || v > 499)
		v = 500;
	return (int)v;
}

/*
 * A script that cannot be started for reasons another attempt cannot change
 * (too large an argument list, a file that is no program) fails its job at
 * once (400), rather than three times.
 */
static int never_runs(const struct exec_result *r)
{
	return r->end == END_SPAWN && (r->err == E2BIG || r->err == ENOEXEC);
}

/* 1 if the script's JSON outcome has a numeric "status" that says failure. */
static int status_failed(const struct exec_result *r)
{
	int64_t v = 0;
	int has = script_status_of(r, &v);

	return spool_status_failed(has, v);
}

static int success(const struct exec_result *r, const struct run_info *ri,
		   struct buf *b)
{
	struct json j;
	int i, end, e, n = 0;

	if ((e = json_parse(&j, r->outcome.data, r->outcome.len, JSON_TOKENS_MAX,
			    NULL, 0)) < 0)
		return e;
	if ((e = buf_puts(b, "{")) < 0)
		goto out;
	end = json_skip(&j, 0);
	for (i = 1; i < end; i = json_skip(&j, i + 1)) {
		if (json_eq(&j, i, "_run"))
			continue;
		if ((e = buf_puts(b, n++ ? "," : "")) < 0 ||
		    (e = json_append_raw(&j, i, b)) < 0 ||
		    (e = buf_puts(b, ":")) < 0 ||
		    (e = json_append_raw(&j, i + 1, b)) < 0)
			goto out;
	}
	if (json_get(&j, 0, "jobId") < 0 &&
	    (e = buf_printf(b, "%s\"jobId\":\"%s\"", n++ ? "," : "", ri->job_id)) < 0)
		goto out;
	if ((e = buf_puts(b, n ? "," : "")) < 0 ||
	    (e = run_record(b, r, ri)) < 0 ||
	    (e = buf_puts(b, "}")) < 0)
		goto out;
	e = 1;
out:
	json_release(&j);
	return e;
}

int outcome_build(const struct exec_result *r, const struct run_info *ri,
		  struct buf *b, char *why_out, size_t whylen)
{
	char why[160], sig[16];
	int e;

	buf_reset(b);
	if (whylen)
		why_out[0] = '\0';
	switch (r->end) {
	case END_EXITED:
		if (ri->outcome_bad) {
			snprintf(why, sizeof(why), "%s", ri->outcome_bad);
		} else if (r->code == 0 && r->outcome.len) {
			e = success(r, ri, b);
			if (e == 1 && status_failed(r)) {
				/* the script says it failed, exit 0 or not */
				if (whylen)
					snprintf(why_out, whylen, "the script reported a failure status");
				return 0;
			}
			if (e != -E2BIG && e != -EINVAL)
				return e;
			buf_reset(b);	/* valid, but too big for us to rebuild */
			snprintf(why, sizeof(why), "the JSON outcome on stdout is too large");
		} else if (r->code == 0) {
			snprintf(why, sizeof(why), "no JSON object on stdout");
		} else {
			snprintf(why, sizeof(why), "exit code %d", r->code);
		}
		break;
	case END_SIGNALED:
		snprintf(why, sizeof(why), "killed by signal %d (%s)", r->sig,
			 exec_signame(r->sig, sig));
		break;
	case END_TIMEOUT:
		snprintf(why, sizeof(why), "timed out after %lld s",
			 (long long)(ri->timeout_ms / 1000));
		break;
	case END_LOST:
		snprintf(why, sizeof(why), "stopped: the claim was lost");
		break;
	case END_STOPPED:
		snprintf(why, sizeof(why), "stopped: the runner is shutting down");
		break;
	case END_SPAWN:
	default:
		if (r->err == E2BIG)
			snprintf(why, sizeof(why), "cannot run the script: its environment "
				 "is too large (Linux takes 128 KiB per variable)");
		else
			snprintf(why, sizeof(why), "cannot run the script: %s",
				 strerror(r->err));
		break;
	}
	if (whylen)
		snprintf(why_out, whylen, "%s", why);
	if ((e = buf_printf(b, "{\"jobId\":\"%s\",\"status\":%d,\"error\":", ri->job_id,
			    never_runs(r) ? 400 : script_status(r))) < 0 ||
	    (e = buf_json_str(b, why, strlen(why))) < 0 ||
	    (e = buf_puts(b, ",\"stderrTail\":")) < 0 ||
	    (e = json_text(b, r->errtail, strlen(r->errtail))) < 0)
		return e;
	if (r->outcome.len && r->outcome.len < (64 << 10) &&
	    ((e = buf_puts(b, ",\"output\":")) < 0 ||
	     (e = buf_add(b, r->outcome.data, r->outcome.len)) < 0))
		return e;
	if ((e = buf_puts(b, ",")) < 0 || (e = run_record(b, r, ri)) < 0 ||
	    (e = buf_puts(b, "}")) < 0)
		return e;
	return 0;
}

/* Trimmed of white space, is s[0..n) a JSON object? (NaN read as null) */
static int take_object(struct exec_result *r, const char *s, size_t n)
{
	struct buf fixed;
	int nf = 0, e;

	while (n && strchr(" \t\r\n", *s))
		s++, n--;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return -EINVAL;
	buf_init(&fixed, SPOOL_OUTCOME_MAX);
	if (json_validate(s, n, NULL, 0) < 0) {
		if ((nf = exec_nonfinite_null(s, n, &fixed)) <= 0 ||
		    json_validate(fixed.data, fixed.len, NULL, 0) < 0) {
			buf_release(&fixed);
			return nf < 0 ? nf : -EINVAL;
		}
		s = fixed.data;
		n = fixed.len;
	}
	buf_reset(&r->outcome);
	e = buf_add(&r->outcome, s, n);
	if (e == 0)
		r->nonfinite = nf;
	buf_release(&fixed);
	return e;
}

/*
 * Did reading the program's outcome file fail because of the program (it
 * left no regular file there, or one it made unreadable, or removed it
 * meanwhile)? Anything else (EIO, ESTALE, EMFILE, ENOMEM) is the runner's
 * trouble: the program is not to fail for it.
 */
static int program_fault(int e)
{
	return e == -ENOENT || e == -EINVAL || e == -ELOOP || e == -EACCES || e == -EPERM;
}

int outcome_command(struct exec_result *r, struct run_info *ri, const char *file)
{
	struct stat st;
	struct buf f;
	int e;

	ri->outcome_bad = NULL;
	if (r->outcome.len) {
		ri->outcome_from = "stdout";
		return 0;
	}
	ri->outcome_from = "exit";
	if (r->end != END_EXITED)
		return 0;	/* timed out, killed: the outcome says so */
	/* lstat first: a FIFO there would block the open; only a file that
	 * is not there means "no outcome file" (exit 0 is then success) */
	if (lstat(file, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		goto exit_status;
	}
	ri->outcome_from = "file";
	if (!S_ISREG(st.st_mode)) {
		ri->outcome_bad = "$SPOOL_OUTCOME is not a regular file";
		return 0;
	}
	buf_init(&f, SPOOL_OUTCOME_MAX);
	e = buf_read_file(&f, AT_FDCWD, file);
	if (e == -EFBIG) {
		ri->outcome_bad = "the outcome in $SPOOL_OUTCOME is too large";
	} else if (e < 0 && !program_fault(e)) {
		buf_release(&f);
		return e;
	} else if (e < 0 || !f.data ||
		   (e = take_object(r, f.data, f.len)) == -EINVAL || e == -E2BIG) {
		ri->outcome_bad = "$SPOOL_OUTCOME holds no JSON object";
	} else if (e < 0) {
		buf_release(&f);
		return e;
	}
	buf_release(&f);
	return 0;
exit_status:
	if (r->code == 0)
		return buf_puts(&r->outcome, "{\"status\":200,\"exitCode\":0}");
	return 0;
}

int outcome_refused(const struct run_info *ri, const char *why, struct buf *b)
{
	int e;

	buf_reset(b);
	/* 400: the job itself is wrong, another attempt cannot help */
	if ((e = buf_printf(b, "{\"jobId\":\"%s\",\"status\":400,\"error\":", ri->job_id)) < 0 ||
	    (e = json_text(b, why, strlen(why))) < 0 ||
	    (e = buf_puts(b, ",\"_run\":{\"worker\":")) < 0 ||
	    (e = buf_json_str(b, ri->worker, strlen(ri->worker))) < 0 ||
	    (e = buf_printf(b, ",\"slot\":%d,\"attempt\":%d}}", ri->slot,
			    ri->attempt)) < 0)
		return e;
	return 0;
}

/* ---- what ran --------------------------------------------------------------- */

#define WHAT_RAN_MAX (1ULL << 30)	/* a program larger than this is not hashed */
#define GIT_FILE_MAX (16 << 20)		/* packed-refs of a very large repository */

/* The file at path (symlinks followed: a script may be one), into b. */
static int read_all(const char *path, struct buf *b)
{
	char chunk[65536];
	ssize_t n;
	int fd, r = 0;

	buf_reset(b);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (r = buf_add(b, chunk, (size_t)n)) < 0) {
			r = n < 0 ? -errno : r;
			break;
		}
	}
	close(fd);
	return r;
}

static int hex40(const char *s)
{
	int i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The first line of the small file at path into out (cap bytes). 0 or -1. */
static int first_line(const char *path, char *out, size_t cap)
{
	struct buf b;
	size_t n;
	int r;

	buf_init(&b, 4096);
	r = read_all(path, &b);
	if (r < 0 || !b.data) {
		buf_release(&b);
		return -1;
	}
	n = strcspn(b.data, "\r\n");
	snprintf(out, cap, "%.*s", (int)n, b.data);
	buf_release(&b);
	return (n < cap) ? 0 : -1;
}

/* dir + "/" + rel, or rel when it is absolute. */
static void join(char *out, size_t cap, const char *dir, const char *rel)
{
	int n = rel[0] == '/' ? snprintf(out, cap, "%s", rel)
			      : snprintf(out, cap, "%s/%s", dir, rel);

	if (n < 0 || (size_t)n >= cap)
		out[0] = '\0';	/* too long: no such path */
}

/* The commit ref names: its loose file, else its line in packed-refs. */
static int ref_commit(const char *common, const char *ref, char out[41])
{
	char path[PATH_MAX + 300], line[64];
	struct buf b;
	const char *p;
	size_t rl = strlen(ref);

	if (strncmp(ref, "refs/", 5) || strstr(ref, "..") || strspn(ref,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+") != rl)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", common, ref);
	if (first_line(path, line, sizeof(line)) == 0 && strlen(line) == 40 && hex40(line)) {
		memcpy(out, line, 41);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/packed-refs", common);
	buf_init(&b, GIT_FILE_MAX);
	if (read_all(path, &b) < 0 || !b.data) {
		buf_release(&b);
		return -1;
	}
	for (p = b.data; *p; ) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);

		if (end - p == (ptrdiff_t)(41 + rl) && hex40(p) && p[40] == ' ' &&
		    !memcmp(p + 41, ref, rl)) {
			memcpy(out, p, 40);
			out[40] = '\0';
			buf_release(&b);
			return 0;
		}
		p = nl ? nl + 1 : end;
	}
	buf_release(&b);
	return -1;
}

/* The HEAD commit of the checkout holding dir (its .git found going up). */
static void git_commit(const char *dir, char out[41])
{
	char at[PATH_MAX], git[PATH_MAX + 8], gd[PATH_MAX + 300], common[PATH_MAX + 600];
	char line[PATH_MAX];
	struct stat st;
	char *slash;

	out[0] = '\0';
	if (!realpath(dir, at))
		return;
	for (;;) {
		snprintf(git, sizeof(git), "%s/.git", at[1] ? at : "");
		if (lstat(git, &st) == 0)
			break;
		if (!(slash = strrchr(at, '/')) || slash == at) {
			if (at[1] == '\0')
				return;
			at[1] = '\0';	/* try / itself last */
			continue;
		}
		*slash = '\0';
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(gd, sizeof(gd), "%s", git);
	} else {
		/* a worktree or submodule: "gitdir: PATH" */
		if (first_line(git, line, sizeof(line)) < 0 || strncmp(line, "gitdir: ", 8))
			return;
		join(gd, sizeof(gd), at, line + 8);
	}
	snprintf(common, sizeof(common), "%s", gd);
	{
		char cpath[PATH_MAX + 320];

		snprintf(cpath, sizeof(cpath), "%s/commondir", gd);
		if (first_line(cpath, line, sizeof(line)) == 0)
			join(common, sizeof(common), gd, line);
		snprintf(cpath, sizeof(cpath), "%s/HEAD", gd);
		if (first_line(cpath, line, sizeof(line)) < 0)
			return;
	}
	if (!strncmp(line, "ref: ", 5)) {
		/* a worktree's own refs live in its gitdir; branches in the common one */
		if (ref_commit(gd, line + 5, out) < 0 && ref_commit(common, line + 5, out) < 0)
			out[0] = '\0';
	} else if (strlen(line) == 40 && hex40(line)) {
		memcpy(out, line, 41);	/* a detached HEAD */
	}
}

void outcome_what_ran(struct run_info *ri, const char *path, const char *scripts)
{
	unsigned char h[32];
	struct buf b;
	int i;

	ri->sha256[0] = ri->commit[0] = '\0';
	if (path) {
		buf_init(&b, WHAT_RAN_MAX);
		if (read_all(path, &b) == 0) {
			sha256(b.data ? b.data : "", b.len, h);
			for (i = 0; i < 32; i++)
				snprintf(ri->sha256 + 2 * i, 3, "%02x", h[i]);
		}
		buf_release(&b);
	}
	if (scripts)
		git_commit(scripts, ri->commit);
}
