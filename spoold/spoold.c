/*
 * spoold: the boss daemon. main(), options, the loop, timers, shutdown.
 *
 * Start-up: open (or create) the spool, watch new/ with inotify, listen
 * and print "listening on HOST:PORT" as the first line on stdout, then load
 * the claim index of new/ in the background (watched first, so nothing
 * lands unseen; claims are served from what is loaded so far). Timers: the reaper (expired leases back to new/ or failed/) and
 * the rescan (what inotify cannot see). SIGTERM/SIGINT: stop accepting,
 * answer waiting claims 204, let in-flight work finish and commit, close
 * everything, exit 0.
 *
 * The top floor: it wires the modules together (each owns its struct,
 * embedded in struct server) and hands the HTTP layer the handlers'
 * callbacks.
 *
 * Layer: 5 main
 */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"
#include "version.h"
#include "handler.h"

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
"  --sync always          acknowledge a change only once it is on disk (the\n"
"                         default): a 201 or 200 means it survives a crash;\n"
"                         a claim is answered at once and synced right after\n"
"                         (a crash may undo it: the job runs again)\n"
"  --sync strict          as always, and each claim too is synced before its\n"
"                         answer (slower; for a spool that local claimers\n"
"                         share on a file system that keeps directories apart\n"
"                         at a power cut; spool-layout.md)\n"
"  --sync interval=MS     acknowledge before the flush and flush at most MS\n"
"                         ms later (1 to 10000), as beanstalkd's and redis's\n"
"                         defaults do: a crash may lose what was acknowledged\n"
"                         in the last MS ms\n"
"  --sync none            never flush (tests and benchmarks only); --no-sync\n"
"                         is the same\n"
"  --init                 make a spool of DIR even if it holds other files\n"
"                         (without it, a directory that is neither empty nor\n"
"                         a spool is refused: a typo must not turn a home\n"
"                         directory into a spool)\n"
"  --quiet                no per-event log lines on stderr\n"
"  --version              the version\n"
"  --help                 this text\n";

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

/* The reaper's run, on the writer; one at a time. */
struct reap_op {
	struct op op;
	struct server *srv;
	int rc, n;
	char why[300];
};

static void run_reap(struct op *op, struct spool *sp)
{
	struct reap_op *r = container_of(op, struct reap_op, op);
	r->n = 0;
	/* the reaper also mends what a crash of another process left in tmp/
	 * (its messages go to the log from this thread: say is thread-safe) */
	watch_recover(NULL, sp);
	r->rc = spool_reap(sp, now_ms(), &r->n);
	if (r->rc < 0)
		snprintf(r->why, sizeof(r->why), "%s", spool_error(sp)[0] ?
			 spool_error(sp) : strerror(-r->rc));
}

static void done_reap(struct op *op)
{
	struct reap_op *r = container_of(op, struct reap_op, op);
	struct server *srv = r->srv;
	srv->reaping = 0;
	if (r->n) {
		srv->expired += (uint64_t)r->n;
		say(&srv->log, "reaped %d expired leases", r->n);
	}
	if (r->rc < 0)
		say(&srv->log, "reap failed: %s", r->why);
	free(r);
}

static void on_reap(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct reap_op *r;
	if (srv->reaping || srv->draining)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->op.kind = OP_WRITE;
	r->op.run = run_reap;
	r->op.done = done_reap;
	r->srv = srv;
	srv->reaping = 1;
	disk_submit(&srv->disk, &r->op);
}

/* ---- shutdown ------------------------------------------------------------------- */

/* Close everything once draining and idle (after each piece of work and
 * each connection freed). */
