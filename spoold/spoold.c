/*
 * spoold: the boss daemon. main(), options, the loop, timers, shutdown.
 *
 * Start-up: open (or create) the spool, watch new/ with inotify, then scan
 * it into the claim index (in that order, so nothing lands unseen between
 * the two), then listen and print "listening on HOST:PORT" as the first line
 * on stdout. Timers: the reaper (expired leases back to new/ or failed/) and
 * the rescan (what inotify cannot see). SIGTERM/SIGINT: stop accepting,
 * answer waiting claims 204, let in-flight work finish and commit, close
 * everything, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spoold.h"

static const char usage[] =
"usage: spoold --spool DIR [options]\n"
"\n"
"The boss of a spool: an HTTP front (the seed's routes and /v1, see API.md)\n"
"over the spool directory DIR, created when missing.\n"
"\n"
"  --spool DIR            the spool directory (required)\n"
"  --listen HOST:PORT     where to listen (default 127.0.0.1:8080; port 0\n"
"                         picks a free one). The first line on stdout is\n"
"                         \"listening on HOST:PORT\".\n"
"  --token-file FILE      require \"Authorization: Bearer TOKEN\" on every\n"
"                         route but /healthz; TOKEN is FILE's first line\n"
"  --allow-origin ORIGIN  answer CORS requests from ORIGIN (never '*')\n"
"  --lease SECONDS        lease of /v1/claim when the job sets none (300)\n"
"  --seed-lease SECONDS   lease of the seed's /bored claims, which never\n"
"                         heartbeat: long enough for a training run (21600)\n"
"  --reap-interval SEC    how often expired leases are reaped (1)\n"
"  --rescan SECONDS       how often new/ is rescanned for what inotify\n"
"                         cannot see, e.g. other NFS nodes (2; 0 = never;\n"
"                         stretched to 20x what the last one cost)\n"
"  --idle-timeout SEC     close idle keep-alive connections after (60)\n"
"  --request-timeout SEC  a request must arrive within this of its first\n"
"                         byte, else 408 and close (30)\n"
"  --max-conns N          connections at most; more get 503 (1024)\n"
"  --no-sync              skip fsync (tests and benchmarks only)\n"
"  --quiet                no per-event log lines on stderr\n"
"  --help                 this text\n";

void say(struct server *srv, const char *fmt, ...)
{
	char line[1024], when[32];
	va_list ap;
	int n;
	if (srv && srv->cfg.quiet)
		return;
	iso_time(now_ms(), when);
	n = snprintf(line, sizeof(line), "spoold: %s ", when);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = 0;
	strcat(line, "\n");
	fputs(line, stderr);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("spoold: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- timers ------------------------------------------------------------------ */

static void run_reap(struct op *op, struct spool *sp)
{
	int n = 0;
	/* the reaper also mends what a crash of another process left in tmp/
	 * (its messages go to the log from this thread: say is thread-safe) */
	watch_recover(NULL, sp);
	op->rc = spool_reap(sp, now_ms(), &n);
	op->num = n;
	if (op->rc < 0)
		buf_puts(&op->out, spool_error(sp)[0] ? spool_error(sp)
						      : strerror(-op->rc));
}

static void done_reap(struct server *srv, struct op *op)
{
	srv->reaping = 0;
	if (op->num) {
		srv->m.expired += (uint64_t)op->num;
		say(srv, "reaped %lld expired leases", (long long)op->num);
	}
	if (op->rc < 0)
		say(srv, "reap failed: %s", op->out.data ? op->out.data : "");
	op_free(op);
}

static void on_reap(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct op *op;
	if (srv->reaping || srv->draining)
		return;
	op = op_new(run_reap, done_reap, 0);
	if (!op)
		return;
	op->durable = 1;
	srv->reaping = 1;
	disk_submit(srv, op);
}

/* ---- shutdown ------------------------------------------------------------------- */

