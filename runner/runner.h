/*
 * runner: the worker. It claims orders (from spoold over HTTP, or straight
 * from a spool directory), runs the training script each job names, and
 * hands the outcome back. This header lists every struct of the program
 * followed by its functions, each with its contract.
 *
 *	exec.c     run one script: spawn, feed stdin, capture, time out, reap
 *	script.c   scriptName checks, command jobs' argv, the job argument,
 *	           environment
 *	workdir.c  per-run work directories; those of dead runners removed
 *	outcome.c  the outcome document of a finished run
 *	boss.c     claims and heartbeats over HTTP (the one HTTP client of
 *	           runner and spoolctl: client/boss.h)
 *	outbox.c   durable outbox of outcomes and logs not yet taken by the
 *	           boss, and the thread that delivers them
 *	remote.c   the claimer over HTTP (boss.c, outbox.c)
 *	local.c    the claimer straight on a spool directory (lib/)
 *	slot.c     one slot: claim, run, deliver, in a loop (one thread each)
 *	options.c  the command line
 *	once.c     --exec: one job, no queue
 *	say.c      the log lines; clock.c the clock and naps
 *	main.c     signals, the threads, registration, reaping, the exit status
 *
 * Functions return 0 or a negative errno, or NULL; only main.c and the slot
 * threads' outermost loop print.
 */
#ifndef SPOOL_RUNNER_H
#define SPOOL_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <limits.h>

#include "boss.h"
#include "artifact.h"
#include "buf.h"
#include "command.h"
#include "spool.h"
#include "stop.h"

/* ---- exec.c: one run of one script ------------------------------------- */

#define EXEC_ERRTAIL_MAX 4096		/* bytes of stderr kept for the outcome */
#define EXEC_ERRHEAD_MAX 200		/* bytes of its first line kept for the log line */
#define EXEC_LOG_DEFAULT (1 << 20)	/* bytes of stdout+stderr kept as the log */

struct exec_spec {
	const char *path;	/* the script, absolute */
	const char *interp;	/* absolute path of the interpreter (python3), or NULL */
	char *const *argv;	/* a command job: the whole argv (argv[0] is run);
				 * path, interp and the job argument then unused */
	const char *job;	/* argv[1] (unless no_arg), and written to stdin */
	size_t joblen;
	int no_arg;		/* too big for an argument: stdin (and a file) only */
	char *const *env;	/* the whole environment, NULL-terminated */
	const char *workdir;	/* cwd of the script; must exist */
	int64_t timeout_ms;	/* 0: none */
	int64_t grace_ms;	/* SIGTERM to SIGKILL after a timeout or a stop */
	size_t log_max;		/* bytes of log kept (head and tail) */
	/*
	 * beat is called beat_ms after the start, then after whatever it sets
	 * *next_ms to (the heartbeat); a negative return means the claim is
	 * lost: the script is stopped. stop is polled a few times a second;
	 * non-zero stops the script (shutdown). Either may be NULL. A stop,
	 * a lost claim or a timeout is SIGTERM to the group, then SIGKILL
	 * grace_ms later.
	 */
	int64_t beat_ms;
	int (*beat)(void *arg, int64_t *next_ms);
	int (*stop)(void *arg);
	void *arg;
	/* Each chunk of output as it is read (fd 1: stdout, 2: stderr), in the
	 * poll loop: must not block (live.c buffers it). May be NULL. */
	void (*output)(void *out_arg, int fd, const char *p, size_t n);
	void *out_arg;
};

enum exec_end {
	END_EXITED,		/* exited by itself: code */
	END_SIGNALED,		/* died on a signal it did not get from us: sig */
	END_TIMEOUT,		/* ran past timeout_ms and was stopped */
	END_LOST,		/* beat said the claim is lost; stopped */
	END_STOPPED,		/* stop said so; stopped */
	END_SPAWN,		/* could not be started: err */
};

