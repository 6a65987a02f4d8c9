/*
 * runner: the worker of spool.
 *
 *	runner (--boss URL | --spool DIR) --scripts DIR [options]
 *
 * One process: a thread per slot (slot.c) claims an order, runs its script
 * (exec.c) and hands the outcome back; in remote mode an outbox thread
 * delivers what the slots leave in the durable outbox (outbox.c). The main
 * thread owns the signals (blocked everywhere else, taken with
 * sigtimedwait), registers the worker, and in local mode reaps expired
 * leases, since there may be no boss at all on a shared spool.
 *
 * SIGTERM/SIGINT/SIGHUP: claim no more; running scripts may go on for
 * --drain-timeout seconds, then they get SIGTERM, --grace seconds, SIGKILL,
 * and their orders are released without counting an attempt. A script
 * that dies of a signal (or fails) while its runner stops is released too:
 * under a scheduler the same SIGTERM reaches every process of the step. A
 * second signal cuts the drain short.
 *
 * Exit (the contract of usage_text): 0 all done; 1 some attempt failed;
 * 2 could not work; 128+N stopped by signal N.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "json.h"
#include "runner.h"

#define REGISTER_EVERY_MS 30000
#define REAP_EVERY_MS 2000

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
"  --scripts DIR       where the scripts are; a job's scriptName is a file here\n"
"  --name NAME         worker name (default: host name and process id)\n"
"  --slots N           run N scripts at once (default 1, or one per --gpus)\n"
"  --tag T             a capability this runner has (repeat, or a,b,c)\n"
"  --gpus LIST         e.g. 0,1: slot i gets CUDA_VISIBLE_DEVICES=LIST[i % n]\n"
"  --timeout S         timeout of a job that sets none (default: none)\n"
"  --grace S           after a timeout's SIGTERM, SIGKILL this much later (5)\n"
"  --lease S           lease asked for each claim (default: the job's or the boss's)\n"
"  --drain             exit once nothing due is left to claim\n"
"  --give-up S         exit 2 when the boss has not answered for S seconds\n"
"                      (default 300 with --drain, else 0: never)\n"
"  --drain-timeout S   on SIGTERM, how long running scripts may go on (20)\n"
"  --token-file F      bearer token for the boss, first line of F (a 401 or\n"
"                      403 answer is fatal: exit 2)\n"
"  --outbox DIR        durable outbox of outcomes not yet taken by the boss\n"
"                      (default ~/.local/state/spool-runner/<boss>)\n"
"  --workdir DIR       per-run work directories go below DIR\n"
"                      (default $TMPDIR/spool-runner-NAME)\n"
"  --keep-workdirs     do not remove a run's work directory when it ends\n"
"  --log-max BYTES     stdout+stderr kept per run (default 1 MiB, at most 8 MiB)\n"
"  --wait S            long poll of a remote claim (default 20)\n"
"  --poll-ms MS        local mode: pause after finding nothing (default 500)\n"
"  --exec JOBFILE      run the job in JOBFILE once, print its outcome, claim nothing\n"
"  --version           the version\n"
"  --help              this text\n"
"\n"
"The script gets the job JSON as its first argument (unless it is 128 KiB or\n"
"more), on stdin and in the file $SPOOL_JOB_FILE; it runs in a fresh work\n"
"directory, and finds SPOOL_JOB_ID, SPOOL_ORDER_ID, SPOOL_ATTEMPT, SPOOL_SLOT,\n"
"SPOOL_WORKDIR, SPOOL_WORKER, SPOOL_JOB_FILE in its environment (any other\n"
"variable, SPOOL_DATA_DIR included, passes through). The last line of its\n"
"stdout that is a JSON object is the outcome (NaN and Infinity read as null).\n"
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

static struct runner *the_runner;	/* for say() from callbacks without context */

