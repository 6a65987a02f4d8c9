/*
 * bench-gen: the load generator of `make bench`.
 *
 * One process, one thread, one epoll loop, many keep-alive connections. It
 * speaks two protocols with the same jobs and the same accounting, so that
 * spool and beanstalkd are measured by the same code in the same run:
 *
 *	http       spoold's /v1 API: POST /v1/jobs, POST /v1/claim,
 *	           POST /v1/orders/ID/complete (HTTP/1.1, Content-Length only)
 *	beanstalk  beanstalkd's text protocol: put, reserve-with-timeout, delete
 *	redis      RESP, Redis's reliable-queue pattern: LPUSH q JOB, then
 *	           BLMOVE q wN RIGHT LEFT (each consumer's own processing list),
 *	           then LREM wN 1 JOB (https://redis.io/commands/lmove/,
 *	           "Pattern: Reliable queue"); every one a write to the AOF
 *
 * Every job is a ~600-byte hyper-parameter document carrying this run's
 * nonce and a sequence number. The generator remembers which sequence
 * numbers were acknowledged and how many times each came back from a claim;
 * at the end a job acknowledged but never claimed is a loss, a job claimed
 * twice a duplicate, a job of another run or a malformed answer an error.
 * Any of them makes the exit status 1, which is what tests/t-bench-gen.sh
 * checks. The last line of stdout is the result as key=value pairs.
 *
 * Modes:
 *	lifecycle  submit N with P connections (timed), then drain with W
 *	           consumers, claim + complete until the queue is empty (timed)
 *	mixed      producers and consumers at once, until N are completed
 *	latency    P paced producers at --rate submits/s, W consumers long-poll;
 *	           submit-to-claim latency percentiles
 *	claim      W consumers claim + complete --count orders already queued
 *	           (or until the queue is empty); no accounting of jobs
 *	idle       open --conns connections that each wait in a long-poll, then
 *	           report the server's resident memory (--pid)
 *	first      retry a claim until one succeeds; the time since --t0 (ns of
 *	           CLOCK_REALTIME) is the server's start-to-serving time
 *
 * Every loop is bounded: --timeout seconds for the whole run (exit 2). With
 * --budget S, lifecycle and mixed stop submitting after S seconds (and
 * draining after S more): rates are over what was done, "cut=1" says so, and
 * jobs still queued then are not counted as lost.
 * Loopback only: the address must be 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define RBUF_MAX   (256 << 10)	/* one answer; more is an error */
#define WBUF_MAX   4096		/* one request */
#define CONNS_MAX  20000
#define EVENTS     256
#define CONNECTS_IN_FLIGHT 256	/* idle mode: connects not yet answered */

enum proto { P_HTTP, P_BEANSTALK, P_REDIS };
enum mode { M_LIFECYCLE, M_MIXED, M_LATENCY, M_CLAIM, M_IDLE, M_FIRST };
enum role { R_PRODUCER, R_CONSUMER, R_IDLE };
enum op { OP_NONE, OP_SUBMIT, OP_CLAIM, OP_COMPLETE };

struct conn {
	int fd;
	int role;
	int op;			/* the request in flight, OP_NONE if none */
	int connected;
	int done;		/* this consumer found the queue empty */
	char wbuf[WBUF_MAX];
	size_t wlen, woff;
	char *rbuf;
	size_t rlen;
	long seq;		/* job of the submit in flight */
	int64_t t_sent;		/* ns, when the request was written */
	char id[64];		/* claim: what to complete */
	char token[40];
	char job[1536];		/* redis: the claimed job, which LREM names */
	size_t joblen;
	long claimed_seq;
};

struct gen {
	enum proto proto;
	enum mode mode;
	struct sockaddr_in addr;
	int ep;
	long n;			/* jobs */
	int producers, consumers;
	int wait_s;		/* long-poll of a consumer */
	double rate;		/* latency mode: submits/s */
	long count;		/* claim mode: claims to make (0: until empty) */
	int nconns_idle;
	int pid;		/* server, for /proc/PID/status */
	int64_t t0;		/* first mode */
	int timeout_s;
	int budget_s;		/* a phase stops after this long (0: when done) */
	int64_t submit_end;	/* ns: producers stop here (0: never) */
	int64_t drain_end;	/* ns: consumers stop here (0: never) */
	int stop_submit;	/* producers were stopped by the budget */
	int cut;		/* some phase was cut short by the budget */
	int verbose;
	char nonce[17];
	char worker[32];

	struct conn *c;
	int nc;

	/* accounting */
	long next_seq;		/* next job to submit */
	long acked, claimed, completed, empty_answers;
	long lost, dup, foreign, errors;
	unsigned char *acked_map, *got_map;
	int64_t *t_submit;	/* latency: ns when job seq was sent */
	int64_t *t_got;		/* latency: ns when its claim arrived */
	int64_t *lat;		/* latency samples, ns */
	long nlat;
	int64_t deadline;	/* ns: give up */
	int64_t next_send;	/* latency: ns of the next paced submit */
	long late_sends;	/* latency: submits sent behind schedule */
	char lasterr[256];
};

static int submit_done(struct gen *g);

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void note_error(struct gen *g, const char *fmt, ...)
{
	va_list ap;

	g->errors++;
	va_start(ap, fmt);
	vsnprintf(g->lasterr, sizeof(g->lasterr), fmt, ap);
	va_end(ap);
	if (g->verbose || g->errors <= 3)
		fprintf(stderr, "bench-gen: %s\n", g->lasterr);
}