struct exec_result {
	enum exec_end end;
	int code;		/* exit status, END_EXITED */
	int sig;		/* the signal that ended it (ours or not), or 0 */
	int err;		/* errno of the spawn failure, END_SPAWN */
	int64_t started_ms;	/* wall clock at start */
	int64_t wall_ms, cpu_ms;
	long maxrss_kb;
	uint64_t out_bytes, err_bytes;
	struct buf log;		/* stdout+stderr as they came, capped, marked */
	struct buf outcome;	/* the last stdout line that is a JSON object */
	int nonfinite;		/* NaN/Infinity in it, read as null */
	char errtail[EXEC_ERRTAIL_MAX + 1];	/* the end of stderr, NUL-terminated */
	char errhead[EXEC_ERRHEAD_MAX + 1];	/* its first line, NUL-terminated */
};

/*
 * Run the script described by s to its end and fill r (which must be
 * released with exec_result_release, whatever this returns). The script
 * runs in its own process group; when it ends, whatever is left of that
 * group is killed, and the child is always reaped. 0 (r->end says how it
 * ended, including END_SPAWN), or a negative errno when the runner itself
 * failed (pipes, memory).
 */
int exec_run(const struct exec_spec *s, struct exec_result *r);
void exec_result_release(struct exec_result *r);

/*
 * Rewrite NaN, Infinity and -Infinity (Python's json.dumps of a diverged
 * loss), outside strings and where a value starts, as null: s[0..n) into
 * out. How many were rewritten (out is complete only when > 0), or a
 * negative errno.
 */
int exec_nonfinite_null(const char *s, size_t n, struct buf *out);

/* "SIGSEGV" for 11, "SIG42" for an unnamed one. Writes into out[16]. */
const char *exec_signame(int sig, char out[16]);

/* ---- script.c: what to run, with what ---------------------------------- */

/*
 * Check a job's scriptName. 0, or -EINVAL with the reason in err: empty,
 * longer than NAME_MAX, contains '/', "..", NUL or a control character,
 * or starts with '.'.
 */
int script_name_check(const char *name, char *err, size_t errlen);

/*
 * Resolve name inside the directory dir (absolute): *path gets a malloc'd
 * "dir/name"; *py is 1 when it is run under python3. 0, -EINVAL (err),
 * -ENOENT (no such script, a dangling link or a loop of links), -EACCES
 * (not executable and not .py, or a link that ends outside dir), -ENOMEM,
 * or another negative errno when the runner cannot look at it (EIO,
 * ESTALE, EMFILE: its trouble, not the job's), err saying so.
 */
int script_resolve(const char *dir, const char *name, char **path, int *py,
		   char *err, size_t errlen);

/*
 * The job as the script gets it: the job document with "_id" and
 * "assignmentId" set to id (first), everything else as it was, into b.
 * scriptName (cap bytes) gets the job's scriptName ("" when it has none).
 * 0, -EINVAL (not a JSON object), -EILSEQ (scriptName holds a NUL or is
 * longer than cap), -E2BIG.
 */
int script_job_arg(const char *job, size_t len, const char *id,
		   struct buf *b, char *script_name, size_t cap);

/*
 * What a prepared job runs. A job with "command" is a command job ("command"
 * wins over a "scriptName", which is then a label): its filled argv is run,
 * the program (argv[0]) resolved in the scripts directory by the scriptName
 * rule (script_resolve), a .py one under the runner's python3; "python3" as
 * argv[0] is the runner's own python3, and then argv[1] is the script so
 * resolved. Any other job runs its scriptName with the job as argv[1].
 */
struct script_job {
	struct buf arg;		/* the job as it gets it (stdin, $SPOOL_JOB_FILE) */
	char sname[NAME_MAX + 1];	/* scriptName; a command job: its program */
	char *path;		/* the script or program, absolute, malloc'd */
	int py;			/* run under the runner's python3 */
	int is_command;		/* a command job */
	struct command cmd;	/* its filled argv */
	char **argv;		/* what execve gets: [python3,] path, cmd.argv[1..] */
};

void script_job_init(struct script_job *sj);
void script_job_release(struct script_job *sj);

/*
 * What running a job needs, short of its environment, into sj (init'd):
 * the job as the script gets it (with "_id" and "assignmentId" = id), its
 * scriptName, and the script or the command's program resolved in dir
 * (python: the runner's python3, NULL when none is on PATH). 0; -ENOENT
 * when this runner cannot run it (no such script or program in dir, or no
 * python3) but another may; -EINVAL with why the job is refused (the order
 * then fails with that reason); any other negative errno (ENOMEM; EIO,
 * ESTALE from looking at the script) is the runner's trouble, why saying
 * so when it can.
 */
