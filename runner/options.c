/*
 * options: the runner's command line, its defaults and its usage text,
 * which states the exit-status contract. Bad usage exits 2 here, saying
 * why; nothing else in the runner parses arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

static const char usage_text[] =
"usage: runner (--boss URL | --spool DIR) --scripts DIR [options]\n"
"       runner --scripts DIR --exec JOBFILE [options]\n"
"\n"
"Claims orders and runs the training script each job names, then hands the\n"
"outcome back: from spoold over HTTP (--boss) or straight from a spool\n"
"directory, as on a shared file system (--spool).\n"
"\n"
"  --boss URL          the boss, e.g. http://127.0.0.1:8080 (remote mode)\n"
"  --spool DIR         claim from this spool directly (local mode)\n"
"  --scripts DIR       where the scripts are; a job's scriptName (or its\n"
"                      command's program) is a file here\n"
"  --name NAME         worker name (default: host name and process id)\n"
"  --slots N           run N scripts at once (default 1, or one per --gpus)\n"
"  --tag T             a capability this runner has (repeat, or a,b,c)\n"
"  --gpus LIST         e.g. 0,1: slot i gets CUDA_VISIBLE_DEVICES=LIST[i % n]\n"
"  --timeout S         timeout of a job that sets none (default: none)\n"
"  --grace S           after a timeout's SIGTERM, SIGKILL this much later (5)\n"
"  --lease S           lease asked for each claim (default: the job's or the boss's)\n"
"  --drain             exit once nothing due is left to claim\n"
"  --wait-delayed      with --drain: first wait for orders queued but not yet\n"
"                      due (a delay, notBefore, a retry delay) that this runner\n"
"                      could run\n"
"  --give-up S         exit 2 when the boss has not answered for S seconds\n"
"                      (default 300 with --drain, else 0: never)\n"
"  --drain-timeout S   on SIGTERM, how long running scripts may go on (20)\n"
"  --token-file F      bearer token for the boss, first line of F (a 401 or\n"
"                      403 answer is fatal: exit 2)\n"
"                      --boss defaults to $SPOOL_BOSS when no --spool is given,\n"
"                      --token-file to $SPOOL_TOKEN_FILE\n"
"  --outbox DIR        durable outbox of outcomes not yet taken by the boss\n"
"                      (default ~/.local/state/spool-runner/<boss>)\n"
"  --workdir DIR       per-run work directories go below DIR\n"
"                      (default $TMPDIR/spool-runner); a dead runner's are\n"
"                      removed by the next runner started on DIR\n"
"  --keep-workdirs     do not remove a run's work directory when it ends\n"
"  --log-max BYTES     stdout+stderr kept per run (default 1 MiB, at most 8 MiB)\n"
"  --artifact-max FILE,TOTAL,COUNT\n"
"                      caps on what a run keeps of $SPOOL_ARTIFACTS_DIR, and\n"
"                      on a checkpoint: bytes a file, bytes in all, files\n"
"                      (default 67108864,268435456,1000; never above these)\n"
"  --wait S            long poll of a remote claim (default 20)\n"
"  --poll-ms MS        local mode: pause after finding nothing (default 500)\n"
"  --exec JOBFILE      run the job in JOBFILE once, print its outcome, claim nothing\n""                      (exit 0 done, 1 failed, 2 could not run it)\n"
"  --version           the version\n"
"  --help              this text\n"
"\n"
"The script gets the job JSON as its first argument (unless it is 128 KiB or\n"
"more), on stdin and in the file $SPOOL_JOB_FILE; it runs in a fresh work\n"
"directory, and finds SPOOL_JOB_ID, SPOOL_ORDER_ID, SPOOL_ATTEMPT, SPOOL_SLOT,\n"
"SPOOL_WORKDIR, SPOOL_WORKER, SPOOL_JOB_FILE, SPOOL_ARTIFACTS_DIR (files kept\n"
"with the run) and SPOOL_CHECKPOINT_DIR (carried over to the job's next attempt)\n"
"in its environment (any other\n"
"variable, SPOOL_DATA_DIR included, passes through). The last line of its\n"
"stdout that is a JSON object is the outcome (NaN and Infinity read as null).\n"
"\n"
"A command job, {\"command\": [\"PROG\", \"ARG\", \"{key}\", ...], ...}, runs PROG\n"
"from --scripts (a plain name, by the scriptName rule; a .py one, or the\n"
"script after \"python3\", under this runner's python3) with its {key}s filled\n"
"from the job, by execve, never a shell; \"command\" wins over a scriptName.\n"
"It gets the job on stdin (not as an argument) and SPOOL_OUTCOME, a file it\n"
"may write its outcome object to. Its outcome: the last JSON line of stdout,\n"
"else that file, else its exit status (0: {\"status\": 200, \"exitCode\": 0});\n"
"_run.outcomeFrom says which (\"stdout\", \"file\", \"exit\"). A runner whose\n"
"--scripts lacks PROG leaves the job to another, no attempt spent.\n"
"\n"
"Exit status:\n"
"  0      the work is finished (with --drain: nothing due is left) and every\n"
"         job this runner finished was done\n"
"  1      it worked, but at least one job it ran failed (an attempt failed,\n"
"         or the job failed for good)\n"
"  2      it could not work: bad usage, the spool or outbox cannot be opened,\n"
"         the boss refused the token (401/403), the boss did not answer for\n"
"         --give-up seconds, or outcomes are left undelivered in the outbox\n"
"  128+N  stopped by signal N (SIGTERM 143, SIGINT 130, SIGHUP 129) before\n"
"         its work was done; scripts killed while it stopped are released,\n"
"         no attempt spent\n";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "runner: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(runner --help for usage)\n");
	exit(2);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die_usage("bad %s", what);
	return (int)v;
}

static void add_tags(struct runner *rn, const char *list)
{
	char *copy = strdup(list), *p, *save = NULL;

	if (!copy)
		exit(2);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (!tag_valid(p))
			die_usage("bad tag '%s'", p);
		if (rn->ntags == SPOOL_TAGS_MAX)
			die_usage("more than %d tags", SPOOL_TAGS_MAX);
		rn->tags[rn->ntags++] = strdup(p);
		if (rn->tagcsv[0])
			strcat(rn->tagcsv, ",");
		strcat(rn->tagcsv, p);
	}
	free(copy);
}

/* host-pid, made into a valid worker name. */
static void default_name(char *out)
{
	char host[256] = "runner", pid[24];
	size_t n, i;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(pid, sizeof(pid), "-%ld", (long)getpid());
	n = strlen(host);
	if (n > SPOOL_WORKER_MAX - strlen(pid))
		n = SPOOL_WORKER_MAX - strlen(pid);
	for (i = 0; i < n; i++) {
		char c = host[i];

		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'
			 ? c : '-';
	}
	if (!n || out[0] == '.' || out[0] == '-')
		out[0] = 'w', n = n ? n : 1;
	strcpy(out + n, pid);
}