void server_maybe_exit(struct server *srv)
{
	if (!srv->draining || srv->conns || disk_busy(srv) || srv->all_closed)
		return;
	srv->all_closed = 1;
	uv_close((uv_handle_t *)&srv->reap_timer, NULL);
	uv_close((uv_handle_t *)&srv->rescan_timer, NULL);
	uv_close((uv_handle_t *)&srv->due_timer, NULL);
	uv_close((uv_handle_t *)&srv->merge_timer, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
	watch_stop(srv);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct server *srv = s->data;
	if (srv->draining) {
		say(srv, "signal %d again: exiting now", signum);
		exit(1);
	}
	say(srv, "signal %d: stopping", signum);
	srv->draining = 1;
	uv_timer_stop(&srv->reap_timer);
	uv_timer_stop(&srv->rescan_timer);
	uv_timer_stop(&srv->due_timer);
	watch_abandon(srv);
	watch_stop(srv);
	claim_flush(srv);
	http_stop(srv);
	server_maybe_exit(srv);
}

/* ---- options ------------------------------------------------------------------ */

static int64_t secs_ms(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || v < lo || v > hi)
		die("%s: '%s' is not a number of seconds from %g to %g", opt, s,
		    lo, hi);
	return (int64_t)(v * 1000 + 0.5);
}

static void parse_listen(struct config *cfg, const char *s)
{
	const char *colon;
	char *end;
	long port;
	size_t hlen;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			die("--listen: expected [ADDR]:PORT, got '%s'", s);
		hlen = (size_t)(rb - s - 1);
		s++;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			die("--listen: expected HOST:PORT, got '%s'", s);
		hlen = (size_t)(colon - s);
	}
	if (hlen >= sizeof(cfg->host))
		die("--listen: address too long");
	if (hlen) {
		memcpy(cfg->host, s, hlen);
		cfg->host[hlen] = 0;
	}
	if (!strcmp(cfg->host, "localhost"))
		strcpy(cfg->host, "127.0.0.1");
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		die("--listen: bad port '%s'", colon + 1);
	cfg->port = (int)port;
}

