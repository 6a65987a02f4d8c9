/*
 * outbox: what a remote runner owes the boss, on disk until the boss has it.
 *
 * A finished run's log and outcome are written here (maildir-style: tmp/,
 * fsync, rename, fsync the directory) before the first attempt to send
 * them, so neither a boss that is down nor a runner that dies loses them.
 * The slot that wrote them sends them at once (slots send in parallel);
 * what it could not send is left to the outbox thread's flushes, with
 * backoff, and to the next runner started on the same outbox. A file goes only when the boss has answered for it:
 * 2xx (taken; a repeated completion under the same token is answered as a
 * duplicate, so a resend after a crash files nothing twice) or 409 (the
 * claim is stale: the boss keeps the outcome as late). Other 4xx answers
 * will never change, so those files move to dead/ for a person to read;
 * 5xx, 408, 429, 401 and 403 pass, and are tried again.
 *
 * The outbox's lock (held claims, the thread's kick and quit) is taken in
 * this file only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define FLUSH_MAX 4096		/* files looked at in one flush */

/* This host's name, for the tmp/ files (an outbox may be on a shared home). */
static void host_name(char out[HOST_NAME_MAX + 1])
{
	size_t i;

	if (gethostname(out, HOST_NAME_MAX) < 0)
		snprintf(out, HOST_NAME_MAX + 1, "host");
	out[HOST_NAME_MAX] = '\0';
	for (i = 0; out[i]; i++)
		if (out[i] == '/')
			out[i] = '_';
}

/*
 * Is tmp/ file name (NAME.HOST.PID) one of a runner of this host that is
 * gone? A file of another host is left to the hour-old rule.
 */
