/*
 * bench-local: the local-spool benchmarks of `make bench`, through the spool
 * library (the `runner --spool` path) and, for comparison, through the bare
 * system calls the library must make at the same durability.
 *
 *	bench-local fill DIR N [--script NAME] [--sync]
 *		make the spool DIR (if missing) and queue N benchmark jobs through
 *		spool_submit, in batches of 1000 between spool_begin and
 *		spool_commit, with durability off (sp->nosync) unless --sync:
 *		the fast way to build a large spool; the caller syncs afterwards
 *	bench-local bigfill DIR N [--procs P]
 *		the same spool, written straight into place by P processes (2)
 *	bench-local lib DIR W [--nosync] [--count K]
 *		W processes claim + complete (spool_claim, spool_complete) until
 *		the queue is empty, or K claims in all
 *	bench-local floor DIR W [--nosync]
 *		the same renames, reads, writes and fsyncs done by hand with
 *		directory fds held open: the floor the library is measured against.
 *		Process i takes every W-th order of one sorted listing (no races)
 *	bench-local flush DIR N
 *		the cost of one durable write here, three ways, N times each
 *		(interleaved): a 610-byte append to a preallocated file and its
 *		fdatasync (what beanstalkd -f 0 pays per write); a new 610-byte
 *		file written and fsynced (at best a commit's first round: on ext4
 *		without a journal the fsync of a new file writes its directory
 *		too); a rename and the fsync of its directory (at best a commit's
 *		second round); and BATCH new files written, then fsynced at once
 *		by BATCH threads (a round of a group commit, the way lib/fsyncall.c
 *		issues it), per file. Medians and 90th percentiles in µs
 *	bench-local exec SCRIPT N
 *		run SCRIPT N times as a runner would (fork, execve, the job as its
 *		argument and on stdin, stdout and stderr read through pipes): the
 *		script's own cost, to subtract from the runner's
 *
 * Prints one line of key=value pairs; exit 1 on any error. Every loop is
 * bounded by a count and by a deadline (--timeout, 120 s).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "bench.h"

#define PROCS_MAX 64

struct shared {
	long done[PROCS_MAX];
	long errors[PROCS_MAX];
	char err[256];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-local: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int timeout_s = 120;
static int64_t deadline;

/* ---- fill ------------------------------------------------------------------ */

static int cmd_fill(const char *dir, long n, const char *script, int sync)
{
	struct spool sp;
	char job[1024], id[SPOOL_ID_LEN + 1], run[17];
	int64_t t0 = now_ns();
	long i;
	int r;

	if ((r = spool_open(&sp, dir, 1)) < 0)
		die("cannot open spool '%s': %s", dir, strerror(-r));
	sp.nosync = !sync;
	snprintf(run, sizeof(run), "fill%012ld", (long)getpid());
	spool_begin(&sp);
	for (i = 0; i < n; i++) {
		int len = bench_job(job, sizeof(job), script, run, i);

		if ((r = spool_submit(&sp, job, (size_t)len, NULL, id)) < 0)
			die("submit: %s", spool_error(&sp));
		if ((i + 1) % 1000 == 0) {
			if ((r = spool_commit(&sp)) < 0)
				die("commit: %s", spool_error(&sp));
			spool_begin(&sp);
			if (now_ns() > deadline)
				die("fill: gave up at the deadline");
		}
	}
	if ((r = spool_commit(&sp)) < 0)
		die("commit: %s", spool_error(&sp));
	spool_close(&sp);
	printf("mode=fill n=%ld fill_s=%.3f fill_rate=%.0f sync=%d\n", n,
	       (now_ns() - t0) / 1e9, n / ((now_ns() - t0) / 1e9), sync);
	return 0;
}

/*
 * A large spool, fast: the files spool_submit would leave, written in place
 * by P processes (no tmp/ + link, no fsync): the same names and bytes
 * (spool-layout.md: job "_id" first, then the user's members; the order
 * document with the default options), at about twice the library's rate.
 * A benchmark fixture only: a crash during it leaves half-written files.
 */