void say(struct runner *rn, const char *fmt, ...)
{
	char line[2048], when[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld runner %s: ", when,
		     ts.tv_nsec / 1000000, rn ? rn->name : "?");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

void say_outbox(const char *line)
{
	say(the_runner, "outbox: %s", line);
}

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

static char *read_token(const char *file)
{
	struct buf b;
	char *t;
	size_t n;

	buf_init(&b, 4096);
	if (buf_read_file(&b, AT_FDCWD, file) < 0 || !b.data) {
		buf_release(&b);
		return NULL;
	}
	n = strcspn(b.data, "\r\n");
	b.data[n] = '\0';
	t = strdup(b.data);
	buf_release(&b);
	return t;
}

/* The scripts a runner offers: plain files of --scripts, as a JSON array. */
static void scripts_json(const char *dir, struct buf *b)
{
	struct dirent **list = NULL;
	int n, i, k = 0;

	buf_puts(b, "[");
	n = scandir(dir, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		char err[8];

		if (k < 256 && script_name_check(list[i]->d_name, err, sizeof(err)) == 0) {
			buf_puts(b, k++ ? "," : "");
			buf_json_str(b, list[i]->d_name, strlen(list[i]->d_name));
		}
		free(list[i]);
	}
	free(list);
	buf_puts(b, "]");
}

static void worker_doc(struct runner *rn, struct buf *b)
{
	char host[256] = "";
	int i;

	gethostname(host, sizeof(host) - 1);
	buf_reset(b);
	buf_puts(b, "{\"name\":");
	buf_json_str(b, rn->name, strlen(rn->name));
	buf_puts(b, ",\"host\":");
	buf_json_str(b, host, strlen(host));
	buf_printf(b, ",\"slots\":%d,\"pid\":%ld,\"mode\":\"%s\",\"tags\":[",
		   rn->nslots, (long)getpid(), rn->boss_url ? "remote" : "local");
	for (i = 0; i < rn->ntags; i++) {
		buf_puts(b, i ? "," : "");
		buf_json_str(b, rn->tags[i], strlen(rn->tags[i]));
	}
	buf_puts(b, "],\"gpus\":");
	if (rn->gpus)
		buf_json_str(b, rn->gpus, strlen(rn->gpus));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"scripts\":");
	scripts_json(rn->scripts, b);
	buf_printf(b, ",\"completed\":%ld,\"failed\":%ld}",
		   atomic_load(&rn->completed), atomic_load(&rn->failed));
}

/* ---- --exec: one job, no queue ---------------------------------------------- */

static int exec_once(struct runner *rn, const char *file)
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

/* ---- the outbox thread ------------------------------------------------------- */

struct outbox_thread {
	struct runner *rn;
	pthread_t thread;
	int quit;		/* under outbox.mu */
	int64_t quit_by;	/* mono ms: give up on the rest then */
	int left;		/* files not yet delivered at the end */
};