int script_prepare(const char *dir, const char *python, const char *job,
		   size_t len, const char *id, struct script_job *sj, char *why,
		   size_t whylen);

struct runner;

/*
 * The exec_spec of a prepared job: the runner's interpreter, grace and log
 * cap, with env, workdir and timeout; no heartbeat or stop hook (the caller
 * adds them). A script job of SCRIPT_ARG_MAX bytes or more goes on stdin and
 * in $SPOOL_JOB_FILE only, not as argv[1]; a command job gets its own argv
 * and the job on stdin.
 */
void script_spec(struct exec_spec *s, const struct runner *rn,
		 const struct script_job *sj, char **env, const char *workdir,
		 int64_t timeout_ms);

/*
 * Write the job as the script gets it (arg) to SCRIPT_JOB_FILE in workdir,
 * where $SPOOL_JOB_FILE names it. 0 or a negative errno.
 */
int script_job_file(const char *workdir, const struct buf *arg);

/* A job this long or longer is not passed as argv[1] (MAX_ARG_STRLEN). */
#define SCRIPT_ARG_MAX (128 << 10)

/* Find prog on PATH: a malloc'd absolute path, or NULL. */
char *script_which(const char *prog);

struct run_env {
	const char *job_id;
	int attempt;
	int slot;
	const char *workdir;
	const char *worker;
	const char *cuda;	/* CUDA_VISIBLE_DEVICES, or NULL to leave it */
	int command;		/* a command job: set SPOOL_OUTCOME too */
};

/* The job as a file in the run's work directory, named by $SPOOL_JOB_FILE. */
#define SCRIPT_JOB_FILE "spool-job.json"

/* What a run keeps ($SPOOL_ARTIFACTS_DIR) and carries over to the job's next
 * attempt ($SPOOL_CHECKPOINT_DIR), below its work directory (workdir.c). */
#define SCRIPT_ARTIFACTS_DIR "spool-artifacts"
#define SCRIPT_CHECKPOINT_DIR "spool-checkpoint"

/* Where a command job may write its outcome, named by $SPOOL_OUTCOME. */
#define SCRIPT_OUTCOME_FILE "spool-outcome.json"

/*
 * The environment of a run: the runner's own, less the variables it sets
 * itself and (when cuda is set) CUDA_VISIBLE_DEVICES, plus SPOOL_JOB_ID,
 * SPOOL_ORDER_ID, SPOOL_ATTEMPT, SPOOL_SLOT, SPOOL_WORKDIR, SPOOL_WORKER,
 * SPOOL_JOB_FILE, SPOOL_ARTIFACTS_DIR, SPOOL_CHECKPOINT_DIR, SPOOL_RUN (a marker unique to the run: its watcher
 * kills whatever carries it), and for a command job SPOOL_OUTCOME. Any
 * other SPOOL_* (SPOOL_DATA_DIR) reaches the script.
 * A malloc'd vector to free with script_env_free, or NULL.
 */
char **script_env(const struct run_env *e);
void script_env_free(char **env);

/* ---- workdir.c: per-run work directories ---------------------------------- */

/* mkdir -p path (mode 0755 less the umask). 0 or errno. */
int dir_make_p(const char *path);

/*
 * Make the fresh empty run directory path (ROOT/NAME; an old one there is
 * removed) and take its lock: *lock gets the descriptor that holds it, to
 * hand to workdir_done. 0 or a negative errno (-EWOULDBLOCK: another live
 * runner has that very directory).
 */
int workdir_make(const char *path, int *lock);

/* The run is over: remove path (unless keep) and drop its lock. */
void workdir_done(const char *path, int lock, int keep);

/* Remove path and everything below it. 0 or errno. */
int workdir_remove(const char *path);

/*
 * Remove the run directories below root whose runner is gone (their lock is
 * free). How many were removed, or a negative errno.
 */
int workdir_sweep(const char *root);

