/*
 * script: what a run executes and with what: the scriptName rule (a plain
 * file name inside --scripts, nothing else; a symbolic link there only
 * when it ends inside the directory too), the job argument in the
 * seed's shape, a command job's argv (its program found by the same rule),
 * and the environment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "runner.h"

extern char **environ;

int script_name_check(const char *name, char *err, size_t errlen)
{
	const char *why = NULL;
	size_t n = strlen(name), i;

	if (!n)
		why = "is empty";
	else if (n > NAME_MAX)
		why = "is too long";
	else if (strchr(name, '/'))
		why = "contains '/'";
	else if (strstr(name, ".."))
		why = "contains '..'";
	else if (name[0] == '.')
		why = "starts with '.'";
	for (i = 0; !why && i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			why = "contains a control character";
	if (!why)
		return 0;
	snprintf(err, errlen, "script name '%.64s' refused: it %s", name, why);
	return -EINVAL;
}

/*
 * 0 when path, a symbolic link in dir, ends (through any chain of links)
 * at a file inside dir or below it; -EPERM when it ends outside, or the
 * negative errno of resolving it. The name rule keeps a scriptName to one
 * component, but a link placed in the directory could still reach any file
 * of the host; one that stays inside is as safe as the file it names.
 */
static int link_inside(const char *dir, const char *path)
{
	char rd[PATH_MAX], rp[PATH_MAX];
	size_t n;

	if (!realpath(dir, rd) || !realpath(path, rp))
		return -errno;
	n = strlen(rd);
	if (n == 1)
		return 0;	/* --scripts / holds everything */
	return !strncmp(rp, rd, n) && rp[n] == '/' ? 0 : -EPERM;
}

/* Does errno e say the name ends nowhere (nothing there, a dangling link, a loop of links)? */
static int ends_nowhere(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/*
 * Look at the script path (name in dir): 0; the job's own faults, said in
 * err: -ENOENT (no regular file there), -EACCES (a link that ends outside
 * dir, or not executable and not py); else the negative errno of a look
 * that failed (EIO, ESTALE, EMFILE: the runner's trouble, not the job's).
 */
static int script_look(const char *dir, const char *name, const char *path, int py,
		       char *err, size_t errlen)
{
	struct stat st;
	int r = 0;

	/* a link is followed only when it stays inside: resolving fails
	 * closed (a dangling one is "not found", as before) */
	if (lstat(path, &st) < 0)
		r = -errno;
	else if (S_ISLNK(st.st_mode) && (r = link_inside(dir, path)) == -EPERM) {
		snprintf(err, errlen, "script '%s' refused: it is a symbolic "
			 "link to a file outside the scripts directory", name);
		return -EACCES;
	}
	if (r == 0 && stat(path, &st) < 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -ENOENT;
	if (r == 0 && !py && access(path, X_OK) < 0) {
		if (errno == EACCES) {
			snprintf(err, errlen, "script '%s' is not executable and not a .py file",
				 name);
			return -EACCES;
		}
		r = -errno;
	}
	if (r < 0 && ends_nowhere(-r)) {
		snprintf(err, errlen, "script '%s' not found in the scripts directory", name);
		return -ENOENT;
	}
	if (r < 0)
		snprintf(err, errlen, "cannot look at script '%s' in the scripts directory: %s",
			 name, strerror(-r));
	return r;
}

int script_resolve(const char *dir, const char *name, char **path, int *py,
		   char *err, size_t errlen)
{
	size_t n;
	int r;

	*path = NULL;
	if ((r = script_name_check(name, err, errlen)) < 0)
		return r;
	n = strlen(name);
	*py = n > 3 && !strcmp(name + n - 3, ".py");
	if (asprintf(path, "%s/%s", dir, name) < 0) {
		*path = NULL;
		return -ENOMEM;
	}
	if ((r = script_look(dir, name, *path, *py, err, errlen)) < 0) {
		free(*path);
		*path = NULL;
	}
	return r;
}

/*
 * script_resolve's answer as script_prepare's: -ENOENT (another runner may
 * have it), -EINVAL (the job's fault: refused), or the runner's trouble
 * (ENOMEM, EIO, ESTALE) as it is.
 */
static int resolve_rc(int r)
{
	return r == -ENOENT ? r : r == -EINVAL || r == -EACCES ? -EINVAL : r;
}

int script_job_arg(const char *job, size_t len, const char *id,
		   struct buf *b, char *script_name, size_t cap)
{
	struct json j;
	int i, end, r, first = 1;

	script_name[0] = '\0';
	if ((r = json_parse(&j, job, len, JSON_TOKENS_MAX, NULL, 0)) < 0)
		return r;
	if (j.tok[0].type != JSMN_OBJECT) {
		json_release(&j);
		return -EINVAL;
	}
	i = json_get(&j, 0, "scriptName");
	if (i >= 0 && json_str(&j, i, script_name, cap) < 0) {
		/* \u0000 inside, or too long for a file name */
		script_name[0] = '\0';
		json_release(&j);
		return -EILSEQ;
	}
	buf_reset(b);
	if ((r = buf_puts(b, "{\"_id\":")) < 0 ||
	    (r = buf_json_str(b, id, strlen(id))) < 0 ||
	    (r = buf_puts(b, ",\"assignmentId\":")) < 0 ||
	    (r = buf_json_str(b, id, strlen(id))) < 0)
		goto out;
	first = 0;
	end = json_skip(&j, 0);
	for (i = 1; i < end; i = json_skip(&j, i + 1)) {
		if (json_eq(&j, i, "_id") || json_eq(&j, i, "assignmentId"))
			continue;
		if ((r = buf_puts(b, first ? "" : ",")) < 0 ||
		    (r = json_append_raw(&j, i, b)) < 0 ||
		    (r = buf_puts(b, ":")) < 0 ||
		    (r = json_append_raw(&j, i + 1, b)) < 0)
			goto out;
	}
	r = buf_puts(b, "}");
out:
	json_release(&j);
	return r;
}

char *script_which(const char *prog)
{
	const char *path = getenv("PATH"), *p, *e;
	char *full;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = e + 1) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		if (e > p && *p == '/' &&
		    asprintf(&full, "%.*s/%s", (int)(e - p), p, prog) >= 0) {
			struct stat st;

			if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(full, X_OK) == 0)
				return full;
			free(full);
		}
		if (!*e)
			return NULL;
	}
}

