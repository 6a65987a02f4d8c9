/*
 * exec: one run of one script, from spawn to reaping.
 *
 * The script is started with fork and execve (no shell; nothing but system
 * calls between the two, since the slot threads are around) in a process
 * group of its own, with the job on stdin and its stdout and stderr on pipes. One
 * poll loop feeds stdin, reads both pipes, keeps the log (its head and its
 * tail, with a marker for what was dropped between), remembers the last
 * stdout line that is a JSON object and the tail of stderr, calls the
 * heartbeat, and enforces the timeout: SIGTERM to the group, a grace
 * period, then SIGKILL. A pidfd tells when the child has exited; it is then
 * still a zombie, so its group id cannot have been reused when we kill
 * what is left of the group, and only then is it reaped, with wait4 for
 * its resource usage. A watcher process per run (watch) kills the group
 * when the runner dies, however it dies.
 *
 * The runner ignores SIGPIPE (main.c), so writing the job to a script that
 * does not read it gives EPIPE here, not a dead runner; the child gets its
 * signals back to their defaults.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "runner.h"

#define READ_CHUNK (64 << 10)
#define POLL_MAX_MS 200		/* how often stop() is asked */
#define WATCH_ENV_MAX (256 << 10)	/* bytes of a process's environment read */
#define DRAIN_MS 2000		/* after exit: how long to wait for the pipes' EOF */

const char *exec_signame(int sig, char out[16])
{
	const char *d = sigabbrev_np(sig);

	if (d)
		snprintf(out, 16, "SIG%s", d);
	else
		snprintf(out, 16, "SIG%d", sig);
	return out;
}

/* ---- the log: its first half and a ring of its last half ---------------- */

struct cap {
	struct buf head;
	char *ring;
	size_t rmax, rpos, rlen;
	uint64_t total;
};

static void cap_init(struct cap *c, size_t max)
{
	buf_init(&c->head, max - max / 2);
	c->ring = NULL;
	c->rmax = max / 2;
	c->rpos = c->rlen = 0;
	c->total = 0;
}

static void cap_add(struct cap *c, const char *p, size_t n)
{
	size_t room = c->head.max - c->head.len, k;

	c->total += n;
	if (room) {
		k = n < room ? n : room;
		if (buf_add(&c->head, p, k) < 0)
			c->head.max = c->head.len;	/* out of memory: keep what we have */
		p += k;
		n -= k;
	}
	if (!n || !c->rmax)
		return;
	if (!c->ring && !(c->ring = malloc(c->rmax))) {
		c->rmax = 0;
		return;
	}
	if (n > c->rmax) {
		p += n - c->rmax;
		n = c->rmax;
	}
	while (n) {
		k = c->rmax - c->rpos;
		if (k > n)
			k = n;
		memcpy(c->ring + c->rpos, p, k);
		c->rpos = (c->rpos + k) % c->rmax;
		c->rlen = c->rlen + k > c->rmax ? c->rmax : c->rlen + k;
		p += k;
		n -= k;
	}
}

/* Head, marker, tail into out (whose ceiling leaves room for the marker). */
static void cap_finish(struct cap *c, struct buf *out)
{
	uint64_t dropped = c->total - c->head.len - c->rlen;
	size_t start = (c->rpos + c->rmax - c->rlen) % (c->rmax ? c->rmax : 1);

	if (c->head.len)
		buf_add(out, c->head.data, c->head.len);
	if (dropped)
		buf_printf(out, "%s[runner: output truncated: %llu of %llu bytes dropped here]\n",
			   out->len && out->data[out->len - 1] != '\n' ? "\n" : "",
			   (unsigned long long)dropped, (unsigned long long)c->total);
	if (c->rlen) {
		size_t k = c->rmax - start < c->rlen ? c->rmax - start : c->rlen;

		buf_add(out, c->ring + start, k);
		buf_add(out, c->ring, c->rlen - k);
	}
	buf_release(&c->head);
	free(c->ring);
	c->ring = NULL;
}

/* ---- stdout lines: remember the last one that is a JSON object ---------- */

struct lines {
	struct buf line;
	int over;		/* the current line passed the ceiling: not an outcome */
	struct buf *last;
	int *nonfinite;		/* NaN/Infinity read as null in *last */
	struct buf fixed;	/* a line with them, rewritten */
};

/*
 * Python's json.dumps prints NaN, Infinity and -Infinity, which JSON has
 * not (a diverged run's loss). A line of stdout has no newline; a command
 * job's outcome file may (json.dump with indent).
 */