static void server_maybe_exit(void *ud)
{
	struct server *srv = ud;
	if (!srv->draining || srv->http.conns || disk_busy(&srv->disk) ||
	    srv->all_closed)
		return;
	srv->all_closed = 1;
	uv_close((uv_handle_t *)&srv->reap_timer, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
	watch_close(&srv->watch);
	core_stop(&srv->core);
	disk_stop(&srv->disk);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct server *srv = s->data;
	if (srv->draining) {
		say(&srv->log, "signal %d again: exiting now", signum);
		exit(1);
	}
	say(&srv->log, "signal %d: stopping", signum);
	srv->draining = 1;
	uv_timer_stop(&srv->reap_timer);
	watch_stop(&srv->watch);
	core_flush(&srv->core);
	srv->core.draining = 1;
	sweepmap_stop(&srv->sweeps);
	http_stop(&srv->http);
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

static void parse_sync(struct config *cfg, const char *s)
{
	char *end;
	long ms;
	cfg->claims_synced = 0;
	if (!strcmp(s, "always")) {
		cfg->sync = DISK_SYNC_ALWAYS;
	} else if (!strcmp(s, "strict")) {
		cfg->sync = DISK_SYNC_ALWAYS;
		cfg->claims_synced = 1;
	} else if (!strcmp(s, "none")) {
		cfg->sync = DISK_SYNC_NONE;
	} else if (!strncmp(s, "interval=", 9)) {
		errno = 0;
		ms = strtol(s + 9, &end, 10);
		if (!s[9] || *end || errno || ms < 1 || ms > 10000)
			die("--sync interval=MS: MS is 1 to 10000, not '%s'", s + 9);
		cfg->sync = DISK_SYNC_INTERVAL;
		cfg->sync_ms = ms;
	} else {
		die("--sync: always, strict, interval=MS or none, not '%s'", s);
	}
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
	if (hlen >= sizeof(cfg->http.host))
		die("--listen: address too long");
	if (hlen) {
		memcpy(cfg->http.host, s, hlen);
		cfg->http.host[hlen] = 0;
	}
	if (!strcmp(cfg->http.host, "localhost"))
		strcpy(cfg->http.host, "127.0.0.1");
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		die("--listen: bad port '%s'", colon + 1);
	cfg->http.port = (int)port;
}

/* The bearer token, by the one rule of every program (lib/token.c). */
static void read_token(struct config *cfg, const char *file)
{
	char tok[TOKEN_FILE_MAX + 1], err[256];
	struct stat st;

	if (token_file_read(file, tok, sizeof(tok), err, sizeof(err)) < 0)
		die("--token-file: %s", err);
	if (strlen(tok) < 8)
		die("--token-file: '%s': the token must be at least 8 bytes", file);
	cfg->token = strdup(tok);
	cfg->token_len = strlen(tok);
	if (stat(file, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "spoold: warning: '%s' is readable by others\n",
			file);
}

static void parse_args(struct config *cfg, int argc, char **argv)
{
	enum { O_SPOOL = 1, O_LISTEN, O_TOKEN, O_ORIGIN, O_LEASE, O_SEED,
	       O_REAP, O_RESCAN, O_IDLE, O_REQ, O_CONNS, O_NOSYNC, O_SYNCARG,
	       O_QUIET, O_HELP, O_INIT, O_VERSION };
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
		{ "sync", required_argument, NULL, O_SYNCARG },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ "init", no_argument, NULL, O_INIT },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->http.host, "127.0.0.1");
	cfg->http.port = 8080;
	cfg->lease_s = SPOOL_DEF_LEASE_S;
	cfg->seed_lease_s = 6 * 3600;
	cfg->reap_ms = 1000;
	cfg->rescan_ms = 2000;
	cfg->http.idle_ms = 60000;
	cfg->http.request_ms = 30000;
	cfg->http.max_conns = 1024;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SPOOL: cfg->spool_path = optarg; break;
		case O_INIT: cfg->init = 1; break;
		case O_VERSION: printf("spoold %s\n", SPOOL_VERSION); exit(0);
		case O_LISTEN: parse_listen(cfg, optarg); break;
		case O_TOKEN: read_token(cfg, optarg); break;
		case O_ORIGIN:
			if (!strcmp(optarg, "*") || !optarg[0])
				die("--allow-origin: name one origin, not '%s'",
				    optarg);
			if (!http_origin_valid(optarg))
				die("--allow-origin: '%.100s' is not an origin: "
				    "scheme://host[:port], lowercase, at most %d "
				    "bytes", optarg, HTTP_ORIGIN_MAX - 1);
			cfg->http.allow_origin = optarg;
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
			cfg->http.idle_ms = secs_ms("--idle-timeout", optarg, 0.1,
					       86400);
			break;
		case O_REQ:
			cfg->http.request_ms = secs_ms("--request-timeout", optarg,
						  0.1, 3600);
			break;
		case O_CONNS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 1000000)
				die("--max-conns: '%s' is not 1 to 1000000",
				    optarg);
			cfg->http.max_conns = (int)n;
			break;
		}
		case O_NOSYNC: cfg->sync = DISK_SYNC_NONE; break;
		case O_SYNCARG: parse_sync(cfg, optarg); break;
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

/*
 * Before anything is made on disk: 1 if path is a spool already, 0 if one
 * is to be made there (missing, or empty, or --init). A directory that is
 * neither empty nor a spool is refused without --init.
 */
static int spool_preflight(const char *path, int init)
{
	struct spool sp;
	struct dirent *e;
	DIR *d;
	int rc, other = 0;

	memset(&sp, 0, sizeof(sp));
	rc = spool_open(&sp, path, 0);
	if (rc == 0) {
		spool_close(&sp);
		return 1;
	}
	spool_close(&sp);
	if (rc != -ENOENT)
		die("cannot open spool '%s': %s", path, strerror(-rc));
	if (!(d = opendir(path))) {
		if (errno == ENOENT)
			return 0;
		die("cannot open '%s': %s", path, strerror(errno));
	}
	while (!other && (e = readdir(d)))
		other = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	if (other && !init)
		die("'%s' holds files and is not a spool: give --init to make a "
		    "spool of it, or name a new or empty directory", path);
	return 0;
}

/* Can host:port be bound? Asked before a new spool is made, so that a busy
 * port leaves nothing behind. Dies if not. */