/*
 * What a run keeps besides its log and outcome: the files it wrote to
 * $SPOOL_ARTIFACTS_DIR (into the spool, or uploaded to the boss) and its
 * checkpoint directory, restored at the start of each attempt and saved
 * at the end of one that did not succeed (failed, timed out, stopped by a
 * preemption), before the claim is given up. What was refused, and why,
 * goes into the log and the outcome's run record.
 */
struct claimer;
struct task;

struct run_files {
	char adir[PATH_MAX];		/* $SPOOL_ARTIFACTS_DIR */
	char cdir[PATH_MAX];		/* $SPOOL_CHECKPOINT_DIR */
	int restored;			/* files restored into cdir */
	int kept;			/* artifacts kept */
	uint64_t kept_bytes;
	struct buf refused;		/* JSON members {"name","why"} of artifacts left out */
	char art_err[256];		/* why none was kept at all, or "" */
	int ckpt;			/* 0 not saved, 1 saved, -1 not saved for a reason */
	int ckpt_files;
	uint64_t ckpt_bytes;
	struct buf ckpt_refused;	/* as refused, for the checkpoint */
	char ckpt_note[512];		/* restore or save trouble, or "" */
};

void files_init(struct run_files *f);
void files_release(struct run_files *f);

/*
 * Make adir and cdir below the work directory wd, and restore the job's
 * checkpoint into cdir (from the spool, or the boss). 0 (also when the job
 * has no checkpoint), or a negative errno: the directories cannot be made,
 * or the job's checkpoint cannot be read, fetched (an answer other than
 * 200 or 404, a failed transport) or restored, why in ckpt_note. Either is
 * the runner's trouble: the run must not start from nothing.
 */
int files_prepare(struct claimer *cl, struct task *t, const char *wd,
		  struct run_files *f);

/* Only make adir and cdir below wd (--exec: nothing is kept). 0 or -errno. */
int files_dirs(const char *wd, struct run_files *f);

/* Keep the artifacts of the run, noting in log what was refused. */
void files_keep(struct claimer *cl, struct task *t, struct run_files *f,
		struct buf *log);

/* Save cdir as the job's checkpoint, noting in log what went wrong. */
void files_checkpoint(struct claimer *cl, struct task *t, struct run_files *f,
		      struct buf *log);

/* The run record's "artifacts" and "checkpoint" members (",..." appended). */
int files_record(const struct run_files *f, struct buf *b);

/* ---- outcome.c --------------------------------------------------------- */

/* Who ran it, for the "_run" record of an outcome. */
struct run_info {
	const char *job_id;
	int attempt;
	const char *worker;
	int slot;
	int64_t timeout_ms;
	const char *outcome_from;	/* a command job: "stdout", "file", "exit"; or NULL */
	const char *outcome_bad;	/* why its $SPOOL_OUTCOME file was refused, or NULL */
	const struct run_files *files;	/* artifacts and checkpoint, or NULL */
	char sha256[65];		/* of the script or program run, or "" */
	char commit[41];		/* of the scripts directory's git checkout, or "" */
};

/*
 * What ran, for the run record: the sha256 of the file at path (the script,
 * or a command's program) and, when the directory scripts is in a git
 * checkout, its HEAD commit, read from .git itself (no git is run; a tree
 * changed since the commit is not detected). Leaves "" where unknown.
 */
void outcome_what_ran(struct run_info *ri, const char *path, const char *scripts);

/*
 * The outcome document of run r into b (replacing its contents). A run
 * that exited 0 and printed a JSON object succeeds: the outcome is that
 * object with a "_run" record (times, memory, exit) added, unless its
 * numeric "status" says failure (spool_status_failed: the same object then
 * fails the attempt, and a 4xx the job). Anything else
 * fails: {"jobId", "error": what happened, "stderrTail", "output": the
 * object it printed if any, "_run"}; why (whylen bytes) gets that
 * "error" ("" on success). An outcome that would pass SPOOL_OUTCOME_MAX
 * (b's ceiling) is replaced by a failure saying so. Returns 1 (success:
 * complete the order), 0 (failure: fail it), or a negative errno.
 */
int outcome_build(const struct exec_result *r, const struct run_info *ri,
		  struct buf *b, char *why, size_t whylen);