static int tmp_orphan(const char *name)
{
	char host[HOST_NAME_MAX + 1];
	const char *dot = strrchr(name, '.');
	size_t hn, pre;
	char *end;
	long pid;

	if (!dot)
		return 0;
	pid = strtol(dot + 1, &end, 10);
	if (*end || pid <= 0)
		return 0;
	host_name(host);
	hn = strlen(host);
	pre = (size_t)(dot - name);
	if (pre <= hn + 1 || name[pre - hn - 1] != '.' || strncmp(name + pre - hn, host, hn))
		return 0;
	return pid > INT_MAX || (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

int outbox_open(struct outbox *ob, const char *dir)
{
	char sub[4096];
	DIR *d;
	struct dirent *e;
	int r;

	memset(ob, 0, sizeof(*ob));
	ob->fd = -1;
	if ((r = dir_make_p(dir)) < 0)
		return r;
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	if ((r = dir_make_p(sub)) < 0)
		return r;
	snprintf(sub, sizeof(sub), "%s/dead", dir);
	if ((r = dir_make_p(sub)) < 0)
		return r;
	if (!(ob->dir = strdup(dir)))
		return -ENOMEM;
	if ((ob->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		free(ob->dir);
		return r;
	}
	/* tmp/ files of dead runners were never delivered: drop them */
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	if ((d = opendir(sub))) {
		int tfd = dirfd(d);
		struct stat st;

		while ((e = readdir(d)))
			if (e->d_name[0] != '.' && fstatat(tfd, e->d_name, &st, 0) == 0 &&
			    (st.st_mtime < time(NULL) - 3600 || tmp_orphan(e->d_name)))
				unlinkat(tfd, e->d_name, 0);
		closedir(d);
	}
	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->cv, NULL);
	return 0;
}

void outbox_close(struct outbox *ob)
{
	if (ob->fd >= 0) {
		close(ob->fd);
		pthread_mutex_destroy(&ob->mu);
		pthread_cond_destroy(&ob->cv);
	}
	free(ob->dir);
	ob->fd = -1;
	ob->dir = NULL;
}

int outbox_put(struct outbox *ob, const char *id, int attempt,
	       const char *token, const char *kind, const void *data,
	       size_t len)
{
	char name[128], tmp[160 + HOST_NAME_MAX], host[HOST_NAME_MAX + 1];
	const char *p = data;
	int fd, r = 0;

	host_name(host);
	snprintf(name, sizeof(name), "%s.%d.%s.%s", id, attempt, token, kind);
	snprintf(tmp, sizeof(tmp), "tmp/%s.%s.%ld", name, host, (long)getpid());
	if ((fd = openat(ob->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 0600)) < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(ob->fd, tmp, ob->fd, name) < 0)
		r = -errno;
	if (!r && fsync(ob->fd) < 0)
		r = -errno;
	if (r)
		unlinkat(ob->fd, tmp, 0);
	return r;
}

/* ID.A.TOKEN.KIND: split in place. 0 or -EINVAL. */
static int parse_name(char *s, char **id, int *attempt, char **token, char **kind)
{
	char *a, *t, *k, *end;
	long v;

	if (!(a = strchr(s, '.')) || !(t = strchr(a + 1, '.')) ||
	    !(k = strchr(t + 1, '.')))
		return -EINVAL;
	*a++ = *t++ = *k++ = '\0';
	v = strtol(a, &end, 10);
	if (*end || v < 1 || v > SPOOL_ATTEMPTS_MAX || !id_valid(s) ||
	    !token_valid(t) || (strcmp(k, "log") && strcmp(k, "complete") &&
				strcmp(k, "fail")))
		return -EINVAL;
	*id = s;
	*attempt = (int)v;
	*token = t;
	*kind = k;
	return 0;
}

/* Same claim: the log first, then the outcome. */
static int cmp_names(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *dx = strrchr(x, '.'), *dy = strrchr(y, '.');
	size_t nx = dx ? (size_t)(dx - x) : strlen(x);
	size_t ny = dy ? (size_t)(dy - y) : strlen(y);
	int c = strncmp(x, y, nx < ny ? nx : ny);

	if (c || nx != ny)
		return c ? c : nx < ny ? -1 : 1;
	c = (dy && !strcmp(dy, ".log")) - (dx && !strcmp(dx, ".log"));
	return c ? c : strcmp(x, y);
}

static int held_find(struct outbox *ob, const char *prefix)
{
	int i;

	for (i = 0; i < ob->nheld; i++)
		if (!strcmp(ob->held[i], prefix))
			return i;
	return -1;
}

int outbox_hold(struct outbox *ob, const char *id, int attempt, const char *token)
{
	int r = 0;

	pthread_mutex_lock(&ob->mu);
	if (ob->nheld == OUTBOX_HELD_MAX)
		r = -ENOSPC;
	else
		snprintf(ob->held[ob->nheld++], sizeof(ob->held[0]), "%s.%d.%s", id,
			 attempt, token);
	pthread_mutex_unlock(&ob->mu);
	return r;
}

void outbox_release(struct outbox *ob, const char *id, int attempt,
		    const char *token)
{
	char prefix[64];
	int i;

	snprintf(prefix, sizeof(prefix), "%s.%d.%s", id, attempt, token);
	pthread_mutex_lock(&ob->mu);
	if ((i = held_find(ob, prefix)) >= 0)
		memcpy(ob->held[i], ob->held[--ob->nheld], sizeof(ob->held[0]));
	pthread_mutex_unlock(&ob->mu);
}

/* Is file (ID.A.TOKEN.KIND) held by a slot? */
static int held(struct outbox *ob, const char *file)
{
	const char *dot = strrchr(file, '.');
	char prefix[64];
	int r;

	if (!dot || (size_t)(dot - file) >= sizeof(prefix))
		return 0;
	memcpy(prefix, file, (size_t)(dot - file));
	prefix[dot - file] = '\0';
	pthread_mutex_lock(&ob->mu);
	r = held_find(ob, prefix) >= 0;
	pthread_mutex_unlock(&ob->mu);
	return r;
}

enum outbox_answer outbox_answer(long status)
{
	if (status >= 200 && status < 300)
		return ANSWER_TAKEN;
	if (status == 409)
		return ANSWER_STALE;
	/* the boss is struggling, or its token changed: both pass */
	if (status >= 500 || status == 408 || status == 429 || status == 401 ||
	    status == 403)
		return ANSWER_AGAIN;
	return ANSWER_REFUSED;
}

/* Send one file. 0 settled (sent, stale, or dead), 1 retry later, <0 transport. */
static int deliver(struct outbox *ob, struct boss *b, const char *file,
		   void (*tell)(const char *line))
{
	char name[160], path[256], line[512], dead[200];
	char *id, *token, *kind;
	struct buf data;
	int attempt, r;

	snprintf(name, sizeof(name), "%s", file);
	if (parse_name(name, &id, &attempt, &token, &kind) < 0) {
		snprintf(dead, sizeof(dead), "dead/%s", file);
		renameat(ob->fd, file, ob->fd, dead);
		return 0;
	}
	buf_init(&data, SPOOL_LOG_MAX + (64 << 10));
	if ((r = buf_read_file(&data, ob->fd, file)) < 0) {
		buf_release(&data);
		if (r == -EFBIG) {	/* not ours: nothing this big is written */
			snprintf(dead, sizeof(dead), "dead/%s", file);
			renameat(ob->fd, file, ob->fd, dead);
			return 0;
		}
		return r == -ENOENT ? 0 : 1;	/* ENOENT: another runner sent it */
	}
	if (!strcmp(kind, "log"))
		snprintf(path, sizeof(path), "/v1/orders/%s/log?token=%s&attempt=%d",
			 id, token, attempt);
	else
		snprintf(path, sizeof(path), "/v1/orders/%s/%s?token=%s", id, kind,
			 token);
	r = boss_request(b, "POST", path, data.data ? data.data : "", data.len, 60, 0);
	buf_release(&data);
	if (r < 0)
		return r;
	switch (outbox_answer(b->status)) {
	case ANSWER_TAKEN:
		if (tell && strcmp(kind, "log")) {
			const char *rep = b->reply.data ? b->reply.data : "";

			snprintf(line, sizeof(line), "delivered %s of %s attempt %d%s", kind,
				 id, attempt,
				 strstr(rep, "\"duplicate\"") ? " (the boss already had it)" :
				 !strcmp(kind, "complete") ? "" :
				 strstr(rep, "\"retried\": true") || strstr(rep, "\"retried\":true")
				 ? ": will be retried" : ": failed for good");
			tell(line);
		}
		break;
	case ANSWER_STALE:
		if (tell) {
			snprintf(line, sizeof(line), !strcmp(kind, "log")
				 ? "%s of %s attempt %d refused: the claim is no longer held (HTTP 409)"
				 : "%s of %s attempt %d is stale (HTTP 409): the boss keeps it aside as late",
				 kind, id, attempt);
			tell(line);
		}
		break;
	case ANSWER_AGAIN:
		boss_error(b);
		return 1;
	case ANSWER_REFUSED:
		snprintf(dead, sizeof(dead), "dead/%s", file);
		if (tell) {
			snprintf(line, sizeof(line),
				 "the boss refused %s of %s attempt %d (HTTP %ld: %.200s): kept in %s/%s",
				 kind, id, attempt, b->status,
				 b->reply.data ? b->reply.data : "", ob->dir, dead);
			tell(line);
		}
		renameat(ob->fd, file, ob->fd, dead);
		return 0;
	}
	unlinkat(ob->fd, file, 0);
	return 0;
}

/* The outbox cannot be listed: r, its reason where the boss's would be. */
static int list_failed(struct outbox *ob, struct boss *b, int r)
{
	snprintf(b->err, sizeof(b->err), "cannot list the outbox %s: %s", ob->dir, strerror(-r));
	return r;
}

int outbox_flush(struct outbox *ob, struct boss *b, int *left,
		 void (*tell)(const char *line))
{
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	*left = 1;	/* not listed yet: maybe some (never "all delivered") */
	if ((fd = openat(ob->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return list_failed(ob, b, -errno);
	if (!(d = fdopendir(fd))) {
		r = -errno;
		close(fd);
		return list_failed(ob, b, r);
	}
	if (!(names = calloc(FLUSH_MAX, sizeof(*names)))) {
		closedir(d);
		return list_failed(ob, b, -ENOMEM);
	}
	for (errno = 0; (e = readdir(d)) && n < FLUSH_MAX; errno = 0) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "tmp") ||
		    !strcmp(e->d_name, "dead"))
			continue;
		if (!(names[n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (!r && !e && errno)
		r = list_failed(ob, b, -errno);	/* cut short (ESTALE): not the outbox */
	closedir(d);
	if (r)
		*left = n ? (int)n : 1;	/* not listed whole: maybe some */
	else
		*left = n == FLUSH_MAX;	/* maybe more: the next flush sees them */
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !r; i++) {
		int k = held(ob, names[i]) ? 0 : deliver(ob, b, names[i], tell);

		if (k < 0)
			r = k;
		else if (k > 0)
			r = -EAGAIN;
		if (r)
			*left = (int)(n - i);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int outbox_send(struct outbox *ob, struct boss *b, const char *id, int attempt,
		const char *token, void (*tell)(const char *line))
{
	static const char *const kinds[] = { "log", "complete", "fail" };
	char file[128];
	struct stat st;
	size_t i;
	int r;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(file, sizeof(file), "%s.%d.%s.%s", id, attempt, token, kinds[i]);
		if (fstatat(ob->fd, file, &st, 0) < 0)
			continue;
		if ((r = deliver(ob, b, file, tell)) != 0)
			return r;
	}
	return 0;
}

/* ---- the outbox thread ------------------------------------------------------- */

void outbox_kick(struct outbox *ob)
{
	pthread_mutex_lock(&ob->mu);
	ob->kick = 1;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
}

struct thread_arg {
	struct outbox *ob;
	void (*tell)(const char *line);
};

static void *outbox_main(void *arg)
{
	struct thread_arg ta = *(struct thread_arg *)arg;
	struct outbox *ob = ta.ob;
	int64_t wait_ms = 0, bo = 0;
	unsigned seed = (unsigned)(getpid() ^ now_ms());
	int down = 0, r, left = 0;
	char line[512];

	free(arg);
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
		while (down || (!ob->quit && !ob->kick))
			if (pthread_cond_timedwait(&ob->cv, &ob->mu, &ts) == ETIMEDOUT)
				break;
		ob->kick = 0;
		quit = ob->quit;
		pthread_mutex_unlock(&ob->mu);

		r = outbox_flush(ob, &ob->b, &left, ta.tell);
		if (r < 0) {
			bo = bo ? bo * 2 : 250;
			if (bo > 8000)
				bo = 8000;
			wait_ms = bo / 2 + rand_r(&seed) % (unsigned)(bo / 2 + 1);
			if (!down++) {
				snprintf(line, sizeof(line),
					 "the boss did not take an outcome (%.300s): %d kept in %s, retrying",
					 ob->b.err[0] ? ob->b.err : "busy", left, ob->dir);
				ta.tell(line);
			}
		} else {
			if (down)
				ta.tell("the boss is back; outbox delivered");
			down = 0;
			bo = 0;
			wait_ms = 0;
		}
		if (quit && (left == 0 || mono_ms() >= ob->quit_by))
			break;
	}
	ob->left = left;
	return NULL;
}

int outbox_start(struct outbox *ob, const char *url, const char *bearer,
		 struct boss_health *health, void (*tell)(const char *line))
{
	struct thread_arg *ta = malloc(sizeof(*ta));
	int r;

	if (!ta)
		return -ENOMEM;
	ta->ob = ob;
	ta->tell = tell;
	if ((r = boss_init(&ob->b, url, bearer, NULL, health)) < 0) {
		free(ta);
		return r;
	}
	if ((r = pthread_create(&ob->thread, NULL, outbox_main, ta)) != 0) {
		boss_release(&ob->b);
		free(ta);
		return -r;
	}
	return 0;
}

int outbox_stop(struct outbox *ob, int64_t quit_by)
{
	pthread_mutex_lock(&ob->mu);
	ob->quit = 1;
	ob->quit_by = quit_by;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	pthread_join(ob->thread, NULL);
	boss_release(&ob->b);
	return ob->left;
}