/*
 * The boss and its token, by the one rule of runner and spoolctl
 * (client/boss.h: --boss, else $SPOOL_BOSS when no --spool is given;
 * --token-file, else $SPOOL_TOKEN_FILE); dies with why.
 */
static void where_boss(struct runner *rn, const struct options *o)
{
	struct boss_where w;
	char err[PATH_MAX + 256];
	int r;

	if (o->exec_file) {
		rn->boss_url = NULL;	/* one job, no queue */
		return;
	}
	r = boss_where_get(&w, rn->boss_url, o->token_file, !rn->spool_dir, err, sizeof(err));
	if (r < 0)
		die_usage("%s", err);
	rn->boss_url = NULL;
	if (r == 0)
		return;
	if (!(rn->boss_url = strdup(w.url)) ||
	    (w.token[0] && !(rn->bearer = strdup(w.token))) ||
	    (w.token_of[0] && !(rn->token_of = strdup(w.token_of))))
		die_usage("out of memory");
}

int runner_has_tag(const struct runner *rn, const char *tag)
{
	int i;

	for (i = 0; i < rn->ntags; i++)
		if (!strcmp(rn->tags[i], tag))
			return 1;
	return 0;
}

char *options_default_outbox(const char *url)
{
	const char *home = getenv("HOME"), *state = getenv("XDG_STATE_HOME");
	char tag[200], *out = NULL;
	size_t i, k = 0;

	if (!strncmp(url, "http://", 7))
		url += 7;
	else if (!strncmp(url, "https://", 8))
		url += 8;
	for (i = 0; url[i] && k < sizeof(tag) - 1; i++)
		tag[k++] = (url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
			   (url[i] >= '0' && url[i] <= '9') || url[i] == '.' || url[i] == '-'
			   ? url[i] : '_';
	tag[k] = '\0';
	if (state && *state == '/') {
		if (asprintf(&out, "%s/spool-runner/%s", state, tag) < 0)
			out = NULL;
	} else if (home && *home == '/') {
		if (asprintf(&out, "%s/.local/state/spool-runner/%s", home, tag) < 0)
			out = NULL;
	} else if (asprintf(&out, "/var/tmp/spool-runner-%s", tag) < 0) {
		out = NULL;
	}
	return out;
}

enum {
	O_BOSS = 256, O_SPOOL, O_SCRIPTS, O_NAME, O_SLOTS, O_TAG, O_GPUS, O_TIMEOUT,
	O_GRACE, O_LEASE, O_DRAIN, O_DRAIN_TIMEOUT, O_TOKEN_FILE, O_OUTBOX, O_WORKDIR,
	O_KEEP, O_LOG_MAX, O_WAIT, O_POLL, O_EXEC, O_HELP, O_GIVE_UP, O_VERSION, O_WAIT_DELAYED,
	O_ARTIFACT_MAX,
};

static const struct option longopts[] = {
	{ "boss", required_argument, NULL, O_BOSS },
	{ "spool", required_argument, NULL, O_SPOOL },
	{ "scripts", required_argument, NULL, O_SCRIPTS },
	{ "name", required_argument, NULL, O_NAME },
	{ "slots", required_argument, NULL, O_SLOTS },
	{ "tag", required_argument, NULL, O_TAG },
	{ "gpus", required_argument, NULL, O_GPUS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "lease", required_argument, NULL, O_LEASE },
	{ "drain", no_argument, NULL, O_DRAIN },
	{ "drain-timeout", required_argument, NULL, O_DRAIN_TIMEOUT },
	{ "token-file", required_argument, NULL, O_TOKEN_FILE },
	{ "outbox", required_argument, NULL, O_OUTBOX },
	{ "workdir", required_argument, NULL, O_WORKDIR },
	{ "keep-workdirs", no_argument, NULL, O_KEEP },
	{ "log-max", required_argument, NULL, O_LOG_MAX },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "poll-ms", required_argument, NULL, O_POLL },
	{ "exec", required_argument, NULL, O_EXEC },
	{ "help", no_argument, NULL, O_HELP },
	{ "give-up", required_argument, NULL, O_GIVE_UP },
	{ "version", no_argument, NULL, O_VERSION },
	{ "wait-delayed", no_argument, NULL, O_WAIT_DELAYED },
	{ "artifact-max", required_argument, NULL, O_ARTIFACT_MAX },
	{ NULL, 0, NULL, 0 },
};