/*
 * A command job's outcome, before outcome_build: when r exited by itself
 * without a JSON line on stdout, the JSON object the program wrote to file
 * ($SPOOL_OUTCOME, at most SPOOL_OUTCOME_MAX bytes), else for exit 0
 * {"status":200,"exitCode":0}, goes into r->outcome. ri->outcome_from says
 * which ("stdout", "file", "exit"); a file that is there but no JSON object
 * sets ri->outcome_bad (the attempt then fails saying so). 0, or a
 * negative errno when the runner cannot look at the file (EIO, ESTALE,
 * EMFILE, ENOMEM): its trouble, not the program's.
 */
int outcome_command(struct exec_result *r, struct run_info *ri, const char *file);

/* A failure outcome for a run that never started: {"jobId","error","_run"}. */
int outcome_refused(const struct run_info *ri, const char *why,
		    struct buf *b);

/* ---- boss.c: claims and heartbeats, through the one HTTP client -------- */

/* struct boss, boss_init, boss_request, ...: client/boss.h */

/* A claimed order, remote or local. */
struct task {
	char id[SPOOL_ID_LEN + 1];
	char token[SPOOL_TOKEN_LEN + 1];
	int attempt;
	int64_t deadline_ms;	/* lease deadline (the claimer's clock) */
	int timeout_s;		/* the job's own, 0: none */
	struct buf job;		/* the job document */
	char job_err[256];	/* why there is none, when the spool could not read it */
	struct order o;		/* local mode: the claim */
};

/*
 * Long-poll a claim: POST /v1/claim. 0 (t filled), -EAGAIN (nothing within
 * wait_s), -EPROTO (an answer we cannot read, or an error status: b->err),
 * or as boss_request.
 */
int boss_claim(struct boss *b, const char *worker, const char *tags,
	       int wait_s, int lease_s, struct task *t);

/*
 * Renew the lease of t: 0 (t->deadline_ms updated), -ESTALE (409: the claim
 * is lost), -EPROTO, or as boss_request.
 */
int boss_heartbeat(struct boss *b, struct task *t, int lease_s);

/* ---- outbox.c: outcomes and logs waiting for the boss ------------------ */

/*
 * A directory of files, one per thing to deliver, named
 * ID.ATTEMPT.TOKEN.KIND with KIND "log", "complete" or "fail"; written
 * maildir-style (tmp/, fsync, rename, fsync the directory) before any
 * attempt to send it, removed only once the boss has answered 2xx or 409
 * (a stale claim: the boss files it as late). Answers the boss will never
 * accept (other 4xx) move the file to dead/, so nothing is ever lost.
 */
#define OUTBOX_HELD_MAX 256	/* claims being sent by their slot (one per slot) */

struct outbox {
	char *dir;
	int fd;			/* O_DIRECTORY of dir */
	pthread_t thread;	/* the outbox thread (outbox_start) */
	struct boss b;		/* its connection to the boss */
	pthread_mutex_t mu;	/* guards what follows; taken in outbox.c only */
	pthread_cond_t cv;
	int kick;		/* something new to send */
	int quit;		/* outbox_stop: finish */
	int64_t quit_by;	/* mono ms: give up on the rest then */
	int left;		/* files not yet delivered when the thread ended */
	int nheld;
	char held[OUTBOX_HELD_MAX][64];	/* ID.ATTEMPT.TOKEN a slot is sending */
};

/* Open (making it when missing) the outbox at dir. 0 or errno. */
int outbox_open(struct outbox *ob, const char *dir);
void outbox_close(struct outbox *ob);

/*
 * Start the outbox thread: it delivers what earlier runners left at once,
 * then whatever outbox_kick announces, with backoff while the boss does
 * not take it (logged through tell). b_url, bearer, health as boss_init.
 * 0 or a negative errno.
 */
int outbox_start(struct outbox *ob, const char *url, const char *bearer,
		 struct boss_health *health, void (*tell)(const char *line));

/* Something new to deliver: wake the outbox thread. */
void outbox_kick(struct outbox *ob);

/*
 * Let the thread deliver what is left until quit_by (mono ms), then end it.
 * How many files are left undelivered.
 */