int exec_nonfinite_null(const char *s, size_t n, struct buf *out)
{
	static const char *const words[] = { "-Infinity", "Infinity", "NaN" };
	size_t i = 0, k, start = 0;
	int instr = 0, count = 0, r;
	char prev = 0;

	buf_reset(out);
	while (i < n) {
		char ch = s[i];

		if (instr) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				instr = 0;
			i++;
			continue;
		}
		if (ch == '"') {
			instr = 1;
			prev = ch;
			i++;
			continue;
		}
		for (k = 0; (prev == ':' || prev == ',' || prev == '[') &&
			    k < sizeof(words) / sizeof(words[0]); k++) {
			size_t w = strlen(words[k]);

			if (n - i >= w && !memcmp(s + i, words[k], w) &&
			    (i + w == n || strchr(" \t\r\n,]}", s[i + w])))
				break;
		}
		if ((prev == ':' || prev == ',' || prev == '[') &&
		    k < sizeof(words) / sizeof(words[0])) {
			if ((r = buf_add(out, s + start, i - start)) < 0 ||
			    (r = buf_puts(out, "null")) < 0)
				return r;
			i += strlen(words[k]);
			start = i;
			count++;
			prev = 'l';
			continue;
		}
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			prev = ch;
		i++;
	}
	if (count && (r = buf_add(out, s + start, n - start)) < 0)
		return r;
	return count;
}

static void line_end(struct lines *l)
{
	const char *s = l->line.data;
	size_t n = l->line.len;

	if (l->over || !n)
		goto out;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
		int nf = 0;

		if (json_validate(s, n, NULL, 0) < 0) {
			if ((nf = exec_nonfinite_null(s, n, &l->fixed)) <= 0 ||
			    json_validate(l->fixed.data, l->fixed.len, NULL, 0) < 0)
				goto out;
			s = l->fixed.data;
			n = l->fixed.len;
		}
		buf_reset(l->last);
		*l->nonfinite = nf;
		if (buf_add(l->last, s, n) < 0) {
			buf_reset(l->last);
			*l->nonfinite = 0;
		}
	}
out:
	buf_reset(&l->line);
	l->over = 0;
}

static void lines_add(struct lines *l, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		if (!l->over && buf_add(&l->line, p, k) < 0) {
			l->over = 1;
			buf_reset(&l->line);
		}
		if (nl) {
			line_end(l);
			k++;
		}
		p += k;
		n -= k;
	}
}

/* ---- the tail of stderr -------------------------------------------------- */

struct tail {
	char ring[EXEC_ERRTAIL_MAX];
	size_t pos, len;
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
	if (n > sizeof(t->ring)) {
		p += n - sizeof(t->ring);
		n = sizeof(t->ring);
	}
	while (n) {
		size_t k = sizeof(t->ring) - t->pos;

		if (k > n)
			k = n;
		memcpy(t->ring + t->pos, p, k);
		t->pos = (t->pos + k) % sizeof(t->ring);
		t->len = t->len + k > sizeof(t->ring) ? sizeof(t->ring) : t->len + k;
		p += k;
		n -= k;
	}
}

static void tail_finish(struct tail *t, char *out)
{
	size_t start = (t->pos + sizeof(t->ring) - t->len) % sizeof(t->ring);
	size_t k = sizeof(t->ring) - start < t->len ? sizeof(t->ring) - start : t->len;

	memcpy(out, t->ring + start, k);
	memcpy(out + k, t->ring, t->len - k);
	out[t->len] = '\0';
}

/* The first line of stderr (its first EXEC_ERRHEAD_MAX bytes), into head. */
static void head_add(char *head, int *done, const char *p, size_t n)
{
	size_t have = strlen(head), k = 0;

	while (!*done && k < n && have < EXEC_ERRHEAD_MAX) {
		if (p[k] == '\n') {
			*done = have > 0;	/* blank lines before it do not count */
		} else if (p[k] != '\r') {
			head[have++] = p[k];
		}
		k++;
	}
	head[have] = '\0';
	if (have == EXEC_ERRHEAD_MAX)
		*done = 1;
}

/* ---- the run --------------------------------------------------------------- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Signal the script's group, and the script itself in case it left it. */
static void kill_group(pid_t pid, int sig)
{
	kill(-pid, sig);
	kill(pid, sig);
}

/*
 * End the watcher of a run: close its pipe, which makes it kill the script's
 * group (call this while the script is unreaped), and reap it.
 */
static void unwatch(pid_t *watcher, int *life)
{
	int st;

	if (*life >= 0)
		close(*life);
	*life = -1;
	if (*watcher > 0)
		while (waitpid(*watcher, &st, 0) < 0 && errno == EINTR)
			;
	*watcher = -1;
}