/* The variables the runner sets for a run: any value they had is replaced. */
static const char *const env_set[] = {
	"SPOOL_JOB_ID=", "SPOOL_ORDER_ID=", "SPOOL_ATTEMPT=", "SPOOL_SLOT=",
	"SPOOL_WORKDIR=", "SPOOL_WORKER=", "SPOOL_JOB_FILE=", "SPOOL_RUN=",
	"SPOOL_OUTCOME=", "SPOOL_ARTIFACTS_DIR=", "SPOOL_CHECKPOINT_DIR=",
};

/* Only what we set is dropped: SPOOL_DATA_DIR and the like pass through. */
static int env_ours(const char *kv, int cuda)
{
	size_t i;

	for (i = 0; i < sizeof(env_set) / sizeof(env_set[0]); i++)
		if (!strncmp(kv, env_set[i], strlen(env_set[i])))
			return 1;
	return cuda && !strncmp(kv, "CUDA_VISIBLE_DEVICES=", 21);
}

char **script_env(const struct run_env *e)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 13, sizeof(*env))))
		return NULL;
	for (i = 0; i < n; i++)
		if (!env_ours(environ[i], e->cuda != NULL) &&
		    !(env[k++] = strdup(environ[i])))
			goto fail;
	if (asprintf(&env[k++], "SPOOL_JOB_ID=%s", e->job_id) < 0 ||
	    asprintf(&env[k++], "SPOOL_ORDER_ID=%s", e->job_id) < 0 ||
	    asprintf(&env[k++], "SPOOL_ATTEMPT=%d", e->attempt) < 0 ||
	    asprintf(&env[k++], "SPOOL_SLOT=%d", e->slot) < 0 ||
	    asprintf(&env[k++], "SPOOL_WORKDIR=%s", e->workdir) < 0 ||
	    asprintf(&env[k++], "SPOOL_WORKER=%s", e->worker) < 0 ||
	    asprintf(&env[k++], "SPOOL_JOB_FILE=%s/%s", e->workdir, SCRIPT_JOB_FILE) < 0 ||
	    asprintf(&env[k++], "SPOOL_ARTIFACTS_DIR=%s/%s", e->workdir, SCRIPT_ARTIFACTS_DIR) < 0 ||
	    asprintf(&env[k++], "SPOOL_CHECKPOINT_DIR=%s/%s", e->workdir, SCRIPT_CHECKPOINT_DIR) < 0 ||
	    asprintf(&env[k++], "SPOOL_RUN=%s.%d.%s.%ld", e->job_id, e->attempt, e->worker,
		     (long)getpid()) < 0 ||
	    (e->command && asprintf(&env[k++], "SPOOL_OUTCOME=%s/%s", e->workdir,
				    SCRIPT_OUTCOME_FILE) < 0) ||
	    (e->cuda && asprintf(&env[k++], "CUDA_VISIBLE_DEVICES=%s", e->cuda) < 0)) {
		env[k - 1] = NULL;
		goto fail;
	}
	env[k] = NULL;
	return env;