int outbox_stop(struct outbox *ob, int64_t quit_by);

/* What an answer of the boss to a delivery (a log, an outcome) means. */
enum outbox_answer {
	ANSWER_TAKEN,		/* 2xx: the boss has it (a repeat: as a duplicate) */
	ANSWER_STALE,		/* 409: the claim is stale; the boss keeps it as late */
	ANSWER_AGAIN,		/* 5xx, 408, 429, 401, 403: not taken, may be later */
	ANSWER_REFUSED,		/* any other: never taken */
};

/* The one rule of which HTTP status means what for a delivery. */
enum outbox_answer outbox_answer(long status);

/* Store one thing to deliver, durably. kind as above. 0 or errno. */
int outbox_put(struct outbox *ob, const char *id, int attempt,
	       const char *token, const char *kind, const void *data,
	       size_t len);

/*
 * A slot sends its own claim's files at once (in parallel with the other
 * slots) and leaves them to outbox_flush only when that fails: between
 * outbox_hold and outbox_release, flushes skip the claim's files.
 * outbox_hold fails with -ENOSPC when OUTBOX_HELD_MAX are held.
 */
int outbox_hold(struct outbox *ob, const char *id, int attempt, const char *token);
void outbox_release(struct outbox *ob, const char *id, int attempt,
		    const char *token);

/*
 * Send the files of one claim: its log, then its outcome. 0 (settled, or
 * nothing there), 1 (the boss is busy: try later), or a negative errno from
 * the transport.
 */
int outbox_send(struct outbox *ob, struct boss *b, const char *id, int attempt,
		const char *token, void (*tell)(const char *line));

/*
 * Try to deliver every file of the outbox, logs before the outcome they
 * go with, except those held by a slot. Stops at the first transport error. *left gets how many files
 * remain (at least 1 when the outbox could not be listed whole). 0 (all
 * delivered or settled), a negative errno from the transport, or another
 * errno (then b->err says why). say (may be NULL) is told about settled files.
 */
int outbox_flush(struct outbox *ob, struct boss *b, int *left,
		 void (*tell)(const char *line));

/* ---- the claimer: one interface, a remote and a local implementation -- */

struct runner;
struct claimer;

/*
 * How a slot (or the main thread) deals with whoever hands out orders:
 * spoold over HTTP (remote.c) or the spool directory itself (local.c).
 * Every function is called from the claimer's own thread only. Failures
 * leave a message in cl->err.
 */
struct claimer_ops {
	/* Claim an order into t, waiting up to wait_s for one (remote; local
	 * answers at once). 0, -EAGAIN (none), -ECANCELED (the runner
	 * stops), another negative errno. */
	int (*claim)(struct claimer *cl, struct task *t, int wait_s);
	/* Renew the lease of t. 0, -ESTALE (the claim is lost), errno. */
	int (*renew)(struct claimer *cl, struct task *t);
	/* Cheap: is t still claimed (not cancelled, not reaped)? 0, -ESTALE. */
	int (*check)(struct claimer *cl, struct task *t);
	/* Hand back t's log and outcome (ok: complete, else fail), durably;
	 * says what came of it. */
	void (*finish)(struct claimer *cl, struct task *t, const struct buf *log,
		       int ok, const struct buf *out);
	/* Keep t's log only (a run stopped or lost). */
	void (*keep_log)(struct claimer *cl, struct task *t, const struct buf *log);
	/* Give t back, no attempt counted. 0 or a negative errno. */
	int (*release)(struct claimer *cl, struct task *t);
	/* 1 if an order is queued that this runner could claim once due (not
	 * one whose id skip says to pass); 0 if none. */
	int (*later)(struct claimer *cl, int (*skip)(void *arg, const char *id),
		     void *arg);
	/* Publish the worker record doc. 0 or a negative errno. */
	int (*announce)(struct claimer *cl, const struct buf *doc);
	/* Mend the spool and reap expired leases (local), or nothing. */
	void (*mend)(struct claimer *cl);
	/* Where a person reads the logs of order id, a command, into out. */
	void (*where)(struct claimer *cl, const char *id, char *out, size_t cap);
	void (*close)(struct claimer *cl);
};

