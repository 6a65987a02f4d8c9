/*
 * once: --exec, one job from a file, run as a slot would run it (the same
 * preparation, environment, work directory and outcome), its outcome
 * printed on stdout and its log on stderr; no queue, no boss. Exit 0 when
 * the outcome is a success, 1 when it is a failure, 2 when it could not
 * run at all.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "runner.h"

int once_run(struct runner *rn, const char *file)
{
	struct buf job, arg, out;
	char id[SPOOL_ID_LEN + 1], sname[NAME_MAX + 1], err[320], wd[PATH_MAX];
	char *path = NULL, **env = NULL;
	struct exec_result res;
	struct exec_spec s;
	struct run_info ri = { 0 };
	struct run_env re;
	int py = 0, ok = 0, lock = -1;

	buf_init(&job, SPOOL_JOB_MAX);
	buf_init(&arg, SPOOL_JOB_MAX + 256);
	buf_init(&out, SPOOL_OUTCOME_MAX);
	if (buf_read_file(&job, AT_FDCWD, file) < 0 || !job.data) {
		fprintf(stderr, "runner: cannot read '%s'\n", file);
		return 2;
	}
	id_new(id);
	ri.job_id = id;
	ri.attempt = 1;
	ri.worker = rn->name;
	ri.timeout_ms = (int64_t)rn->timeout_s * 1000;
	if (script_prepare(rn->scripts, rn->python, job.data, job.len, id, &arg, sname,
			   sizeof(sname), &path, &py, err, sizeof(err)) < 0) {
		outcome_refused(&ri, err, &out);
	} else {
		snprintf(wd, sizeof(wd), "%s/%s.1", rn->workroot, id);
		re = (struct run_env){ id, 1, 0, wd, rn->name, rn->gpus };
		if (workdir_make(wd, &lock) < 0 || !(env = script_env(&re)) ||
		    script_job_file(wd, &arg) < 0) {
			fprintf(stderr, "runner: cannot prepare '%s'\n", wd);
			return 2;
		}
		script_spec(&s, rn, path, py, &arg, env, wd, ri.timeout_ms);
		if (exec_run(&s, &res) < 0) {
			fprintf(stderr, "runner: cannot run the script\n");
			return 2;
		}
		fwrite(res.log.data ? res.log.data : "", 1, res.log.len, stderr);
		ok = outcome_build(&res, &ri, &out, NULL, 0);
		exec_result_release(&res);
		workdir_done(wd, lock, rn->keep_work);
	}
	printf("%s\n", out.data ? out.data : "{}");
	script_env_free(env);
	free(path);
	buf_release(&job);
	buf_release(&arg);
	buf_release(&out);
	return ok == 1 ? 0 : 1;
}