static void port_preflight(const struct http_config *h)
{
	struct addrinfo hints, *ai = NULL;
	char port[16];
	int fd, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", h->port);
	if ((rc = getaddrinfo(h->host, port, &hints, &ai)) != 0)
		return;		/* http_listen says why */
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			int e = errno;

			close(fd);
			freeaddrinfo(ai);
			die("cannot listen on %s:%d: %s (nothing was created)",
			    h->host, h->port, strerror(e));
		}
		close(fd);
	}
	freeaddrinfo(ai);
}

/* Say where the page is (stderr: stdout's first line stays the address). */
static void say_page(struct server *srv)
{
	struct sockaddr_storage ss;
	char host[64];
	int len = sizeof(ss), port;

	if (uv_tcp_getsockname(&srv->http.listener, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		say(&srv->log, "the page: http://[%s]:%d/", host, port);
	} else {
		uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		say(&srv->log, "the page: http://%s:%d/", host, port);
	}
}

int main(int argc, char **argv)
{
	static struct server srv;
	static struct http_callbacks cbs;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	parse_args(&srv.cfg, argc, argv);
	srv.log.quiet = srv.cfg.quiet;
	srv.started_ms = now_ms();
	srv.loop = uv_default_loop();

	if (!spool_preflight(srv.cfg.spool_path, srv.cfg.init))
		port_preflight(&srv.cfg.http);
	rc = disk_open(&srv.disk, srv.loop, srv.cfg.spool_path, srv.cfg.sync,
		       srv.cfg.sync_ms, &srv.log);
	if (rc < 0) {
		/* the library's message names the spool already */
		if (spool_error(&srv.disk.sp)[0])
			die("%s", spool_error(&srv.disk.sp));
		die("cannot open spool '%s': %s", srv.cfg.spool_path, strerror(-rc));
	}
	srv.loop->data = &srv.disk;	/* the readers find their disk here */
	srv.disk.idle = server_maybe_exit;
	srv.disk.ud = &srv;
	sweepmap_init(&srv.sweeps, &srv.disk);
	jobcache_init(&srv.jobcache);
	stops_init(&srv.stops);
	rc = core_open(&srv.core, srv.loop, srv.cfg.spool_path, &srv.disk,
		       srv.cfg.sync == DISK_SYNC_NONE, srv.cfg.claims_synced,
		       &srv.log);
	if (rc < 0)
		die("cannot open spool '%s': %s", srv.cfg.spool_path,
		    strerror(-rc));

	rc = watch_start(&srv.watch, srv.loop, &srv.core, &srv.disk,
			 srv.cfg.rescan_ms, &srv.log);
	if (rc < 0)
		die("cannot watch '%s/new' with inotify: %s", srv.cfg.spool_path,
		    strerror(-rc));
	if ((rc = core_load_claims(&srv.core)) < 0)
		say(&srv.log, "cannot list assigned/: %s (claims are looked up "
		    "one by one)", strerror(-rc));
	say(&srv.log, "spool '%s': %zu claims held; loading new/",
	    srv.cfg.spool_path, srv.core.map.n);

	cbs = route_callbacks;
	cbs.freed = server_maybe_exit;
	http_init(&srv.http, srv.loop, &srv.cfg.http, &cbs, &srv, &srv.log);
	rc = http_listen(&srv.http);
	if (rc < 0)
		die("cannot listen on %s:%d: %s", srv.cfg.http.host,
		    srv.cfg.http.port, uv_strerror(rc));
	say_page(&srv);
	if (!srv.cfg.token && strncmp(srv.cfg.http.host, "127.", 4) &&
	    strcmp(srv.cfg.http.host, "::1"))
		say(&srv.log, "warning: listening on %s without --token-file: "
		    "anyone who can reach it may submit and claim",
		    srv.cfg.http.host);

	/* serve at once; the index of new/ loads meanwhile */
	watch_load(&srv.watch);
	uv_timer_init(srv.loop, &srv.reap_timer);
	srv.reap_timer.data = &srv;
	uv_timer_start(&srv.reap_timer, on_reap, 0, (uint64_t)srv.cfg.reap_ms);
	uv_signal_init(srv.loop, &srv.sigterm);
	uv_signal_init(srv.loop, &srv.sigint);
	srv.sigterm.data = srv.sigint.data = &srv;
	uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
	uv_signal_start(&srv.sigint, on_signal, SIGINT);

	uv_run(srv.loop, UV_RUN_DEFAULT);

	rc = uv_loop_close(srv.loop);
	if (rc < 0)
		say(&srv.log, "loop not closed cleanly: %s", uv_strerror(rc));
	core_close(&srv.core);
	disk_close(&srv.disk);
	metrics_release(&srv.metrics);
	sweepmap_release(&srv.sweeps);
	jobcache_release(&srv.jobcache);
	stops_release(&srv.stops);
	free(srv.cfg.token);
	say(&srv.log, "stopped");
	return 0;
}