struct claimer {
	const struct claimer_ops *ops;
	struct runner *rn;
	int slot;		/* the slot's index; -1 for the main thread */
	struct boss b;		/* remote */
	struct spool sp;	/* local */
	char err[600];
};

/*
 * Open the claimer of rn's mode (remote.c, local.c) for slot (-1: the
 * main thread). 0, or a negative errno with the reason in cl->err.
 */
int remote_open(struct claimer *cl, struct runner *rn, int slot);
int local_open(struct claimer *cl, struct runner *rn, int slot);
int claimer_open(struct claimer *cl, struct runner *rn, int slot);

/* ---- live.c: the log and the series while the run lasts ---------------- */

struct live_stream {
	struct buf data;	/* all of it so far, up to its cap */
	size_t sent;		/* of which the store has this many */
	int put;		/* the first hand-over (a whole put) is made */
};

struct live {
	struct claimer *cl;
	struct task *t;
	int remote, on, said, ending;
	struct live_stream log;	/* the final log's head: the first half of log_max */
	struct live_stream series;	/* the lines of the series, capped, marked */
	int series_lines, series_capped;
	struct buf line, fixed;	/* the stdout line being read */
	int line_over;
	int bad_steps;		/* metrics lines with a step that is not a number */
	char bad_first[128];
	int64_t retry_at;	/* mono: the boss failed; not before this */
	/* each series line as it is kept (prune.c), in the poll loop: must
	 * not block. May be NULL. */
	void (*point)(void *point_arg, const char *line, size_t n);
	void *point_arg;
};

/*
 * Live logs and series (spool-layout.md): live_begin before the run (log_max
 * as the exec_spec's); live_output is the exec_spec's output hook (copies
 * only); live_beat from the heartbeat hands what is new to the spool or the
 * boss; live_end after the run hands over the rest of the series and adds
 * the note about bad metrics lines to log (before the runner's trailer);
 * then live_release.
 */
void live_begin(struct live *lv, struct claimer *cl, struct task *t, size_t log_max);
void live_output(void *arg, int fd, const char *p, size_t n);
void live_beat(struct live *lv);
void live_end(struct live *lv, struct buf *log);
void live_release(struct live *lv);

/* ---- prune.c: early stopping (lib/stop.h) ------------------------------ */

struct prune {
	struct claimer *cl;
	struct task *t;
	int on;			/* the job names a rule */
	struct stop_rule rule;
	char sweep[STOP_SWEEP_MAX + 1];
	struct stop_cache *cache;	/* local mode: the slot's, kept across runs */
	int have;		/* a point is waiting to be judged (remote) */
	double step, value;	/* the last point of the rule's key */
	struct buf last;	/* its line */
	int stop;		/* judged: prune the run */
	double ref;		/* the median or threshold it was worse than */
	int runs;		/* median: finished runs that reached the step */
	int said;		/* a failure to ask was logged */
};

/*
 * Early stopping of a run (README, "Early stopping"). prune_begin before
 * the run reads the job's rule and hooks lv (its series lines come to
 * prune_point); the threshold rule, and the median rule of a local runner
 * (on the spool, through the slot's cache), judge each point as it comes;
 * a remote runner asks the boss (GET /v1/orders/ID/stop) at prune_beat,
 * from the heartbeat, about the last point. prune_stop is the slot's stop
 * hook: 1 once a point was judged worse. After the run, prune_finish
 * builds the pruned outcome into out (and notes it in log): 1, else 0 (not
 * pruned) or a negative errno. prune_release at the slot's end.
 */
void prune_begin(struct prune *p, struct claimer *cl, struct task *t, struct live *lv);
void prune_point(void *arg, const char *line, size_t n);
void prune_beat(struct prune *p);
int prune_stop(const struct prune *p);
int prune_finish(struct prune *p, const struct exec_result *r, const struct run_info *ri,
		 struct buf *log, struct buf *out);
void prune_release(struct prune *p);

/* ---- slot.c and main.c: the program ------------------------------------ */

struct slot {
	struct runner *rn;
	int index;
	const char *cuda;	/* CUDA_VISIBLE_DEVICES of this slot, or NULL */
	pthread_t thread;
	atomic_int done;	/* the thread has finished */
	int64_t backoff_ms;
};

