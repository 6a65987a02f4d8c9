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
	struct buf job, out;
	char id[SPOOL_ID_LEN + 1], err[320], wd[PATH_MAX], ofile[PATH_MAX + 32];
	char **env = NULL;
	struct exec_result res;
	struct exec_spec s;
	struct run_info ri = { 0 };
	struct run_files rf;	/* only its directories: --exec keeps nothing */
	struct run_env re;
	struct script_job sj;
	int ok = 0, lock = -1;

	buf_init(&job, SPOOL_JOB_MAX);
	script_job_init(&sj);
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
	if (script_prepare(rn->scripts, rn->python, job.data, job.len, id, &sj, err,
			   sizeof(err)) < 0) {
		outcome_refused(&ri, err, &out);
	} else {
		snprintf(wd, sizeof(wd), "%s/%s.1", rn->workroot, id);
		re = (struct run_env){ id, 1, 0, wd, rn->name, rn->gpus, sj.is_command };
		if (workdir_make(wd, &lock) < 0 || files_dirs(wd, &rf) < 0 ||
		    !(env = script_env(&re)) || script_job_file(wd, &sj.arg) < 0) {
			fprintf(stderr, "runner: cannot prepare '%s'\n", wd);
			return 2;
		}
		outcome_what_ran(&ri, sj.path, rn->scripts);
		script_spec(&s, rn, &sj, env, wd, ri.timeout_ms);
		snprintf(ofile, sizeof(ofile), "%s/%s", wd, SCRIPT_OUTCOME_FILE);
		if (exec_run(&s, &res) < 0 ||
		    (sj.is_command && outcome_command(&res, &ri, ofile) < 0)) {
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
	script_job_release(&sj);
	buf_release(&job);
	buf_release(&out);
	return ok == 1 ? 0 : 1;
}