void options_parse(struct runner *rn, struct options *o, int argc, char **argv)
{
	int c, r = 0;

	memset(o, 0, sizeof(*o));
	o->give_up = -1;
	rn->nslots = 1;
	rn->grace_s = 5;
	rn->drain_timeout_s = 20;
	rn->wait_s = 20;
	rn->poll_ms = 500;
	rn->log_max = EXEC_LOG_DEFAULT;
	artifact_caps_default(&rn->caps);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_BOSS: rn->boss_url = optarg; break;
		case O_SPOOL: rn->spool_dir = optarg; break;
		case O_SCRIPTS: o->scripts = optarg; break;
		case O_NAME:
			if (!worker_valid(optarg))
				die_usage("bad worker name '%s' ([A-Za-z0-9_.-], at most 64, not starting with . or -)", optarg);
			snprintf(rn->name, sizeof(rn->name), "%s", optarg);
			break;
		case O_SLOTS: rn->nslots = parse_int(optarg, 1, 256, "--slots"); o->slots_set = 1; break;
		case O_TAG: add_tags(rn, optarg); break;
		case O_GPUS: rn->gpus = optarg; break;
		case O_TIMEOUT: rn->timeout_s = parse_int(optarg, 0, 1 << 30, "--timeout"); break;
		case O_GRACE: rn->grace_s = parse_int(optarg, 0, 3600, "--grace"); break;
		case O_LEASE: rn->lease_s = parse_int(optarg, 1, 1 << 24, "--lease"); break;
		case O_DRAIN: rn->drain = 1; break;
		case O_WAIT_DELAYED: rn->wait_delayed = 1; break;
		case O_DRAIN_TIMEOUT:
			rn->drain_timeout_s = parse_int(optarg, 0, 1 << 24, "--drain-timeout");
			break;
		case O_TOKEN_FILE: o->token_file = optarg; break;
		case O_OUTBOX: o->outbox_dir = optarg; break;
		case O_WORKDIR: o->workdir = optarg; break;
		case O_KEEP: rn->keep_work = 1; break;
		case O_LOG_MAX:
			rn->log_max = (size_t)parse_int(optarg, 1024, SPOOL_LOG_MAX - 4096, "--log-max");
			break;
		case O_ARTIFACT_MAX: {
			unsigned long long f, t;
			int n, used = 0;

			/* the boss and the spool take no more than the defaults */
			if (sscanf(optarg, "%llu,%llu,%d%n", &f, &t, &n, &used) != 3 ||
			    optarg[used] || !f || !t || n < 1 || f > ARTIFACT_FILE_MAX ||
			    t > ARTIFACT_TOTAL_MAX || n > ARTIFACT_COUNT_MAX)
				die_usage("--artifact-max FILE,TOTAL,COUNT: bytes 1 to %llu, bytes 1 to %llu, files 1 to %d",
					  ARTIFACT_FILE_MAX, ARTIFACT_TOTAL_MAX, ARTIFACT_COUNT_MAX);
			rn->caps.file_max = f;
			rn->caps.total_max = t;
			rn->caps.count_max = n;
			break;
		}
		case O_WAIT: rn->wait_s = parse_int(optarg, 0, 3600, "--wait"); break;
		case O_POLL: rn->poll_ms = parse_int(optarg, 10, 60000, "--poll-ms"); break;
		case O_EXEC: o->exec_file = optarg; break;
		case O_GIVE_UP: o->give_up = parse_int(optarg, 0, 1 << 30, "--give-up"); break;
		case O_VERSION: printf("runner %s\n", RUNNER_VERSION); exit(0);
		case O_HELP: case 'h':
			/* one write: `runner --help | grep -q X` must not die of SIGPIPE */
			{
				static char out[sizeof(usage_text)];

				setvbuf(stdout, out, _IOFBF, sizeof(out));
				fputs(usage_text, stdout);
				exit(0);
			}
		default: die_usage("bad option"); break;
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!o->scripts)
		die_usage("--scripts DIR is required");
	where_boss(rn, o);
	if (!o->exec_file && !!rn->boss_url == !!rn->spool_dir)
		die_usage("give one of --boss URL and --spool DIR");
	if (!(rn->scripts = realpath(o->scripts, NULL)))
		die_usage("no scripts directory '%s'", o->scripts);
	if (!rn->name[0])
		default_name(rn->name);
	if (rn->gpus) {
		char *save = NULL, *p;

		if (!(rn->gpu_list = strdup(rn->gpus)))
			exit(2);
		for (p = strtok_r(rn->gpu_list, ",", &save); p && rn->ngpus < 64;
		     p = strtok_r(NULL, ",", &save))
			rn->gpu[rn->ngpus++] = p;
		if (!rn->ngpus)
			die_usage("bad --gpus '%s'", rn->gpus);
		if (!o->slots_set)
			rn->nslots = rn->ngpus;
	}
	rn->give_up_s = o->give_up >= 0 ? o->give_up : rn->drain ? 300 : 0;
	rn->python = script_which("python3");
	if (o->workdir) {
		rn->workroot = strdup(o->workdir);
	} else {
		const char *tmp = getenv("TMPDIR");

		/* one root for the runners of a host, so that each finds and
		 * removes what dead ones left (workdir_sweep) */
		if (asprintf(&rn->workroot, "%s/spool-runner",
			     tmp && *tmp == '/' ? tmp : "/tmp") < 0)
			rn->workroot = NULL;
	}
	if (!rn->workroot || (r = dir_make_p(rn->workroot)) < 0) {
		fprintf(stderr, "runner: cannot make the work directory '%s': %s\n",
			rn->workroot ? rn->workroot : "?", strerror(rn->workroot ? -r : ENOMEM));
		exit(2);
	}
	{
		char *abs = realpath(rn->workroot, NULL);

		if (abs) {
			free(rn->workroot);
			rn->workroot = abs;
		}
	}
}