struct runner {
	/* configuration */
	const char *boss_url;	/* remote mode, or NULL */
	const char *spool_dir;	/* local mode, or NULL */
	char *scripts;		/* absolute */
	char name[SPOOL_WORKER_MAX + 1];
	int nslots;
	int ntags;
	const char *tags[SPOOL_TAGS_MAX];
	char tagcsv[SPOOL_TAGS_MAX * (SPOOL_TAG_MAX + 1) + 1];
	char *gpus;		/* "0,1" or NULL */
	int ngpus;
	char *gpu[64];		/* the entries of gpus, in gpu_list */
	char *gpu_list;
	int timeout_s;		/* default job timeout, 0: none */
	int lease_s;		/* 0: the job's or the boss's */
	int grace_s;		/* SIGTERM to SIGKILL */
	int drain_timeout_s;	/* on SIGTERM: how long running scripts may go on */
	int drain;		/* exit once nothing is left to claim */
	int wait_delayed;	/* --drain: not while orders are queued, not yet due */
	int give_up_s;		/* the boss unreachable this long: exit 2 (0: never) */
	char *token_of;		/* "--token-file F" or "$SPOOL_TOKEN_FILE F" (the
				 * message of a refused token), or NULL: none */
	int wait_s;		/* long-poll of a remote claim */
	int poll_ms;		/* local mode: interval between empty claims */
	size_t log_max;
	int keep_work;
	struct artifact_caps caps;	/* on a run's artifacts, and a checkpoint */
	char *workroot;		/* per-run work dirs go below */
	char *bearer;
	char *python;		/* python3 from PATH, or NULL */
	/* state */
	atomic_int stopping;	/* SIGTERM/SIGINT/SIGHUP, or fatal: claim no more */
	atomic_int exit_code;	/* the first reason to stop: 2 or 128+N; 0: none */
	struct boss_health health;
	_Atomic int64_t kill_at_ms;	/* running scripts are stopped after this (0: never) */
	struct outbox outbox;	/* remote mode */
	int have_outbox;
	int sigcount;		/* signals taken */
	struct slot *slots;
	atomic_long completed, failed;
	atomic_int busy;	/* slots running an order (--drain waits for them) */
};

#define RUNNER_VERSION "0.11"

/*
 * Stop the runner: claim no more, stop running scripts at kill_at (mono ms),
 * exit with code unless an earlier reason to stop set one.
 */
void runner_stop(struct runner *rn, int code, int64_t kill_at);

/* The thread of one slot: claims and runs until stopping (or drained). */
void *slot_main(void *arg);

/* ---- options.c: the command line --------------------------------------- */

/* What options name that the runner keeps only until it has used it. */
struct options {
	const char *outbox_dir, *token_file, *exec_file, *scripts, *workdir;
	int give_up;		/* -1: the default */
	int slots_set;
};

/*
 * Fill rn (and o) from the command line, with the defaults. Exits 0 for
 * --help and --version, 2 on bad usage (saying why).
 */
void options_parse(struct runner *rn, struct options *o, int argc, char **argv);

/* 1 if the runner has tag. */
int runner_has_tag(const struct runner *rn, const char *tag);

/* The default outbox directory for the boss at url: malloc'd, or NULL. */
char *options_default_outbox(const char *url);

/* ---- once.c: --exec ------------------------------------------------------ */

/* Run the job in file once, print its outcome. The exit status of main. */
int once_run(struct runner *rn, const char *file);

/* ---- say.c: logging -------------------------------------------------------- */

/* Logging of the program: one line to stderr, prefixed with the worker. */
void say(struct runner *rn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The runner say_outbox speaks for (set once by main, before any thread). */
void say_init(struct runner *rn);

/* say() for the outbox's lines ("outbox: ..."), as its tell callback. */
void say_outbox(const char *line);

/* ---- clock.c --------------------------------------------------------------- */

/* Milliseconds from CLOCK_MONOTONIC. */
int64_t mono_ms(void);

/* Sleep ms, waking early when rn stops. */
void runner_nap(struct runner *rn, int64_t ms);

#endif