static void bigfill_worker(const char *dir, int p, int nprocs, long n)
{
	char job[1024], doc[1200], name[SPOOL_NAME_MAX], path[SPOOL_NAME_MAX + 64];
	char id[SPOOL_ID_LEN + 1], iso[32], run[17];
	int root, newd, jobs[256], f;
	long i;

	if ((root = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (newd = openat(root, "new", O_RDONLY | O_DIRECTORY)) < 0)
		die("cannot open '%s': %s", dir, strerror(errno));
	for (f = 0; f < 256; f++) {
		snprintf(path, sizeof(path), "jobs/%02x", f);
		if ((jobs[f] = openat(root, path, O_RDONLY | O_DIRECTORY)) < 0)
			die("cannot open '%s/%s': %s", dir, path, strerror(errno));
	}
	snprintf(run, sizeof(run), "big%013ld", (long)getppid());
	for (i = p; i < n; i += nprocs) {
		struct order_name on;
		int64_t now = now_ms();
		int len, fd;

		id_new(id);
		len = bench_job(job, sizeof(job), "nn.py", run, i);
		len = snprintf(doc, sizeof(doc), "{\"_id\":\"%s\",%s\n", id, job + 1);
		f = (int)strtol(id + SPOOL_ID_LEN - 2, NULL, 16);
		snprintf(path, sizeof(path), "%s.json", id);
		if ((fd = openat(jobs[f], path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
		    write(fd, doc, (size_t)len) != len || close(fd) < 0)
			die("cannot write job '%s': %s", id, strerror(errno));
		iso_time(now, iso);
		len = snprintf(doc, sizeof(doc),
			       "{\"_id\":\"%s\",\"jobId\":\"%s\",\"createdDate\":\"%s\","
			       "\"createdMs\":%lld,\"priority\":0,\"notBefore\":0,"
			       "\"maxAttempts\":%d,\"timeout\":0,\"lease\":0,"
			       "\"retryDelay\":0,\"tags\":[]}\n",
			       id, id, iso, (long long)now, SPOOL_DEF_MAX_ATTEMPTS);
		memset(&on, 0, sizeof(on));
		on.due = now;
		strcpy(on.stamp, id);
		strcpy(on.id, id);
		if (name_format(&on, name, sizeof(name)) < 0)
			die("cannot name order '%s'", id);
		if ((fd = openat(newd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
		    write(fd, doc, (size_t)len) != len || close(fd) < 0)
			die("cannot write order '%s': %s", name, strerror(errno));
		if ((i & 1023) == 0 && now_ns() > deadline)
			die("bigfill: gave up at the deadline");
	}
	exit(0);
}

static int cmd_bigfill(const char *dir, long n, int nprocs)
{
	struct spool sp;
	int64_t t0 = now_ns();
	pid_t pids[PROCS_MAX];
	int p, r, bad = 0, status;

	if (nprocs < 1 || nprocs > PROCS_MAX)
		die("--procs must be 1 to %d", PROCS_MAX);
	if ((r = spool_open(&sp, dir, 1)) < 0)
		die("cannot open spool '%s': %s", dir, strerror(-r));
	spool_close(&sp);
	for (p = 0; p < nprocs; p++) {
		if ((pids[p] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pids[p] == 0)
			bigfill_worker(dir, p, nprocs, n);
	}
	for (p = 0; p < nprocs; p++)
		if (waitpid(pids[p], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	printf("mode=bigfill n=%ld procs=%d fill_s=%.3f fill_rate=%.0f errors=%d\n", n, nprocs,
	       (now_ns() - t0) / 1e9, n / ((now_ns() - t0) / 1e9), bad);
	return bad;
}

/* ---- W processes, started together ------------------------------------------------ */

typedef void (*worker_fn)(const char *dir, int i, int w, int nosync, long count,
			  struct shared *sh);

/* Fork w workers, release them at once, wait for all; wall seconds. */
static double run_workers(const char *dir, int w, int nosync, long count,
			  worker_fn fn, struct shared *sh)
{
	int gate[2], i, status;
	pid_t pids[PROCS_MAX];
	int64_t t0, t1;

	if (pipe(gate) < 0)
		die("pipe: %s", strerror(errno));
	for (i = 0; i < w; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			char c;

			close(gate[1]);
			if (read(gate[0], &c, 1) < 0)
				_exit(1);
			fn(dir, i, w, nosync, count, sh);
			_exit(0);
		}
	}
	close(gate[0]);
	usleep(20000);	/* let every child reach its read */
	t0 = now_ns();
	close(gate[1]);	/* EOF releases them all */
	for (i = 0; i < w; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			sh->errors[i]++;
	}
	t1 = now_ns();
	return (t1 - t0) / 1e9;
}

static void lib_worker(const char *dir, int i, int w, int nosync, long count,
		       struct shared *sh)
{
	static const char outcome[] =
		"{\"status\":200,\"loss\":0.4123,\"metric\":0.5107,\"epochs\":100,\"seconds\":0.81}";
	struct spool sp;
	struct claimant c;
	char name[32];
	long k;
	int r;

	if ((r = spool_open(&sp, dir, 0)) < 0) {
		snprintf(sh->err, sizeof(sh->err), "open: %s", strerror(-r));
		sh->errors[i]++;
		return;
	}
	sp.nosync = nosync;
	snprintf(name, sizeof(name), "bench-%d", i);
	memset(&c, 0, sizeof(c));
	c.worker = name;
	(void)w;
	for (k = 0; k < 100000000; k++) {
		struct order o;
		long total = 0;
		int j;

		if (count) {
			for (j = 0; j < PROCS_MAX; j++)
				total += __atomic_load_n(&sh->done[j], __ATOMIC_RELAXED);
			if (total >= count)
				break;
		}
		r = spool_claim(&sp, &c, &o);
		if (r == -EAGAIN)
			break;
		if (r == 0)
			r = spool_complete(&sp, &o, outcome, sizeof(outcome) - 1);
		if (r < 0) {
			snprintf(sh->err, sizeof(sh->err), "%s", spool_error(&sp));
			sh->errors[i]++;
			break;
		}
		__atomic_add_fetch(&sh->done[i], 1, __ATOMIC_RELAXED);
		if ((k & 255) == 0 && now_ns() > deadline)
			break;
	}
	spool_close(&sp);
}

/* ---- the floor: the same system calls, by hand ------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* new/, listed and sorted once by the parent (a listing made in each child
 * would differ as soon as the other child renamed something) */
static char **floor_names;
static size_t floor_n;

static void floor_list(const char *dir)
{
	char path[4096];
	size_t cap = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/new", dir);
	if (!(d = opendir(path)))
		die("cannot list '%s': %s", path, strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (floor_n == cap) {
			cap = cap ? cap * 2 : 1024;
			if (!(floor_names = realloc(floor_names, cap * sizeof(*floor_names))))
				die("out of memory");
		}
		if (!(floor_names[floor_n++] = strdup(e->d_name)))
			die("out of memory");
	}
	closedir(d);
	qsort(floor_names, floor_n, sizeof(*floor_names), cmp_names);
}

static int xfsync(int fd, int nosync)
{
	return nosync ? 0 : fsync(fd);
}

static void floor_worker(const char *dir, int i, int w, int nosync, long count,
			 struct shared *sh)
{
	static const char outcome[] =
		"{\"status\":200,\"loss\":0.4123,\"metric\":0.5107,\"epochs\":100,\"seconds\":0.81}\n";
	int root, newd, asg, tmpd, done[256], outs[256], f;
	char **names, p[64];
	size_t n, k;

	(void)count;
	if ((root = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (newd = openat(root, "new", O_RDONLY | O_DIRECTORY)) < 0 ||
	    (asg = openat(root, "assigned", O_RDONLY | O_DIRECTORY)) < 0 ||
	    (tmpd = openat(root, "tmp", O_RDONLY | O_DIRECTORY)) < 0)
		goto fail;
	for (f = 0; f < 256; f++) {
		snprintf(p, sizeof(p), "done/%02x", f);
		if ((done[f] = openat(root, p, O_RDONLY | O_DIRECTORY)) < 0)
			goto fail;
		snprintf(p, sizeof(p), "outcomes/%02x", f);
		if ((outs[f] = openat(root, p, O_RDONLY | O_DIRECTORY)) < 0)
			goto fail;
	}
	names = floor_names;
	n = floor_n;
	for (k = (size_t)i; k < n; k += (size_t)w) {
		char claimed[300], tmp[160], out[160], buf[4096], fan[3];
		const char *q = names[k];
		unsigned long long token = ((unsigned long long)rand() << 32) ^ (unsigned long long)rand();
		int fd;

		if (strlen(q) != 74)
			continue;
		/* claim: read the order file, rename to its claimed name, sync both dirs */
		if ((fd = openat(newd, q, O_RDONLY)) < 0 || read(fd, buf, sizeof(buf)) < 0 || close(fd) < 0)
			goto fail;
		snprintf(claimed, sizeof(claimed), "%.69s001%s.%013lld.%016llx.bench-%d",
			 q, q + 72, (long long)time(NULL) * 1000 + 300000, token, i);
		if (renameat(newd, q, asg, claimed) < 0 || xfsync(newd, nosync) < 0 ||
		    xfsync(asg, nosync) < 0)
			goto fail;
		/* complete: rename to done/FF, write the outcome in tmp/, fsync, link
		 * into outcomes/FF, unlink the tmp name, sync the three directories */
		fan[0] = q[66], fan[1] = q[67], fan[2] = '\0';
		f = (int)strtol(fan, NULL, 16);
		if (renameat(asg, claimed, done[f], claimed) < 0)
			goto fail;
		snprintf(tmp, sizeof(tmp), "%.24s.001.%016llx.outcome", q + 44, token);
		snprintf(out, sizeof(out), "%.24s.001.%016llx.json", q + 44, token);
		if ((fd = openat(tmpd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0 ||
		    write(fd, outcome, sizeof(outcome) - 1) != (ssize_t)sizeof(outcome) - 1 ||
		    xfsync(fd, nosync) < 0 || close(fd) < 0 ||
		    linkat(tmpd, tmp, outs[f], out, 0) < 0 || unlinkat(tmpd, tmp, 0) < 0 ||
		    xfsync(asg, nosync) < 0 || xfsync(done[f], nosync) < 0 ||
		    xfsync(outs[f], nosync) < 0)
			goto fail;
		sh->done[i]++;
		if ((k & 255) == 0 && now_ns() > deadline)
			break;
	}
	return;
fail:
	snprintf(sh->err, sizeof(sh->err), "floor: %s", strerror(errno));
	sh->errors[i]++;
}

static int cmd_workers(const char *what, const char *dir, int w, int nosync, long count)
{
	struct shared *sh;
	double secs;
	long done = 0, errors = 0;
	int i;

	if (w < 1 || w > PROCS_MAX)
		die("W must be 1 to %d", PROCS_MAX);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	if (strcmp(what, "floor") == 0)
		floor_list(dir);
	secs = run_workers(dir, w, nosync, count,
			   strcmp(what, "lib") == 0 ? lib_worker : floor_worker, sh);
	for (i = 0; i < w; i++) {
		done += sh->done[i];
		errors += sh->errors[i];
	}
	printf("mode=%s W=%d nosync=%d done=%ld secs=%.3f rate=%.0f errors=%ld%s%s\n",
	       what, w, nosync, done, secs, done / secs, errors,
	       errors ? " error=" : "", errors ? sh->err : "");
	return errors ? 1 : 0;
}

/* ---- flush: the cost of one durable write ---------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th quantile of v[0..n), in µs; sorts v. */
static double quantile_us(int64_t *v, long n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return v[(long)(q * (double)(n - 1))] / 1e3;
}

#define FLUSH_BATCH 8

static void *fsync_one(void *arg)
{
	return fsync(*(int *)arg) < 0 ? (void *)1 : NULL;
}

/* FLUSH_BATCH new files in tmpd, fsynced at once; ns for the whole batch. */
static int64_t flush_batch(int tmpd, long i, const char *rec)
{
	pthread_t th[FLUSH_BATCH];
	int fd[FLUSH_BATCH], k, bad = 0;
	int64_t t0 = now_ns();

	for (k = 0; k < FLUSH_BATCH; k++) {
		char name[64];

		snprintf(name, sizeof(name), "b%08ld.%d.json", i, k);
		if ((fd[k] = openat(tmpd, name, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0 ||
		    write(fd[k], rec, 610) != 610)
			die("batch: %s", strerror(errno));
	}
	for (k = 0; k < FLUSH_BATCH; k++)
		if ((errno = pthread_create(&th[k], NULL, fsync_one, &fd[k])))
			die("pthread_create: %s", strerror(errno));
	for (k = 0; k < FLUSH_BATCH; k++) {
		void *rc;

		pthread_join(th[k], &rc);
		bad |= rc != NULL;
		close(fd[k]);
	}
	if (bad)
		die("batch: fsync failed");
	return now_ns() - t0;
}

static int cmd_flush(const char *dir, long n)
{
	static const char rec[611] = { [0 ... 609] = 'x' };
	int64_t *t[4], t0;
	char name[64];
	int dfd, log, tmpd, dst;
	long i;

	if (n < 1 || n > 100000)
		die("N must be 1 to 100000");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (mkdirat(dfd, "tmp", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(dfd, "new", 0755) < 0 && errno != EEXIST) ||
	    (tmpd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY)) < 0 ||
	    (dst = openat(dfd, "new", O_RDONLY | O_DIRECTORY)) < 0 ||
	    (log = openat(dfd, "binlog", O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		die("%s: %s", dir, strerror(errno));
	/* preallocated and synced once, as beanstalkd's binlog: an append then
	 * changes no size and no block map, so fdatasync writes only the data */
	if ((errno = posix_fallocate(log, 0, (off_t)n * 610 + 4096)) || fsync(log) < 0 ||
	    fsync(dfd) < 0)
		die("binlog: %s", strerror(errno));
	for (i = 0; i < 4; i++)
		if (!(t[i] = malloc((size_t)n * sizeof(int64_t))))
			die("out of memory");
	for (i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "%08ld.json", i);
		t0 = now_ns();
		if (pwrite(log, rec, 610, (off_t)i * 610) != 610 || fdatasync(log) < 0)
			die("append: %s", strerror(errno));
		t[0][i] = now_ns() - t0;
		t0 = now_ns();
		if ((fd = openat(tmpd, name, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0 ||
		    write(fd, rec, 610) != 610 || fsync(fd) < 0 || close(fd) < 0)
			die("create: %s", strerror(errno));
		t[1][i] = now_ns() - t0;
		t0 = now_ns();
		if (renameat(tmpd, name, dst, name) < 0 || fsync(dst) < 0)
			die("rename: %s", strerror(errno));
		t[2][i] = now_ns() - t0;
		t[3][i] = flush_batch(tmpd, i, rec) / FLUSH_BATCH;
		if (now_ns() > deadline)
			die("flush: gave up at the deadline after %ld", i);
	}
	printf("mode=flush n=%ld batch=%d", n, FLUSH_BATCH);
	for (i = 0; i < 4; i++) {
		static const char *const what[] = { "append", "create", "rename", "batch" };

		printf(" %s_p90_us=%.0f %s_us=%.0f", what[i], quantile_us(t[i], n, 0.9),
		       what[i], quantile_us(t[i], n, 0.5));
		free(t[i]);
	}
	printf("\n");
	return 0;
}

/* ---- exec: a script's own cost ---------------------------------------------------- */

static int cmd_exec(const char *script, long n)
{
	char job[1024], buf[4096];
	int64_t t0 = now_ns();
	long i;

	bench_job(job, sizeof(job), "trivial", "exec000000000000", 0);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		int in[2], out[2], err[2], status;
		struct pollfd pf[2];
		pid_t pid;
		int open_fds = 2, k;

		if (pipe(in) < 0 || pipe(out) < 0 || pipe(err) < 0)
			die("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			char *argv[] = { (char *)script, job, NULL };

			dup2(in[0], 0);
			dup2(out[1], 1);
			dup2(err[1], 2);
			close(in[0]), close(in[1]), close(out[0]), close(out[1]);
			close(err[0]), close(err[1]);
			execv(script, argv);
			_exit(127);
		}
		close(in[0]), close(out[1]), close(err[1]);
		if (write(in[1], job, strlen(job)) < 0 && errno != EPIPE)
			die("write: %s", strerror(errno));
		close(in[1]);
		pf[0].fd = out[0], pf[1].fd = err[0];
		pf[0].events = pf[1].events = POLLIN;
		for (k = 0; open_fds > 0 && k < 100000; k++) {
			int j;

			if (poll(pf, 2, 1000) < 0 && errno != EINTR)
				break;
			for (j = 0; j < 2; j++)
				if (pf[j].fd >= 0 && pf[j].revents) {
					if (read(pf[j].fd, buf, sizeof(buf)) <= 0) {
						close(pf[j].fd);
						pf[j].fd = -1;
						open_fds--;
					}
				}
			if (now_ns() > deadline)
				die("exec: gave up at the deadline");
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("script '%s' failed", script);
	}
	printf("mode=exec n=%ld secs=%.3f per_run_ms=%.3f\n", n, (now_ns() - t0) / 1e9,
	       (now_ns() - t0) / 1e6 / (double)n);
	return 0;
}

static void usage(void)
{
	fputs("usage: bench-local fill DIR N [--script NAME] [--sync]\n"
	      "       bench-local bigfill DIR N [--procs P]\n"
	      "       bench-local lib DIR W [--nosync] [--count K]\n"
	      "       bench-local floor DIR W [--nosync]\n"
	      "       bench-local flush DIR N\n"
	      "       bench-local exec SCRIPT N\n"
	      "       (any: --timeout S)\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *script = "nn.py";
	int nosync = 0, sync = 0, procs = 2, i;
	long count = 0;
	char *pos[4];
	int npos = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nosync") == 0)
			nosync = 1;
		else if (strcmp(argv[i], "--sync") == 0)
			sync = 1;
		else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc)
			script = argv[++i];
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = atol(argv[++i]);
		else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_s = atoi(argv[++i]);
		else if (argv[i][0] == '-' || npos == 4)
			usage();
		else
			pos[npos++] = argv[i];
	}
	if (npos != 3 || timeout_s < 1)
		usage();
	deadline = now_ns() + (int64_t)timeout_s * 1000000000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(pos[0], "fill") == 0)
		return cmd_fill(pos[1], atol(pos[2]), script, sync);
	if (strcmp(pos[0], "bigfill") == 0)
		return cmd_bigfill(pos[1], atol(pos[2]), procs);
	if (strcmp(pos[0], "lib") == 0 || strcmp(pos[0], "floor") == 0)
		return cmd_workers(pos[0], pos[1], atoi(pos[2]), nosync, count);
	if (strcmp(pos[0], "flush") == 0)
		return cmd_flush(pos[1], atol(pos[2]));
	if (strcmp(pos[0], "exec") == 0)
		return cmd_exec(pos[1], atol(pos[2]));
	usage();
	return 2;
}