/*
 * The watcher of a run: a process of its own, forked after the script, that
 * holds the read end of a pipe whose only write end is the runner's. Any
 * death of the runner, SIGKILL included, closes that end; the watcher then
 * kills the script's whole process group (a training process and its data
 * loaders, which PR_SET_PDEATHSIG on the script alone would leave behind)
 * and every process that carries the run's SPOOL_RUN marker in its
 * environment (one that left the group: setsid, a daemon), and exits. At a
 * run's normal end the runner closes the pipe itself, while
 * the script is still a zombie (so its group id cannot have been reused),
 * and reaps the watcher before the script. The watcher ignores the signals
 * a scheduler sends to every process of a step, so that it outlives them.
 */
/* The marker of a run in its environment ("SPOOL_RUN=..."), or NULL. */
static const char *run_mark(char *const *env)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "SPOOL_RUN=", 10))
			return env[i];
	return NULL;
}

/* Decimal of v into out (async-signal-safe). Its length. */
static size_t udec(char *out, unsigned long v)
{
	char t[24];
	size_t n = 0, i;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(t));
	for (i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	return n;
}

/*
 * Kill every process whose environment holds mark exactly, as an entry:
 * what left the run's process group (setsid, a daemon) but inherited its
 * environment. Raw system calls only (this runs in a child forked from a
 * threaded process); buf (cap bytes) was allocated before the fork. How
 * many were killed.
 */