static void read_token(struct config *cfg, const char *file)
{
	struct buf b;
	struct stat st;
	size_t n;
	int rc;

	buf_init(&b, 4096);
	rc = buf_read_file(&b, AT_FDCWD, file);
	if (rc < 0)
		die("--token-file: cannot read '%s': %s", file, strerror(-rc));
	n = strcspn(b.data ? b.data : "", "\r\n");
	while (n && (b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
		n--;
	if (n < 8)
		die("--token-file: '%s': the token must be at least 8 bytes", file);
	cfg->token = strndup(b.data, n);
	cfg->token_len = n;
	buf_release(&b);
	if (stat(file, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "spoold: warning: '%s' is readable by others\n",
			file);
}

static void parse_args(struct config *cfg, int argc, char **argv)
{
	enum { O_SPOOL = 1, O_LISTEN, O_TOKEN, O_ORIGIN, O_LEASE, O_SEED,
	       O_REAP, O_RESCAN, O_IDLE, O_REQ, O_CONNS, O_NOSYNC, O_QUIET,
	       O_HELP };
	static const struct option opts[] = {
		{ "spool", required_argument, NULL, O_SPOOL },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "allow-origin", required_argument, NULL, O_ORIGIN },
		{ "lease", required_argument, NULL, O_LEASE },
		{ "seed-lease", required_argument, NULL, O_SEED },
		{ "reap-interval", required_argument, NULL, O_REAP },
		{ "rescan", required_argument, NULL, O_RESCAN },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "request-timeout", required_argument, NULL, O_REQ },
		{ "max-conns", required_argument, NULL, O_CONNS },
		{ "no-sync", no_argument, NULL, O_NOSYNC },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->host, "127.0.0.1");
	cfg->port = 8080;
	cfg->lease_s = SPOOL_DEF_LEASE_S;
	cfg->seed_lease_s = 6 * 3600;
	cfg->reap_ms = 1000;
	cfg->rescan_ms = 2000;
	cfg->idle_ms = 60000;
	cfg->request_ms = 30000;
	cfg->max_conns = 1024;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SPOOL: cfg->spool_path = optarg; break;
		case O_LISTEN: parse_listen(cfg, optarg); break;
		case O_TOKEN: read_token(cfg, optarg); break;
		case O_ORIGIN:
			if (!strcmp(optarg, "*") || !optarg[0])
				die("--allow-origin: name one origin, not '%s'",
				    optarg);
			cfg->allow_origin = optarg;
			break;
		case O_LEASE:
			cfg->lease_s = (int)(secs_ms("--lease", optarg, 1,
						     30 * 86400) / 1000);
			break;
		case O_SEED:
			cfg->seed_lease_s = (int)(secs_ms("--seed-lease", optarg,
							  1, 30 * 86400) / 1000);
			break;
		case O_REAP:
			cfg->reap_ms = secs_ms("--reap-interval", optarg, 0.01,
					       3600);
			break;
		case O_RESCAN:
			cfg->rescan_ms = secs_ms("--rescan", optarg, 0, 86400);
			break;
		case O_IDLE:
			cfg->idle_ms = secs_ms("--idle-timeout", optarg, 0.1,
					       86400);
			break;
		case O_REQ:
			cfg->request_ms = secs_ms("--request-timeout", optarg,
						  0.1, 3600);
			break;
		case O_CONNS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 1000000)
				die("--max-conns: '%s' is not 1 to 1000000",
				    optarg);
			cfg->max_conns = (int)n;
			break;
		}
		case O_NOSYNC: cfg->nosync = 1; break;
		case O_QUIET: cfg->quiet = 1; break;
		case 'h':
		case O_HELP:
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (!cfg->spool_path)
		die("--spool DIR is required (see --help)");
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static struct server srv;
	int rc, i;

	signal(SIGPIPE, SIG_IGN);
	parse_args(&srv.cfg, argc, argv);

	rc = spool_open(&srv.sp, srv.cfg.spool_path, 1);
	if (rc < 0)
		die("cannot open spool '%s': %s", srv.cfg.spool_path,
		    spool_error(&srv.sp)[0] ? spool_error(&srv.sp)
					    : strerror(-rc));
	srv.sp.nosync = srv.cfg.nosync;
	for (i = 0; i < NREADERS; i++) {
		rc = spool_open(&srv.readers[i].sp, srv.cfg.spool_path, 0);
		if (rc < 0)
			die("cannot open spool '%s' for reading: %s",
			    srv.cfg.spool_path, strerror(-rc));
		srv.readers[i].sp.nosync = srv.cfg.nosync;
	}
	srv.started_ms = now_ms();
	srv.loop = uv_default_loop();
	srv.loop->data = &srv;
	srv.wq_tail = &srv.wq;
	srv.rq_tail = &srv.rq;
	srv.inotify_fd = -1;
	index_init(&srv.ix);

	rc = watch_start(&srv);
	if (rc < 0)
		die("cannot watch '%s/new' with inotify: %s", srv.cfg.spool_path,
		    strerror(-rc));
	rc = watch_scan_sync(&srv);
	if (rc < 0)
		die("cannot scan '%s/new': %s", srv.cfg.spool_path,
		    spool_error(&srv.sp)[0] ? spool_error(&srv.sp)
					    : strerror(-rc));
	say(&srv, "spool '%s': %zu orders queued", srv.cfg.spool_path, srv.ix.n);

	rc = http_listen(&srv);
	if (rc < 0)
		die("cannot listen on %s:%d: %s", srv.cfg.host, srv.cfg.port,
		    uv_strerror(rc));
	if (!srv.cfg.token && strncmp(srv.cfg.host, "127.", 4) &&
	    strcmp(srv.cfg.host, "::1"))
		say(&srv, "warning: listening on %s without --token-file: anyone "
		    "who can reach it may submit and claim", srv.cfg.host);

	uv_timer_init(srv.loop, &srv.reap_timer);
	uv_timer_init(srv.loop, &srv.rescan_timer);
	uv_timer_init(srv.loop, &srv.due_timer);
	uv_timer_init(srv.loop, &srv.merge_timer);
	srv.reap_timer.data = srv.rescan_timer.data = srv.due_timer.data = &srv;
	srv.merge_timer.data = &srv;
	uv_timer_start(&srv.reap_timer, on_reap, 0, (uint64_t)srv.cfg.reap_ms);
	watch_schedule(&srv);
	uv_signal_init(srv.loop, &srv.sigterm);
	uv_signal_init(srv.loop, &srv.sigint);
	srv.sigterm.data = srv.sigint.data = &srv;
	uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
	uv_signal_start(&srv.sigint, on_signal, SIGINT);

	uv_run(srv.loop, UV_RUN_DEFAULT);

	rc = uv_loop_close(srv.loop);
	if (rc < 0)
		say(&srv, "loop not closed cleanly: %s", uv_strerror(rc));
	index_release(&srv.ix);
	for (i = 0; i < NREADERS; i++)
		spool_close(&srv.readers[i].sp);
	spool_close(&srv.sp);
	free(srv.cfg.token);
	say(&srv, "stopped");
	return 0;
}