/* ---- tiny JSON readers: find "key" : value in the answers we expect ---------- */

static const char *json_after(const char *s, size_t len, const char *key)
{
	size_t kl = strlen(key);
	const char *e = s + len, *p = s;

	while (p < e) {
		const char *q = memchr(p, '"', (size_t)(e - p));

		if (!q || (size_t)(e - q) < kl + 2)
			return NULL;
		if (memcmp(q + 1, key, kl) == 0 && q[kl + 1] == '"') {
			const char *v = q + kl + 2;

			while (v < e && (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t'))
				v++;
			if (v < e && *v == ':') {
				v++;
				while (v < e && (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t'))
					v++;
				return v;
			}
		}
		p = q + 1;
	}
	return NULL;
}

static int json_str(const char *s, size_t len, const char *key, char *out, size_t cap)
{
	const char *v = json_after(s, len, key), *e = s + len;
	size_t n = 0;

	if (!v || v >= e || *v != '"')
		return -1;
	for (v++; v < e && *v != '"'; v++) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = *v;
	}
	out[n] = '\0';
	return v < e ? 0 : -1;
}

static long json_long(const char *s, size_t len, const char *key)
{
	const char *v = json_after(s, len, key), *e = s + len;
	long x = 0;
	int digits = 0;

	if (!v)
		return -1;
	for (; v < e && *v >= '0' && *v <= '9'; v++, digits++)
		x = x * 10 + (*v - '0');
	return digits ? x : -1;
}

/* ---- accounting ---------------------------------------------------------------- */

/* A job body came back from a claim: check and count it. */
static void got_job(struct gen *g, const char *body, size_t len, int64_t now)
{
	const char *b = json_after(body, len, "bench");
	char run[32];
	long seq;

	if (!b) {
		g->foreign++;
		return;
	}
	len -= (size_t)(b - body);
	if (json_str(b, len, "run", run, sizeof(run)) < 0 || strcmp(run, g->nonce) != 0 ||
	    (seq = json_long(b, len, "seq")) < 0 || seq >= g->n) {
		g->foreign++;
		return;
	}
	if (g->got_map[seq] < 255)
		g->got_map[seq]++;
	if (g->got_map[seq] > 1)
		g->dup++;
	if (g->lat && g->t_submit[seq] && g->got_map[seq] == 1) {
		g->lat[g->nlat++] = now - g->t_submit[seq];
		if (g->t_got)
			g->t_got[seq] = now;
	}
}

/* BENCH_LAT_DUMP=FILE: each sample as "ms-since-first-submit latency-ms", in
 * the order the claims arrived, to see when a tail happens. */
static void lat_dump(const struct gen *g, const char *path)
{
	FILE *f = fopen(path, "w");
	int64_t first = 0;
	long i;

	if (!f)
		return;
	for (i = 0; i < g->n; i++)
		if (g->t_submit[i] && (!first || g->t_submit[i] < first))
			first = g->t_submit[i];
	for (i = 0; i < g->n; i++)
		if (g->t_submit[i] && g->t_got[i])
			fprintf(f, "%.3f %.3f\n", (g->t_submit[i] - first) / 1e6,
				(g->t_got[i] - g->t_submit[i]) / 1e6);
	fclose(f);
}

/* ---- requests -------------------------------------------------------------------- */

static void req_submit(struct gen *g, struct conn *c, long seq)
{
	char job[1536];
	int jl = bench_job(job, sizeof(job), "nn.py", g->nonce, seq);
	int n;

	if (g->proto == P_HTTP)
		n = snprintf(c->wbuf, sizeof(c->wbuf),
			     "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			     jl, job);
	else if (g->proto == P_REDIS)
		n = snprintf(c->wbuf, sizeof(c->wbuf), "*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$%d\r\n%s\r\n", jl, job);
	else
		n = snprintf(c->wbuf, sizeof(c->wbuf), "put 1024 0 300 %d\r\n%s\r\n", jl, job);
	c->wlen = (size_t)n;
	c->woff = 0;
	c->op = OP_SUBMIT;
	c->seq = seq;
}

static void req_claim(struct gen *g, struct conn *c, int wait_s, int idx)
{
	int n;

	if (g->proto == P_HTTP)
		n = snprintf(c->wbuf, sizeof(c->wbuf),
			     "POST /v1/claim?worker=%s-%d&wait=%d HTTP/1.1\r\n"
			     "Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
			     g->worker, idx, wait_s);
	else if (g->proto == P_REDIS) {
		char w[16], t[16];
		int wl = snprintf(w, sizeof(w), "w%d", idx);
		int tl = snprintf(t, sizeof(t), "%d", wait_s);

		/* BLMOVE's timeout 0 blocks for ever: a claim that must not wait
		 * is LMOVE */
		if (wait_s > 0)
			n = snprintf(c->wbuf, sizeof(c->wbuf),
				     "*6\r\n$6\r\nBLMOVE\r\n$1\r\nq\r\n$%d\r\n%s\r\n$5\r\nRIGHT\r\n$4\r\nLEFT\r\n$%d\r\n%s\r\n",
				     wl, w, tl, t);
		else
			n = snprintf(c->wbuf, sizeof(c->wbuf),
				     "*5\r\n$5\r\nLMOVE\r\n$1\r\nq\r\n$%d\r\n%s\r\n$5\r\nRIGHT\r\n$4\r\nLEFT\r\n",
				     wl, w);
		snprintf(c->id, sizeof(c->id), "%s", w);
	} else
		n = snprintf(c->wbuf, sizeof(c->wbuf), "reserve-with-timeout %d\r\n", wait_s);
	c->wlen = (size_t)n;
	c->woff = 0;
	c->op = OP_CLAIM;
}

static void req_complete(struct gen *g, struct conn *c)
{
	char out[256];
	int n, ol;

	if (g->proto == P_HTTP) {
		ol = snprintf(out, sizeof(out),
			      "{\"status\":200,\"jobId\":\"%s\",\"loss\":0.4123,\"metric\":0.5107,"
			      "\"epochs\":100,\"seconds\":0.81}", c->id);
		n = snprintf(c->wbuf, sizeof(c->wbuf),
			     "POST /v1/orders/%s/complete?token=%s HTTP/1.1\r\n"
			     "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
			     "Content-Length: %d\r\n\r\n%s", c->id, c->token, ol, out);
	} else if (g->proto == P_REDIS) {
		n = snprintf(c->wbuf, sizeof(c->wbuf),
			     "*4\r\n$4\r\nLREM\r\n$%zu\r\n%s\r\n$1\r\n1\r\n$%zu\r\n",
			     strlen(c->id), c->id, c->joblen);
		if (n > 0 && (size_t)n + c->joblen + 2 < sizeof(c->wbuf)) {
			memcpy(c->wbuf + n, c->job, c->joblen);
			memcpy(c->wbuf + n + c->joblen, "\r\n", 2);
			n += (int)c->joblen + 2;
		}
	} else {
		n = snprintf(c->wbuf, sizeof(c->wbuf), "delete %s\r\n", c->id);
	}
	c->wlen = (size_t)n;
	c->woff = 0;
	c->op = OP_COMPLETE;
}

/* ---- answers ----------------------------------------------------------------------- */

struct answer {
	int status;		/* http status; beanstalk: 200 ok, 204 timed out, 0 other */
	const char *body;
	size_t blen;
	size_t total;		/* bytes of rbuf this answer takes */
	char word[32];		/* beanstalk: first word */
	char arg[32];		/* beanstalk: the id */
};

/* 1 complete (a filled), 0 partial, -1 malformed. */
static int parse_http(const char *s, size_t len, struct answer *a)
{
	const char *end = NULL, *p;
	size_t i, hl;
	long cl = -1;

	for (i = 3; i < len; i++)
		if (s[i] == '\n' && s[i - 1] == '\r' && s[i - 2] == '\n' && s[i - 3] == '\r') {
			end = s + i + 1;
			break;
		}
	if (!end)
		return len > 16384 ? -1 : 0;
	hl = (size_t)(end - s);
	if (hl < 12 || memcmp(s, "HTTP/1.", 7) != 0)
		return -1;
	a->status = atoi(s + 9);
	for (p = s; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		if ((size_t)(nl - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
			cl = atol(p + 15);
		if ((size_t)(nl - p) > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
			return -1;	/* not spoken here */
		p = nl + 1;
	}
	if (cl < 0)
		cl = 0;
	if (hl + (size_t)cl > RBUF_MAX)
		return -1;
	if (len < hl + (size_t)cl)
		return 0;
	a->body = end;
	a->blen = (size_t)cl;
	a->total = hl + (size_t)cl;
	return 1;
}

/* The length of the first line of s with its CRLF, or 0 if it is not whole. */
static size_t line_len(const char *s, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++)
		if (s[i] == '\n' && s[i - 1] == '\r')
			return i + 1;
	return 0;
}

static int parse_beanstalk(const char *s, size_t len, struct answer *a)
{
	const char *nl;
	size_t ll;
	long bytes;

	if (!(ll = line_len(s, len)))
		return len > 256 ? -1 : 0;
	nl = s + ll;
	a->word[0] = a->arg[0] = '\0';
	bytes = -1;
	{
		char line[256];

		if (ll >= sizeof(line))
			return -1;
		memcpy(line, s, ll - 2);
		line[ll - 2] = '\0';
		if (sscanf(line, "%31s %31s %ld", a->word, a->arg, &bytes) < 1)
			return -1;
	}
	a->body = NULL;
	a->blen = 0;
	a->total = ll;
	a->status = 0;
	if (strcmp(a->word, "RESERVED") == 0) {
		if (bytes < 0 || ll + (size_t)bytes + 2 > RBUF_MAX)
			return -1;
		if (len < ll + (size_t)bytes + 2)
			return 0;
		a->body = nl;
		a->blen = (size_t)bytes;
		a->total = ll + (size_t)bytes + 2;
		a->status = 200;
	} else if (strcmp(a->word, "INSERTED") == 0 || strcmp(a->word, "DELETED") == 0) {
		a->status = 200;
	} else if (strcmp(a->word, "TIMED_OUT") == 0) {
		a->status = 204;
	} else if (strcmp(a->word, "DEADLINE_SOON") == 0) {
		a->status = 100;	/* ask again */
	}
	return 1;
}

/* One RESP reply: an integer (200; LREM's 0 is 404), a bulk string (200,
 * the body), a nil (204: the queue is empty), an error (0). */
static int parse_redis(const char *s, size_t len, struct answer *a)
{
	const char *nl;
	size_t ll;
	long v;

	if (!(ll = line_len(s, len)))
		return len > 256 ? -1 : 0;
	nl = s + ll;
	a->body = NULL;
	a->blen = 0;
	a->total = ll;
	a->word[0] = '\0';
	v = strtol(s + 1, NULL, 10);
	switch (s[0]) {
	case ':':
		a->status = v > 0 ? 200 : 404;
		return 1;
	case '*':
		if (v >= 0)
			return -1;	/* no command here answers an array */
		a->status = 204;
		return 1;
	case '$':
		if (v < 0) {
			a->status = 204;
			return 1;
		}
		if (ll + (size_t)v + 2 > RBUF_MAX)
			return -1;
		if (len < ll + (size_t)v + 2)
			return 0;
		a->body = nl;
		a->blen = (size_t)v;
		a->total = ll + (size_t)v + 2;
		a->status = 200;
		return 1;
	case '-':
	case '+':
		snprintf(a->word, sizeof(a->word), "%.*s", (int)(ll - 2 < 31 ? ll - 2 : 31), s);
		a->status = 0;
		return 1;
	}
	return -1;
}

/* ---- connections -------------------------------------------------------------------- */

static void ep_set(struct gen *g, struct conn *c, int add)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (c->woff < c->wlen || !c->connected ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(g->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static int conn_open(struct gen *g, struct conn *c, int role)
{
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->role = role;
	c->claimed_seq = -1;
	if (connect(fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		c->fd = -1;
		return -e;
	}
	if (!(c->rbuf = malloc(role == R_IDLE ? 4096 : RBUF_MAX)))
		die("out of memory");
	ep_set(g, c, 1);
	return 0;
}

static void conn_close(struct gen *g, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
}

/* Write what is pending; 0 or -1 (connection lost). */
static int conn_flush(struct gen *g, struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0)
			return -1;
		c->woff += (size_t)w;
	}
	ep_set(g, c, 0);
	return 0;
}

static void conn_send(struct gen *g, struct conn *c)
{
	c->t_sent = now_ns();
	if (g->t_submit && c->op == OP_SUBMIT)
		g->t_submit[c->seq] = c->t_sent;
	if (c->connected && conn_flush(g, c) < 0)
		die("connection lost while sending: %s", strerror(errno));
}

/* ---- the roles ---------------------------------------------------------------------- */

static int all_submitted(const struct gen *g)
{
	return g->next_seq >= g->n || g->stop_submit;
}

/* A producer with nothing in flight takes the next job, if it is time. */
static void producer_next(struct gen *g, struct conn *c, int64_t now)
{
	if (c->op != OP_NONE || all_submitted(g) || !c->connected)
		return;
	if (g->submit_end && now >= g->submit_end) {
		g->stop_submit = g->cut = 1;
		return;
	}
	if (g->mode == M_LATENCY) {
		if (now < g->next_send)
			return;
		if (now - g->next_send > 2000000)
			g->late_sends++;
		g->next_send += (int64_t)(1e9 / g->rate);
	}
	req_submit(g, c, g->next_seq++);
	conn_send(g, c);
}

static void consumer_next(struct gen *g, struct conn *c, int idx)
{
	int wait = g->wait_s;

	if (c->op != OP_NONE || c->done || !c->connected)
		return;
	if (g->drain_end && now_ns() >= g->drain_end) {
		c->done = g->cut = 1;
		return;
	}
	if (g->mode == M_CLAIM && g->count && g->claimed >= g->count) {
		c->done = 1;
		return;
	}
	if ((g->mode == M_MIXED || g->mode == M_LATENCY) && submit_done(g) &&
	    g->completed >= g->acked) {
		c->done = 1;
		return;
	}
	req_claim(g, c, wait, idx);
	conn_send(g, c);
}

/* One whole answer a arrived on c. */
static void on_answer(struct gen *g, struct conn *c, const struct answer *a, int idx,
		      int64_t now)
{
	int op = c->op;

	c->op = OP_NONE;
	if (op == OP_SUBMIT) {
		if ((g->proto == P_HTTP && a->status == 201) ||
		    (g->proto != P_HTTP && a->status == 200)) {
			if (!g->acked_map[c->seq]++)
				g->acked++;
		} else {
			note_error(g, "submit of job %ld: answer %d %.80s", c->seq, a->status,
				   g->proto == P_HTTP ? (a->body ? a->body : "") : a->word);
		}
		return;
	}
	if (op == OP_CLAIM) {
		if (a->status == 204) {
			g->empty_answers++;
			if (g->mode == M_LIFECYCLE || g->mode == M_CLAIM)
				c->done = 1;
			return;
		}
		if (a->status == 100)
			return;		/* beanstalk DEADLINE_SOON: ask again */
		if (a->status != 200) {
			note_error(g, "claim: answer %d %.120s", a->status,
				   g->proto == P_HTTP ? (a->body ? a->body : "") : a->word);
			c->done = 1;
			return;
		}
		g->claimed++;
		if (g->proto == P_HTTP) {
			if (json_str(a->body, a->blen, "_id", c->id, sizeof(c->id)) < 0 ||
			    json_str(a->body, a->blen, "token", c->token, sizeof(c->token)) < 0) {
				note_error(g, "claim answer without _id or token: %.120s", a->body);
				c->done = 1;
				return;
			}
			if (g->mode != M_CLAIM) {
				const char *j = json_after(a->body, a->blen, "job");

				if (!j) {
					note_error(g, "claim answer without job");
					return;
				}
				got_job(g, j, a->blen - (size_t)(j - a->body), now);
			}
		} else if (g->proto == P_REDIS) {
			if (a->blen >= sizeof(c->job)) {
				note_error(g, "claimed job of %zu bytes", a->blen);
				c->done = 1;
				return;
			}
			memcpy(c->job, a->body, a->blen);
			c->joblen = a->blen;
			if (g->mode != M_CLAIM)
				got_job(g, a->body, a->blen, now);
		} else {
			snprintf(c->id, sizeof(c->id), "%s", a->arg);
			if (g->mode != M_CLAIM)
				got_job(g, a->body, a->blen, now);
		}
		req_complete(g, c);
		conn_send(g, c);
		return;
	}
	if (op == OP_COMPLETE) {
		if (a->status != 200) {
			note_error(g, "complete of %s: answer %d %.120s", c->id, a->status,
				   g->proto == P_HTTP ? (a->body ? a->body : "") : a->word);
			return;
		}
		g->completed++;
		return;
	}
	note_error(g, "answer with no request on connection %d", idx);
}

/* Read and handle every whole answer on c. -1: the connection is gone. */
static int conn_read(struct gen *g, struct conn *c, int idx)
{
	size_t cap = c->role == R_IDLE ? 4096 : RBUF_MAX;

	for (;;) {
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, cap - c->rlen, 0);
		size_t off = 0;
		int64_t now;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0)
			return -1;
		c->rlen += (size_t)r;
		now = now_ns();
		for (;;) {
			struct answer a;
			int k;

			memset(&a, 0, sizeof(a));
			k = g->proto == P_HTTP ? parse_http(c->rbuf + off, c->rlen - off, &a)
			    : g->proto == P_REDIS ? parse_redis(c->rbuf + off, c->rlen - off, &a)
					       : parse_beanstalk(c->rbuf + off, c->rlen - off, &a);
			if (k < 0) {
				note_error(g, "malformed answer on connection %d", idx);
				return -1;
			}
			if (k == 0)
				break;
			off += a.total;
			if (c->role == R_IDLE) {
				/* an idle long-poll must not be answered */
				note_error(g, "idle connection %d was answered (%d %s)", idx, a.status, a.word);
				continue;
			}
			on_answer(g, c, &a, idx, now);
		}
		if (off) {
			memmove(c->rbuf, c->rbuf + off, c->rlen - off);
			c->rlen -= off;
		}
		if (c->rlen == cap)
			return -1;
	}
}

static void on_connected(struct gen *g, struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err)
		die("cannot connect to 127.0.0.1:%d: %s", ntohs(g->addr.sin_port),
		    strerror(err ? err : errno));
	c->connected = 1;
	if (c->wlen)
		conn_flush(g, c);
	else
		ep_set(g, c, 0);
}

/* One round of the loop: wait at most ms, handle what came. */
static void loop_once(struct gen *g, int ms)
{
	struct epoll_event ev[EVENTS];
	int n, i;

	n = epoll_wait(g->ep, ev, EVENTS, ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;
		int idx = (int)(c - g->c);

		if (c->fd < 0)
			continue;
		if (!c->connected && (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			on_connected(g, c);
			continue;
		}
		if (ev[i].events & EPOLLOUT)
			if (conn_flush(g, c) < 0)
				die("connection %d lost while sending", idx);
		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			if (conn_read(g, c, idx) < 0) {
				if (c->role == R_IDLE)
					note_error(g, "idle connection %d closed by the server", idx);
				else if (!c->done)
					die("connection %d closed by the server (%s)", idx,
					    g->lasterr[0] ? g->lasterr : "no answer");
				conn_close(g, c);
			}
	}
}

static void check_deadline(struct gen *g, const char *what)
{
	if (now_ns() > g->deadline)
		die("%s: gave up after %d s (submitted %ld, acked %ld, claimed %ld, completed %ld)",
		    what, g->timeout_s, g->next_seq, g->acked, g->claimed, g->completed);
}

/* ---- phases ------------------------------------------------------------------------ */

static void open_conns(struct gen *g, int producers, int consumers)
{
	int i;

	g->nc = producers + consumers;
	for (i = 0; i < g->nc; i++) {
		int r = conn_open(g, &g->c[i], i < producers ? R_PRODUCER : R_CONSUMER);

		if (r < 0)
			die("cannot connect: %s", strerror(-r));
	}
	/* wait until all are connected */
	for (;;) {
		int k = 0;

		for (i = 0; i < g->nc; i++)
			k += g->c[i].connected;
		if (k == g->nc)
			break;
		loop_once(g, 100);
		check_deadline(g, "connect");
	}
}

/*
 * Run the roles until done() says so. Producers submit until every job is
 * submitted and answered; consumers claim and complete.
 */
static void run_until(struct gen *g, int (*done)(struct gen *), const char *what)
{
	while (!done(g)) {
		int64_t now = now_ns();
		int i, ms = 100;

		for (i = 0; i < g->nc; i++) {
			struct conn *c = &g->c[i];

			if (c->fd < 0)
				continue;
			if (c->role == R_PRODUCER)
				producer_next(g, c, now);
			else if (c->role == R_CONSUMER)
				consumer_next(g, c, i);
		}
		if (g->mode == M_LATENCY && !all_submitted(g)) {
			int64_t d = g->next_send - now_ns();

			ms = d <= 0 ? 0 : (int)((d + 999999) / 1000000);
			if (ms > 100)
				ms = 100;
		}
		if (done(g))
			break;
		loop_once(g, ms);
		check_deadline(g, what);
	}
}

static int producers_idle(const struct gen *g)
{
	int i;

	for (i = 0; i < g->nc; i++)
		if (g->c[i].role == R_PRODUCER && g->c[i].op != OP_NONE)
			return 0;
	return 1;
}

static int consumers_idle(const struct gen *g)
{
	int i;

	for (i = 0; i < g->nc; i++)
		if (g->c[i].role == R_CONSUMER && g->c[i].fd >= 0 &&
		    !(g->c[i].done && g->c[i].op == OP_NONE))
			return 0;
	return 1;
}

static int submit_done(struct gen *g)
{
	return all_submitted(g) && producers_idle(g);
}

static int drain_done(struct gen *g)
{
	return consumers_idle(g);
}

/* Every acknowledged job completed (or something went wrong: stop). */
static int mixed_done(struct gen *g)
{
	return submit_done(g) && (g->completed >= g->acked || g->errors > 0 ||
				  consumers_idle(g));
}

static void verify(struct gen *g)
{
	long i;

	if (g->cut && g->completed < g->acked)
		return;		/* stopped early: what is still queued is not lost */
	for (i = 0; i < g->n; i++) {
		if (i < g->next_seq && !g->acked_map[i])
			g->errors++;	/* answered with an error: counted already */
		if (g->acked_map[i] && !g->got_map[i])
			g->lost++;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, long n, double p)
{
	long k;

	if (n == 0)
		return -1;
	k = (long)(p * (double)(n - 1) + 0.5);
	return (double)v[k] / 1e6;
}

static long rss_kb(int pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static long nofile_limit(int pid)
{
	char path[64], line[256];
	FILE *f;
	long lim = -1;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			lim = atol(line + 14);
	fclose(f);
	return lim;
}

/* ---- modes ------------------------------------------------------------------------- */

static void alloc_maps(struct gen *g)
{
	if (!(g->acked_map = calloc((size_t)g->n, 1)) || !(g->got_map = calloc((size_t)g->n, 1)))
		die("out of memory");
}

static const char *proto_name(const struct gen *g)
{
	return g->proto == P_HTTP ? "http" : g->proto == P_REDIS ? "redis" : "beanstalk";
}

static int finish(struct gen *g)
{
	int bad = g->lost || g->dup || g->foreign || g->errors;

	printf(" n=%ld cut=%d acked=%ld claimed=%ld completed=%ld lost=%ld dup=%ld foreign=%ld errors=%ld%s\n",
	       g->n, g->cut, g->acked, g->claimed, g->completed, g->lost, g->dup, g->foreign, g->errors,
	       bad ? " FAIL" : "");
	return bad ? 1 : 0;
}

static int mode_lifecycle(struct gen *g)
{
	int64_t t0, t1, t2;

	alloc_maps(g);
	open_conns(g, g->producers, g->consumers);
	/* consumers sit out the submit phase */
	{
		int i;

		for (i = g->producers; i < g->nc; i++)
			g->c[i].done = 1;
	}
	t0 = now_ns();
	if (g->budget_s)
		g->submit_end = t0 + (int64_t)g->budget_s * 1000000000;
	run_until(g, submit_done, "submit");
	t1 = now_ns();
	if (g->budget_s)
		g->drain_end = t1 + (int64_t)g->budget_s * 1000000000;
	{
		int i;

		for (i = g->producers; i < g->nc; i++)
			g->c[i].done = 0;
	}
	run_until(g, drain_done, "drain");
	t2 = now_ns();
	verify(g);
	printf("proto=%s mode=lifecycle P=%d W=%d submit_s=%.3f submit_rate=%.0f drain_s=%.3f drain_rate=%.0f",
	       proto_name(g), g->producers, g->consumers, (t1 - t0) / 1e9,
	       (double)g->acked / ((t1 - t0) / 1e9), (t2 - t1) / 1e9,
	       (double)g->completed / ((t2 - t1) / 1e9));
	return finish(g);
}

static int mode_mixed(struct gen *g)
{
	int64_t t0, t1;
	int i;

	alloc_maps(g);
	if (g->mode == M_LATENCY) {
		if (!(g->t_submit = calloc((size_t)g->n, sizeof(*g->t_submit))) ||
		    !(g->t_got = calloc((size_t)g->n, sizeof(*g->t_got))) ||
		    !(g->lat = calloc((size_t)g->n, sizeof(*g->lat))))
			die("out of memory");
	}
	open_conns(g, g->producers, g->consumers);
	if (g->mode == M_LATENCY) {
		/* workers are waiting in their long-polls before the first submit */
		for (i = 0; i < g->nc; i++)
			if (g->c[i].role == R_CONSUMER)
				consumer_next(g, &g->c[i], i);
		for (i = 0; i < 20; i++)
			loop_once(g, 10);
	}
	t0 = now_ns();
	g->next_send = t0;
	if (g->budget_s && g->mode == M_MIXED) {
		g->submit_end = t0 + (int64_t)g->budget_s * 1000000000;
		g->drain_end = t0 + (int64_t)g->budget_s * 2000000000;
	}
	run_until(g, mixed_done, g->mode == M_LATENCY ? "latency" : "mixed");
	t1 = now_ns();
	verify(g);
	if (g->mode == M_MIXED) {
		printf("proto=%s mode=mixed P=%d W=%d mixed_s=%.3f mixed_rate=%.0f",
		       proto_name(g), g->producers, g->consumers, (t1 - t0) / 1e9,
		       (double)g->completed / ((t1 - t0) / 1e9));
	} else {
		if (getenv("BENCH_LAT_DUMP"))
			lat_dump(g, getenv("BENCH_LAT_DUMP"));
		qsort(g->lat, (size_t)g->nlat, sizeof(*g->lat), cmp_i64);
		printf("proto=%s mode=latency P=%d W=%d rate=%.0f achieved=%.0f late_sends=%ld samples=%ld "
		       "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f",
		       proto_name(g), g->producers, g->consumers, g->rate,
		       (double)g->acked / ((t1 - t0) / 1e9), g->late_sends, g->nlat,
		       pct(g->lat, g->nlat, 0.5), pct(g->lat, g->nlat, 0.9),
		       pct(g->lat, g->nlat, 0.99), pct(g->lat, g->nlat, 1.0));
	}
	/* close connections still in a long-poll */
	for (i = 0; i < g->nc; i++)
		conn_close(g, &g->c[i]);
	return finish(g);
}

static int mode_claim(struct gen *g)
{
	int64_t t0, t1;
	int i;

	g->n = 1;
	alloc_maps(g);
	open_conns(g, 0, g->consumers);
	t0 = now_ns();
	run_until(g, drain_done, "claim");
	t1 = now_ns();
	printf("proto=%s mode=claim W=%d claims=%ld completed=%ld claim_s=%.3f claim_rate=%.0f errors=%ld\n",
	       proto_name(g), g->consumers, g->claimed, g->completed, (t1 - t0) / 1e9,
	       (double)g->completed / ((t1 - t0) / 1e9), g->errors);
	for (i = 0; i < g->nc; i++)
		conn_close(g, &g->c[i]);
	return g->errors ? 1 : 0;
}

/* Open many connections, each waiting in a long-poll on an empty queue. */
static int mode_idle(struct gen *g)
{
	struct rlimit rl;
	long base = g->pid ? rss_kb(g->pid) : -1, rss = -1, prev = -1;
	int i, opened = 0, sent = 0, stable = 0;
	int64_t t0 = now_ns();

	/* one fd per connection, and some to spare */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)g->nconns_idle + 64) {
		rl.rlim_cur = (rlim_t)g->nconns_idle + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("cannot raise the open-file limit to %ld: %s (run as root or raise ulimit -n)",
			    (long)rl.rlim_cur, strerror(errno));
	}
	g->n = 1;
	alloc_maps(g);
	g->nc = g->nconns_idle;
	for (i = 0; i < g->nc; i++)
		g->c[i].fd = -1;
	/* connect in waves so the listen backlog never overflows */
	while (sent < g->nc) {
		int inflight = 0;

		for (i = 0; i < opened; i++)
			if (g->c[i].fd >= 0 && (!g->c[i].connected || g->c[i].woff < g->c[i].wlen))
				inflight++;
		while (opened < g->nc && inflight < CONNECTS_IN_FLIGHT) {
			int r = conn_open(g, &g->c[opened], R_IDLE);

			if (r < 0)
				die("connection %d: %s", opened, strerror(-r));
			req_claim(g, &g->c[opened], 60, opened);
			opened++;
			inflight++;
		}
		loop_once(g, 50);
		for (sent = 0, i = 0; i < opened; i++)
			if (g->c[i].fd >= 0 && g->c[i].connected && g->c[i].woff == g->c[i].wlen)
				sent++;
		check_deadline(g, "idle connect");
		if (g->errors)
			break;
	}
	/* the server has read them all when its memory stops growing */
	for (i = 0; i < 100 && stable < 5; i++) {
		loop_once(g, 100);
		rss = g->pid ? rss_kb(g->pid) : -1;
		stable = rss == prev ? stable + 1 : 0;
		prev = rss;
	}
	for (sent = 0, i = 0; i < g->nc; i++)
		sent += g->c[i].fd >= 0;
	printf("proto=%s mode=idle conns=%d held=%d connect_s=%.3f rss_base_kb=%ld rss_kb=%ld "
	       "rss_per_conn_b=%.0f server_nofile=%ld errors=%ld\n",
	       proto_name(g), g->nc, sent, (now_ns() - t0) / 1e9, base, rss,
	       base >= 0 && rss >= 0 ? (double)(rss - base) * 1024 / g->nc : -1,
	       g->pid ? nofile_limit(g->pid) : -1, g->errors);
	for (i = 0; i < g->nc; i++)
		if (g->c[i].fd >= 0)
			conn_close(g, &g->c[i]);
	return g->errors || sent != g->nc ? 1 : 0;
}

/* Connect (blocking), retrying while refused; the fd, or -1 at the deadline. */
static int connect_retry(struct gen *g, long *tries)
{
	for (;;) {
		int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		(*tries)++;
		if (connect(fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			return fd;
		}
		if (errno != ECONNREFUSED && errno != EINTR)
			die("connect: %s", strerror(errno));
		close(fd);
		check_deadline(g, "first");
		usleep(2000);
	}
}

/* Retry a claim until one succeeds: the server is serving. */
static int mode_first(struct gen *g)
{
	struct conn *c = &g->c[0];
	int64_t t_conn, t;
	long tries = 0;

	g->n = 1;
	alloc_maps(g);
	g->mode = M_CLAIM;
	memset(c, 0, sizeof(*c));
	c->fd = connect_retry(g, &tries);
	t_conn = real_ns();
	c->role = R_CONSUMER;
	c->connected = 1;
	if (!(c->rbuf = malloc(RBUF_MAX)))
		die("out of memory");
	ep_set(g, c, 1);
	while (g->claimed == 0) {
		c->done = 0;
		req_claim(g, c, 0, 0);
		conn_send(g, c);
		while (c->fd >= 0 && c->op != OP_NONE) {
			loop_once(g, 100);
			check_deadline(g, "first");
		}
		if (c->fd < 0)
			die("the server closed the connection (%s)", g->lasterr);
		if (g->claimed == 0)
			usleep(2000);
		tries++;
		check_deadline(g, "first");
	}
	t = real_ns();
	printf("proto=%s mode=first tries=%ld connect_ms=%.1f serving_ms=%.1f\n",
	       proto_name(g), tries, (t_conn - g->t0) / 1e6, (t - g->t0) / 1e6);
	conn_close(g, c);
	return 0;
}

static void usage(void)
{
	fputs("usage: bench-gen MODE [options]\n"
	      "  MODE: lifecycle | mixed | latency | claim | idle | first\n"
	      "  --proto http|beanstalk|redis   (http)\n"
	      "  --port PORT              server on 127.0.0.1:PORT\n"
	      "  -n N                     jobs (1000)\n"
	      "  -p P                     producer connections (4)\n"
	      "  -w W                     consumer connections (2)\n"
	      "  --wait S                 long-poll of a consumer, s (mixed/latency: 5; else 0)\n"
	      "  --rate R                 latency: paced submits per second (500)\n"
	      "  --count K                claim: claims to make (0: until empty)\n"
	      "  --conns K                idle: connections (10000)\n"
	      "  --pid PID                idle: the server, for its memory\n"
	      "  --t0 NS                  first: start time, ns of CLOCK_REALTIME\n"
	      "  --timeout S              give up after S seconds (120)\n"
	      "  --budget S               lifecycle, mixed: stop submitting (and draining)\n"
	      "                           after S seconds; rates over what was done\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "proto", required_argument, NULL, 'P' },
		{ "port", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'W' },
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'k' },
		{ "conns", required_argument, NULL, 'C' },
		{ "pid", required_argument, NULL, 'i' },
		{ "t0", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "budget", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen g;
	const char *m;
	int ch, port = 0, wait_set = 0, rc;

	if (argc < 2)
		usage();
	memset(&g, 0, sizeof(g));
	m = argv[1];
	if (strcmp(m, "lifecycle") == 0)
		g.mode = M_LIFECYCLE;
	else if (strcmp(m, "mixed") == 0)
		g.mode = M_MIXED;
	else if (strcmp(m, "latency") == 0)
		g.mode = M_LATENCY;
	else if (strcmp(m, "claim") == 0)
		g.mode = M_CLAIM;
	else if (strcmp(m, "idle") == 0)
		g.mode = M_IDLE;
	else if (strcmp(m, "first") == 0)
		g.mode = M_FIRST;
	else
		usage();
	g.n = 1000;
	g.producers = 4;
	g.consumers = 2;
	g.rate = 500;
	g.nconns_idle = 10000;
	g.timeout_s = 120;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "n:p:w:", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': g.n = atol(optarg); break;
		case 'p': g.producers = atoi(optarg); break;
		case 'w': g.consumers = atoi(optarg); break;
		case 'P':
			if (strcmp(optarg, "http") == 0)
				g.proto = P_HTTP;
			else if (strcmp(optarg, "beanstalk") == 0)
				g.proto = P_BEANSTALK;
			else if (strcmp(optarg, "redis") == 0)
				g.proto = P_REDIS;
			else
				usage();
			break;
		case 'o': port = atoi(optarg); break;
		case 'W': g.wait_s = atoi(optarg); wait_set = 1; break;
		case 'r': g.rate = atof(optarg); break;
		case 'k': g.count = atol(optarg); break;
		case 'C': g.nconns_idle = atoi(optarg); break;
		case 'i': g.pid = atoi(optarg); break;
		case 't': g.t0 = atoll(optarg); break;
		case 'T': g.timeout_s = atoi(optarg); break;
		case 'B': g.budget_s = atoi(optarg); break;
		case 'v': g.verbose = 1; break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535)
		die("--port: want 1 to 65535");
	if (g.n < 1 || g.n > 100000000 || g.producers < 0 || g.consumers < 0 ||
	    g.producers + g.consumers > 1000 || g.nconns_idle < 1 ||
	    g.nconns_idle > CONNS_MAX || g.rate <= 0 || g.timeout_s < 1)
		die("an option is out of range");
	if ((g.mode == M_LIFECYCLE || g.mode == M_MIXED || g.mode == M_LATENCY) &&
	    (g.producers < 1 || g.consumers < 1))
		die("want at least one producer and one consumer");
	if (!wait_set)
		g.wait_s = g.mode == M_MIXED || g.mode == M_LATENCY ? 5 : 0;
	memset(&g.addr, 0, sizeof(g.addr));
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	{
		unsigned long long x = (unsigned long long)real_ns() ^ ((unsigned long long)getpid() << 32);

		snprintf(g.nonce, sizeof(g.nonce), "%016llx", x * 0x9e3779b97f4a7c15ULL);
		snprintf(g.worker, sizeof(g.worker), "bench%d", (int)getpid());
	}
	g.deadline = now_ns() + (int64_t)g.timeout_s * 1000000000;
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if (!(g.c = calloc(CONNS_MAX, sizeof(*g.c))))
		die("out of memory");
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (g.mode) {
	case M_LIFECYCLE: rc = mode_lifecycle(&g); break;
	case M_MIXED:
	case M_LATENCY: rc = mode_mixed(&g); break;
	case M_CLAIM: rc = mode_claim(&g); break;
	case M_IDLE: rc = mode_idle(&g); break;
	default: rc = mode_first(&g); break;
	}
	for (ch = 0; ch < g.nc; ch++)
		conn_close(&g, &g.c[ch]);
	free(g.acked_map);
	free(g.got_map);
	free(g.t_submit);
	free(g.lat);
	free(g.t_got);
	free(g.c);
	close(g.ep);
	return rc;
}