static void *outbox_main(void *arg)
{
	struct outbox_thread *ot = arg;
	struct runner *rn = ot->rn;
	struct outbox *ob = &rn->outbox;
	struct boss b;
	int64_t wait_ms = 0, bo = 0;
	unsigned seed = (unsigned)(getpid() ^ now_ms());
	int down = 0, r, left = 0;

	if (boss_init(&b, rn->boss_url, rn->bearer, NULL, &rn->health) < 0) {
		say(rn, "outbox: cannot start libcurl");
		return NULL;
	}
	pthread_mutex_lock(&ob->mu);
	ob->kick = 1;		/* what earlier runners left: at once */
	pthread_mutex_unlock(&ob->mu);
	for (;;) {
		int quit;
		struct timespec ts;

		pthread_mutex_lock(&ob->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (wait_ms ? wait_ms : 5000) / 1000;
		ts.tv_nsec += ((wait_ms ? wait_ms : 5000) % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		/* After a failure, wait out the backoff even when kicked. */
		while (down || (!ot->quit && !ob->kick))
			if (pthread_cond_timedwait(&ob->cv, &ob->mu, &ts) == ETIMEDOUT)
				break;
		ob->kick = 0;
		quit = ot->quit;
		pthread_mutex_unlock(&ob->mu);

		r = outbox_flush(ob, &b, &left, say_outbox);
		if (r < 0) {
			bo = bo ? bo * 2 : 250;
			if (bo > 8000)
				bo = 8000;
			wait_ms = bo / 2 + rand_r(&seed) % (unsigned)(bo / 2 + 1);
			if (!down++)
				say(rn, "outbox: the boss did not take an outcome (%s): %d kept in %s, retrying",
				    b.err[0] ? b.err : "busy", left, ob->dir);
		} else {
			if (down)
				say(rn, "outbox: the boss is back; outbox delivered");
			down = 0;
			bo = 0;
			wait_ms = 0;
		}
		if (quit && (left == 0 || mono_ms() >= ot->quit_by))
			break;
	}
	ot->left = left;
	boss_release(&b);
	return NULL;
}

/* ---- stopping ----------------------------------------------------------------- */

void runner_stop(struct runner *rn, int code, int64_t kill_at)
{
	int zero = 0;
	int64_t none = 0;

	atomic_compare_exchange_strong(&rn->exit_code, &zero, code);
	if (!atomic_compare_exchange_strong(&rn->kill_at_ms, &none, kill_at) &&
	    kill_at < atomic_load(&rn->kill_at_ms))
		atomic_store(&rn->kill_at_ms, kill_at);
	atomic_store(&rn->stopping, 1);
}

/* A refused token, or a boss gone longer than --give-up: exit 2 now. */
static void fatal_checks(struct runner *rn)
{
	long denied = atomic_load(&rn->health.denied);
	int64_t down = atomic_load(&rn->health.down_since);

	if (atomic_load(&rn->exit_code))
		return;
	if (denied) {
		if (rn->token_file)
			say(rn, "the boss refused the token of --token-file %s (HTTP %ld): "
			    "fix the token; exiting", rn->token_file, denied);
		else
			say(rn, "the boss wants a token (HTTP %ld): give one with "
			    "--token-file FILE; exiting", denied);
		runner_stop(rn, 2, mono_ms());
	} else if (down && rn->give_up_s > 0 &&
		   mono_ms() - down >= (int64_t)rn->give_up_s * 1000) {
		say(rn, "the boss at %s has not answered for %d s (--give-up): exiting",
		    rn->boss_url, rn->give_up_s);
		runner_stop(rn, 2, mono_ms());
	}
}

/* ---- main -------------------------------------------------------------------- */

static char *default_outbox(const char *url)
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
	O_KEEP, O_LOG_MAX, O_WAIT, O_POLL, O_EXEC, O_HELP, O_GIVE_UP, O_VERSION,
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
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static struct runner rn;
	const char *outbox_dir = NULL, *token_file = NULL, *exec_file = NULL;
	const char *scripts = NULL, *workdir = NULL;
	struct outbox_thread ot;
	sigset_t sigs;
	int c, i, ngpus = 0, slots_set = 0, code = 0, r;
	char *gpu[64], *gpu_copy = NULL;
	int64_t next_register = 0, next_reap = 0;
	struct spool msp;
	struct boss mb;
	int have_msp = 0, have_mb = 0, sigcount = 0, give_up = -1;
	struct buf doc;

	rn.nslots = 1;
	rn.grace_s = 5;
	rn.drain_timeout_s = 20;
	rn.wait_s = 20;
	rn.poll_ms = 500;
	rn.log_max = EXEC_LOG_DEFAULT;
	the_runner = &rn;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_BOSS: rn.boss_url = optarg; break;
		case O_SPOOL: rn.spool_dir = optarg; break;
		case O_SCRIPTS: scripts = optarg; break;
		case O_NAME:
			if (!worker_valid(optarg))
				die_usage("bad worker name '%s' ([A-Za-z0-9_.-], at most 64, not starting with . or -)", optarg);
			snprintf(rn.name, sizeof(rn.name), "%s", optarg);
			break;
		case O_SLOTS: rn.nslots = parse_int(optarg, 1, 256, "--slots"); slots_set = 1; break;
		case O_TAG: add_tags(&rn, optarg); break;
		case O_GPUS: rn.gpus = optarg; break;
		case O_TIMEOUT: rn.timeout_s = parse_int(optarg, 0, 1 << 30, "--timeout"); break;
		case O_GRACE: rn.grace_s = parse_int(optarg, 0, 3600, "--grace"); break;
		case O_LEASE: rn.lease_s = parse_int(optarg, 1, 1 << 24, "--lease"); break;
		case O_DRAIN: rn.drain = 1; break;
		case O_DRAIN_TIMEOUT:
			rn.drain_timeout_s = parse_int(optarg, 0, 1 << 24, "--drain-timeout");
			break;
		case O_TOKEN_FILE: token_file = optarg; break;
		case O_OUTBOX: outbox_dir = optarg; break;
		case O_WORKDIR: workdir = optarg; break;
		case O_KEEP: rn.keep_work = 1; break;
		case O_LOG_MAX:
			rn.log_max = (size_t)parse_int(optarg, 1024, SPOOL_LOG_MAX - 4096, "--log-max");
			break;
		case O_WAIT: rn.wait_s = parse_int(optarg, 0, 3600, "--wait"); break;
		case O_POLL: rn.poll_ms = parse_int(optarg, 10, 60000, "--poll-ms"); break;
		case O_EXEC: exec_file = optarg; break;
		case O_GIVE_UP: give_up = parse_int(optarg, 0, 1 << 30, "--give-up"); break;
		case O_VERSION: printf("runner %s\n", RUNNER_VERSION); return 0;
		case O_HELP: case 'h': fputs(usage_text, stdout); return 0;
		default: die_usage("bad option"); break;
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!scripts)
		die_usage("--scripts DIR is required");
	if (rn.boss_url) {
		char *u = strdup(rn.boss_url);
		size_t n = u ? strlen(u) : 0;

		if (!u)
			return 2;
		while (n && u[n - 1] == '/')
			u[--n] = '\0';
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
			die_usage("--boss wants an http:// or https:// URL, not '%s'", u);
		rn.boss_url = u;
	}
	if (!exec_file && !!rn.boss_url == !!rn.spool_dir)
		die_usage("give one of --boss URL and --spool DIR");
	if (!(rn.scripts = realpath(scripts, NULL)))
		die_usage("no scripts directory '%s'", scripts);
	if (!rn.name[0])
		default_name(rn.name);
	if (rn.gpus) {
		char *save = NULL, *p;

		if (!(gpu_copy = strdup(rn.gpus)))
			return 2;
		for (p = strtok_r(gpu_copy, ",", &save); p && ngpus < 64;
		     p = strtok_r(NULL, ",", &save))
			gpu[ngpus++] = p;
		if (!ngpus)
			die_usage("bad --gpus '%s'", rn.gpus);
		if (!slots_set)
			rn.nslots = ngpus;
	}
	rn.give_up_s = give_up >= 0 ? give_up : rn.drain ? 300 : 0;
	rn.token_file = token_file;
	if (token_file && !(rn.bearer = read_token(token_file)))
		die_usage("cannot read the token file '%s'", token_file);
	rn.python = script_which("python3");
	if (workdir) {
		rn.workroot = strdup(workdir);
	} else {
		const char *tmp = getenv("TMPDIR");

		/* one root for the runners of a host, so that each finds and
		 * removes what dead ones left (workdir_sweep) */
		if (asprintf(&rn.workroot, "%s/spool-runner",
			     tmp && *tmp == '/' ? tmp : "/tmp") < 0)
			rn.workroot = NULL;
	}
	if (!rn.workroot || (r = dir_make_p(rn.workroot)) < 0) {
		fprintf(stderr, "runner: cannot make the work directory '%s': %s\n",
			rn.workroot ? rn.workroot : "?", strerror(rn.workroot ? -r : ENOMEM));
		return 2;
	}
	{
		char *abs = realpath(rn.workroot, NULL);

		if (abs) {
			free(rn.workroot);
			rn.workroot = abs;
		}
	}

	if ((r = workdir_sweep(rn.workroot)) > 0)
		say(&rn, "removed %d work director%s of dead runners in %s", r,
		    r == 1 ? "y" : "ies", rn.workroot);

	/* Writing to a script that closed its stdin must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (exec_file)
		return exec_once(&rn, exec_file);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "runner: cannot initialise libcurl\n");
		return 2;
	}
	if (rn.spool_dir) {
		if ((r = spool_open(&msp, rn.spool_dir, 0)) < 0) {
			fprintf(stderr, "runner: cannot open the spool '%s': %s\n",
				rn.spool_dir, spool_error(&msp)[0] ? spool_error(&msp)
								  : strerror(-r));
			return 2;
		}
		have_msp = 1;
	} else {
		char *d = outbox_dir ? strdup(outbox_dir) : default_outbox(rn.boss_url);

		if (!d || (r = outbox_open(&rn.outbox, d)) < 0) {
			fprintf(stderr, "runner: cannot open the outbox '%s': %s\n",
				d ? d : "?", strerror(d ? -r : ENOMEM));
			return 2;
		}
		free(d);
		rn.have_outbox = 1;
		if (boss_init(&mb, rn.boss_url, rn.bearer, NULL, &rn.health) < 0)
			return 2;
		have_mb = 1;
	}

	/* Signals are taken by this thread only; the slots inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	say(&rn, "%s mode, %s, %d slot%s%s%s, scripts in %s",
	    rn.boss_url ? "remote" : "local", rn.boss_url ? rn.boss_url : rn.spool_dir,
	    rn.nslots, rn.nslots == 1 ? "" : "s", rn.ntags ? ", tags " : "",
	    rn.tagcsv, rn.scripts);

	memset(&ot, 0, sizeof(ot));
	ot.rn = &rn;
	if (rn.have_outbox && pthread_create(&ot.thread, NULL, outbox_main, &ot)) {
		fprintf(stderr, "runner: cannot start a thread\n");
		return 2;
	}
	if (!(rn.slots = calloc((size_t)rn.nslots, sizeof(*rn.slots))))
		return 2;
	for (i = 0; i < rn.nslots; i++) {
		rn.slots[i].rn = &rn;
		rn.slots[i].index = i;
		rn.slots[i].cuda = ngpus ? gpu[i % ngpus] : NULL;
		if (pthread_create(&rn.slots[i].thread, NULL, slot_main, &rn.slots[i])) {
			fprintf(stderr, "runner: cannot start a thread\n");
			return 2;
		}
	}

	buf_init(&doc, SPOOL_WORKER_DOC_MAX);
	for (;;) {
		struct timespec tick = { 0, 200 * 1000000 };
		siginfo_t si;
		int64_t now = mono_ms();
		int alive = 0;

		for (i = 0; i < rn.nslots; i++)
			alive += !atomic_load(&rn.slots[i].done);
		if (!alive)
			break;
		if (now >= next_register && !atomic_load(&rn.stopping)) {
			worker_doc(&rn, &doc);
			if (have_msp) {
				r = spool_worker_put(&msp, rn.name, doc.data, doc.len);
			} else if ((r = boss_request(&mb, "POST", "/v1/workers", doc.data,
						   doc.len, 10, 0)) == 0 && mb.status != 200)
				r = -EPROTO;
			if (r < 0 && !next_register)
				say(&rn, "cannot register the worker: %s",
				    have_msp ? spool_error(&msp) : mb.err[0] ? mb.err
					       : mb.reply.data ? mb.reply.data : "?");
			next_register = now + REGISTER_EVERY_MS;
		}
		if (have_msp && now >= next_reap) {
			struct recover_opts ro = { 1, 0, msp.stale_ms, NULL, NULL };
			struct recover_stats rs;
			int n = 0;

			/* a local claimer mends what crashes left, as spoold does:
			 * at start (the first round) and with every reap */
			if (spool_recover(&msp, &ro, &rs) > 0 && rs.orders + rs.drops > 0)
				say(&rn, "recovered %d order%s a crash left staged, %d dropped file%s",
				    rs.orders, rs.orders == 1 ? "" : "s", rs.drops, rs.drops == 1 ? "" : "s");
			r = spool_reap(&msp, now_ms(), &n);
			if (r == 0 && n > 0)
				say(&rn, "reaped %d expired lease%s", n, n == 1 ? "" : "s");
			next_reap = now + REAP_EVERY_MS;
		}
		fatal_checks(&rn);
		if (sigtimedwait(&sigs, &si, &tick) > 0) {
			char nm[16];

			if (!sigcount++) {
				say(&rn, "%s: claiming no more; running scripts have %d s to finish",
				    exec_signame(si.si_signo, nm), rn.drain_timeout_s);
				runner_stop(&rn, 128 + si.si_signo,
					    mono_ms() + (int64_t)rn.drain_timeout_s * 1000 + 1);
			} else {
				say(&rn, "second signal: stopping running scripts now");
				atomic_store(&rn.kill_at_ms, mono_ms());
			}
		}
	}
	for (i = 0; i < rn.nslots; i++)
		pthread_join(rn.slots[i].thread, NULL);

	if (rn.have_outbox) {
		pthread_mutex_lock(&rn.outbox.mu);
		ot.quit = 1;
		ot.quit_by = mono_ms() + (sigcount ? 5000 : (int64_t)rn.drain_timeout_s * 1000 + 5000);
		pthread_cond_signal(&rn.outbox.cv);
		pthread_mutex_unlock(&rn.outbox.mu);
		pthread_join(ot.thread, NULL);
		if (ot.left > 0) {
			say(&rn, "%d outcome file%s still in the outbox %s: the next runner on it delivers them",
			    ot.left, ot.left == 1 ? "" : "s", rn.outbox.dir);
			int zero = 0;

			/* not delivered is not done: could not work (unless a
			 * signal or a fatal error said so first) */
			atomic_compare_exchange_strong(&rn.exit_code, &zero, 2);
		}
		outbox_close(&rn.outbox);
	}
	code = atomic_load(&rn.exit_code);
	if (!code && atomic_load(&rn.failed))
		code = 1;
	say(&rn, "exiting (%d): %ld done, %ld failed", code, atomic_load(&rn.completed),
	    atomic_load(&rn.failed));
	if (!rn.keep_work)
		rmdir(rn.workroot);
	buf_release(&doc);
	if (have_msp)
		spool_close(&msp);
	if (have_mb)
		boss_release(&mb);
	for (i = 0; i < rn.ntags; i++)
		free((char *)rn.tags[i]);
	free(rn.slots);
	free((char *)rn.boss_url);
	free(rn.scripts);
	free(rn.workroot);
	free(rn.bearer);
	free(rn.python);
	free(gpu_copy);
	curl_global_cleanup();
	return code;
}