fail:
	script_env_free(env);
	return NULL;
}

void script_env_free(char **env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

void script_job_init(struct script_job *sj)
{
	memset(sj, 0, sizeof(*sj));
	buf_init(&sj->arg, SPOOL_JOB_MAX + 256);
}

void script_job_release(struct script_job *sj)
{
	buf_release(&sj->arg);
	free(sj->path);
	free(sj->argv);
	command_release(&sj->cmd);
	sj->path = NULL;
	sj->argv = NULL;
}

/*
 * The argv of a command job, its program resolved in dir by the scriptName
 * rule. "python3" is the runner's own (the one .py scripts run under), and
 * runs argv[1] from dir; the resolved path, absolute, can never be read as
 * an option by it. Return codes as script_prepare.
 */
static int command_prepare(const char *dir, const char *python, struct script_job *sj,
			   char *why, size_t whylen)
{
	struct command *c = &sj->cmd;
	int via_python = !strcmp(c->argv[0], "python3"), first = via_python ? 1 : 0;
	int i, k = 0, r;

	if (via_python && c->argc < 2) {
		snprintf(why, whylen, "command 'python3' names no script to run");
		return -EINVAL;
	}
	snprintf(sj->sname, sizeof(sj->sname), "%.*s", NAME_MAX, c->argv[first]);
	if ((r = script_resolve(dir, c->argv[first], &sj->path, &sj->py, why, whylen)) < 0)
		return resolve_rc(r);
	if (via_python)
		sj->py = 1;
	if (sj->py && !python) {
		snprintf(why, whylen, "python3 is not on the runner's PATH");
		return -ENOENT;
	}
	if (!(sj->argv = calloc((size_t)c->argc + 2, sizeof(*sj->argv))))
		return -ENOMEM;
	if (sj->py)
		sj->argv[k++] = (char *)python;
	sj->argv[k++] = sj->path;
	for (i = first + 1; i < c->argc; i++)
		sj->argv[k++] = c->argv[i];
	sj->argv[k] = NULL;
	return 0;
}

int script_prepare(const char *dir, const char *python, const char *job,
		   size_t len, const char *id, struct script_job *sj, char *why,
		   size_t whylen)
{
	char err[256];
	int r = script_job_arg(job, len, id, &sj->arg, sj->sname, sizeof(sj->sname));

	if (r < 0) {
		snprintf(why, whylen, "%s", r == -EILSEQ
			 ? "script name refused: it contains NUL or is too long"
			 : "the job is not a JSON object");
		return -EINVAL;
	}
	/* a command wins over a scriptName (a label then); filled from the
	 * job as the script gets it, so {_id} is there even for --exec */
	r = command_expand(sj->arg.data, sj->arg.len, &sj->cmd, err, sizeof(err));
	if (r == 0) {
		sj->is_command = 1;
		return command_prepare(dir, python, sj, why, whylen);
	}
	if (r == -ENOMEM)
		return r;
	if (r != -ENOENT) {
		snprintf(why, whylen, "command refused: %s", err);
		return -EINVAL;
	}
	if ((r = script_resolve(dir, sj->sname, &sj->path, &sj->py, why, whylen)) < 0)
		return resolve_rc(r);
	if (sj->py && !python) {
		snprintf(why, whylen, "python3 is not on the runner's PATH");
		return -ENOENT;
	}
	return 0;
}

int script_job_file(const char *workdir, const struct buf *arg)
{
	char path[PATH_MAX];
	const char *p = arg->data ? arg->data : "";
	size_t left = arg->len;
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", workdir, SCRIPT_JOB_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -errno;
	while (left && !r) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno != EINTR)
			r = -errno;
		else if (w > 0)
			p += w, left -= (size_t)w;
	}
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

void script_spec(struct exec_spec *s, const struct runner *rn,
		 const struct script_job *sj, char **env, const char *workdir,
		 int64_t timeout_ms)
{
	memset(s, 0, sizeof(*s));
	s->path = sj->path;
	s->interp = sj->py ? rn->python : NULL;
	s->argv = sj->is_command ? sj->argv : NULL;
	s->job = sj->arg.data;
	s->joblen = sj->arg.len;
	/* Linux takes at most 128 KiB per argument (MAX_ARG_STRLEN) */
	s->no_arg = sj->arg.len >= SCRIPT_ARG_MAX;
	s->env = env;
	s->workdir = workdir;
	s->timeout_ms = timeout_ms;
	s->grace_ms = (int64_t)rn->grace_s * 1000;
	s->log_max = rn->log_max;
}