static int kill_marked(const char *mark, char *buf, size_t cap)
{
	size_t ml = strlen(mark);
	char dents[8192];
	int fd, killed = 0;
	long n;

	if ((fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	while ((n = syscall(SYS_getdents64, fd, dents, sizeof(dents))) > 0) {
		long off = 0;

		while (off < n) {
			unsigned short reclen = *(unsigned short *)(dents + off + 16);
			const char *name = dents + off + 19;
			unsigned long pid = 0;
			char path[48];
			size_t k = 0, i;
			ssize_t got;
			int efd;

			off += reclen;
			for (i = 0; name[i] >= '0' && name[i] <= '9'; i++)
				pid = pid * 10 + (unsigned long)(name[i] - '0');
			if (!i || name[i] || pid == (unsigned long)getpid())
				continue;
			memcpy(path, "/proc/", 6);
			k = 6 + udec(path + 6, pid);
			memcpy(path + k, "/environ", 9);
			if ((efd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			got = read(efd, buf, cap);
			close(efd);
			for (i = 0; got > 0 && i < (size_t)got; ) {
				size_t e = i;

				while (e < (size_t)got && buf[e])
					e++;
				if (e - i == ml && !memcmp(buf + i, mark, ml)) {
					kill((pid_t)pid, SIGKILL);
					killed++;
					break;
				}
				i = e + 1;
			}
		}
	}
	close(fd);
	return killed;
}

static pid_t watch(int life_r, pid_t group, const char *mark, char *buf, size_t cap)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction sa;
		sigset_t none;
		char c;
		ssize_t n;
		int sig;

		memset(&sa, 0, sizeof(sa));
		for (sig = 1; sig < NSIG; sig++) {
			sa.sa_handler = sig == SIGTERM || sig == SIGINT || sig == SIGHUP ||
					sig == SIGPIPE || sig == SIGUSR1 || sig == SIGUSR2
					? SIG_IGN : SIG_DFL;
			sigaction(sig, &sa, NULL);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* nothing but the pipe: another run's write end held here would
		 * keep that run's watcher from ever seeing its runner die */
		if (life_r != 3 && dup2(life_r, 3) < 0)
			_exit(1);
		if (syscall(SYS_close_range, 4, ~0U, 0) < 0) {
			int fd;

			for (fd = 4; fd < 1024; fd++)
				close(fd);
		}
		for (;;) {
			n = read(3, &c, 1);
			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
		kill(-group, SIGKILL);
		/* and whatever left the group; again while some fork */
		for (n = 0; mark && buf && n < 20 && kill_marked(mark, buf, cap) > 0; n++)
			;
		_exit(0);
	}
	return pid;
}

/*
 * fork and exec, with only system calls in between (we are multi-threaded).
 * The child: its own process group; SIGKILL when the runner's slot thread
 * dies; signals back to defaults; the pipes on 0-2, every other descriptor
 * closed. An exec failure comes back as an errno on a close-on-exec pipe.
 * Then the run's watcher (above) is started; *life is the write end of its
 * pipe, *watcher its pid (or -1 when it could not be forked: the run goes
 * on, with PR_SET_PDEATHSIG as the only guard). Returns 0 or a positive
 * errno.
 */
static int spawn(const struct exec_spec *s, int in, int out, int err, pid_t *pid,
		 pid_t *watcher, int *life)
{
	char *args[4], *const *argv = s->argv ? s->argv : args;
	sigset_t none;
	pid_t parent = getpid();
	int i = 0, rep[2], lp[2], e = 0;
	ssize_t n;

	*watcher = -1;
	*life = -1;
	if (s->interp)
		args[i++] = (char *)s->interp;
	args[i++] = (char *)s->path;
	if (!s->no_arg)
		args[i++] = (char *)s->job;
	args[i] = NULL;
	sigemptyset(&none);
	if (pipe2(rep, O_CLOEXEC) < 0)
		return errno;
	*pid = fork();
	if (*pid < 0) {
		e = errno;
		close(rep[0]);
		close(rep[1]);
		return e;
	}
	if (*pid == 0) {
		struct sigaction dfl;
		int sig;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
		    chdir(s->workdir) < 0)
			goto fail;
		if (rep[1] <= 2)
			goto fail;	/* cannot happen: 0-2 are open in the runner */
		if (syscall(SYS_close_range, 3, rep[1] - 1, 0) < 0 ||
		    syscall(SYS_close_range, rep[1] + 1, ~0U, 0) < 0) {
			int fd;

			for (fd = 3; fd < 1024; fd++)
				if (fd != rep[1])
					close(fd);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[0], argv, s->env);
fail:
		e = errno;
		n = write(rep[1], &e, sizeof(e));
		(void)n;
		_exit(127);
	}
	/* The child too sets its group; doing it here as well closes the race
	 * with a kill(-pid) issued before the child got that far. */
	setpgid(*pid, *pid);
	close(rep[1]);
	if (pipe2(lp, O_CLOEXEC) == 0) {
		char *buf = malloc(WATCH_ENV_MAX);	/* the watcher's, before its fork */

		if ((*watcher = watch(lp[0], *pid, run_mark(s->env), buf, WATCH_ENV_MAX)) < 0) {
			close(lp[1]);
		} else {
			*life = lp[1];
		}
		close(lp[0]);
		free(buf);
	}
	while ((n = read(rep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (n == sizeof(e)) {
		int st;

		unwatch(watcher, life);
		while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
			;
		return e ? e : EIO;
	}
	return 0;
}

/* Has the child exited (it stays a zombie)? 1, 0. */
static int exited_yet(pid_t pid, int pidfd, short revents)
{
	siginfo_t si;

	if (pidfd >= 0)
		return (revents & POLLIN) != 0;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

static int64_t at_most(int64_t t, int64_t deadline, int64_t now)
{
	if (deadline && deadline - now < t)
		t = deadline - now;
	return t < 0 ? 0 : t;
}

int exec_run(const struct exec_spec *s, struct exec_result *r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	int pidfd = -1, ret = 0, status = 0, reason = 0, exited = 0;
	int64_t t0, now, end_timeout = 0, next_beat = 0, kill_at = 0, drain_until = 0;
	size_t inoff = 0;
	struct cap cap;
	struct lines lines;
	struct tail tail;
	struct rusage ru;
	char *chunk = NULL;
	pid_t pid = 0, watcher = -1;
	int life = -1, headdone = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->log, s->log_max + 256);
	buf_init(&r->outcome, SPOOL_OUTCOME_MAX);
	cap_init(&cap, s->log_max);
	buf_init(&lines.line, SPOOL_OUTCOME_MAX);
	lines.over = 0;
	lines.last = &r->outcome;
	lines.nonfinite = &r->nonfinite;
	buf_init(&lines.fixed, SPOOL_OUTCOME_MAX);
	memset(&tail, 0, sizeof(tail));
	memset(&ru, 0, sizeof(ru));

	if (!(chunk = malloc(READ_CHUNK))) {
		ret = -ENOMEM;
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(er, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	r->started_ms = now_ms();
	t0 = mono_ms();
	r->err = spawn(s, in[0], out[1], er[1], &pid, &watcher, &life);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	if (r->err) {
		r->end = END_SPAWN;
		goto out;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(er[0], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_open(pid, 0);	/* -1 on old kernels: we poll waitid */

	if (s->timeout_ms > 0)
		end_timeout = t0 + s->timeout_ms;
	if (s->beat && s->beat_ms > 0)
		next_beat = t0 + s->beat_ms;

	for (;;) {
		struct pollfd p[4];
		int np = 0, iin = -1, iout = -1, ierr = -1, ipid = -1;
		int64_t wait;

		now = mono_ms();
		if (!exited) {
			int why = 0;

			if (end_timeout && now >= end_timeout)
				why = END_TIMEOUT;
			else if (s->stop && s->stop(s->arg))
				why = END_STOPPED;
			else if (next_beat && now >= next_beat) {
				int64_t nb = s->beat_ms;

				if (s->beat(s->arg, &nb) < 0)
					why = END_LOST;
				next_beat = mono_ms() + (nb > 0 ? nb : s->beat_ms);
			}
			if (why && !reason) {
				reason = why;
				kill_group(pid, SIGTERM);
				kill_at = now + (s->grace_ms > 0 ? s->grace_ms : 0);
				next_beat = 0;
				end_timeout = 0;
			}
			if (kill_at && now >= kill_at) {
				kill_group(pid, SIGKILL);
				kill_at = 0;
			}
		} else if (now >= drain_until || (out[0] < 0 && er[0] < 0)) {
			break;
		}

		if (in[1] >= 0) {
			iin = np;
			p[np++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		}
		if (out[0] >= 0) {
			iout = np;
			p[np++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		}
		if (er[0] >= 0) {
			ierr = np;
			p[np++] = (struct pollfd){ .fd = er[0], .events = POLLIN };
		}
		if (!exited && pidfd >= 0) {
			ipid = np;
			p[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		}
		wait = exited ? at_most(POLL_MAX_MS, drain_until, now)
			      : pidfd >= 0 ? POLL_MAX_MS : 50;
		if (!exited) {
			wait = at_most(wait, end_timeout, now);
			wait = at_most(wait, next_beat, now);
			wait = at_most(wait, kill_at, now);
		}
		if (poll(p, (nfds_t)np, (int)wait) < 0 && errno != EINTR) {
			ret = -errno;
			kill_group(pid, SIGKILL);	/* and fall through to reap */
			if (!exited) {
				unwatch(&watcher, &life);
				wait4(pid, &status, 0, &ru);
				exited = 1;
			}
			break;
		}
		if (iin >= 0 && p[iin].revents) {
			ssize_t w = write(in[1], s->job + inoff, s->joblen - inoff);

			if (w > 0)
				inoff += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    inoff >= s->joblen)
				close_fd(&in[1]);
		}
		if (iout >= 0 && p[iout].revents) {
			ssize_t n = read(out[0], chunk, READ_CHUNK);

			if (n > 0) {
				r->out_bytes += (uint64_t)n;
				cap_add(&cap, chunk, (size_t)n);
				lines_add(&lines, chunk, (size_t)n);
				if (s->output)
					s->output(s->out_arg, 1, chunk, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(&out[0]);
			}
		}
		if (ierr >= 0 && p[ierr].revents) {
			ssize_t n = read(er[0], chunk, READ_CHUNK);

			if (n > 0) {
				head_add(r->errhead, &headdone, chunk, (size_t)n);
				r->err_bytes += (uint64_t)n;
				cap_add(&cap, chunk, (size_t)n);
				tail_add(&tail, chunk, (size_t)n);
				if (s->output)
					s->output(s->out_arg, 2, chunk, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(&er[0]);
			}
		}
		if (!exited && exited_yet(pid, pidfd, ipid >= 0 ? p[ipid].revents : 0)) {
			/* A zombie still: its group id is ours to kill. */
			kill_group(pid, SIGKILL);
			unwatch(&watcher, &life);
			while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
				;
			exited = 1;
			r->wall_ms = mono_ms() - t0;
			drain_until = mono_ms() + DRAIN_MS;
			close_fd(&in[1]);
		}
	}
	if (!r->wall_ms)
		r->wall_ms = mono_ms() - t0;
	if (lines.line.len)
		line_end(&lines);	/* a last line without its newline */
	r->cpu_ms = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	r->maxrss_kb = ru.ru_maxrss;
	if (WIFSIGNALED(status))
		r->sig = WTERMSIG(status);
	else if (WIFEXITED(status))
		r->code = WEXITSTATUS(status);
	if (reason)
		r->end = reason;
	else if (WIFSIGNALED(status))
		r->end = END_SIGNALED;
	else
		r->end = END_EXITED;
out:
	unwatch(&watcher, &life);	/* none left but on an error path */
	cap_finish(&cap, &r->log);
	tail_finish(&tail, r->errtail);
	buf_release(&lines.line);
	buf_release(&lines.fixed);
	free(chunk);
	close_fd(&pidfd);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&er[0]);
	close_fd(&er[1]);
	return ret;
}

void exec_result_release(struct exec_result *r)
{
	buf_release(&r->log);
	buf_release(&r->outcome);
}
