/*
 * ctl_jobs: the commands that put jobs in and read what is there: init,
 * submit, sweep, ls, show, top, workers.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "json_array.h"
#include "sweep.h"

#define SHOW_LOGS_MAX	(8 * SPOOL_LOG_MAX)	/* the logs of every attempt, shown */

/* ---- init ---------------------------------------------------------------------- */

int cmd_init(const struct cmd *c, struct args *a)
{
	struct spool sp;

	(void)c, (void)a;
	if (cli_open(&sp, 1) < 0)
		return EX_ERR;
	spool_close(&sp);
	return EX_OK;
}

/* ---- submit -------------------------------------------------------------------- */

struct job_text {
	const char *s;
	size_t len;
	const char *from;	/* file name, for messages */
	int index;		/* position in an array, -1 for a lone object */
};

struct jobs {
	struct job_text *v;
	size_t n, cap;
};

static int jobs_add(struct jobs *js, const char *s, size_t len, const char *from,
		    int index)
{
	if (js->n == js->cap) {
		size_t cap = js->cap ? js->cap * 2 : 64;
		struct job_text *v = realloc(js->v, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		js->v = v;
		js->cap = cap;
	}
	js->v[js->n++] = (struct job_text){ s, len, from, index };
	return 0;
}

static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * The elements of the top-level array in s (valid JSON: json_validate
 * passed), each a job checked alone (json_array.h: not bounded by
 * JSON_TOKENS_MAX).
 */
static int split_array(const char *s, size_t len, const char *from, struct jobs *js)
{
	size_t (*el)[2];
	long n, k;
	int rc = 0;

	n = json_split_array(s, len, SIZE_MAX, &el);
	if (n < 0)
		return (int)n;
	for (k = 0; k < n && rc == 0; k++)
		rc = jobs_add(js, s + el[k][0], el[k][1], from, (int)k);
	free(el);
	return rc;
}

static void job_where(const struct job_text *j, char *out, size_t cap)
{
	const char *name = strcmp(j->from, "-") == 0 ? "standard input" : j->from;

	if (j->index < 0)
		snprintf(out, cap, "'%s'", name);
	else
		snprintf(out, cap, "'%s' [%d]", name, j->index);
}

/*
 * After each submit of a batched run: at SUBMIT_BATCH ids, or at the last
 * job, commit and print the ids (only now are they durable), then begin
 * the next batch. 0 to go on, or the exit code of a failed commit.
 */
static int batch_step(struct spool *sp, char (*ids)[SPOOL_ID_LEN + 1], size_t *nids,
		      int last, const char *what)
{
	int rc;

	if (++*nids < SUBMIT_BATCH && !last)
		return 0;
	sp->err[0] = 0;
	if ((rc = spool_commit(sp)) < 0) {
		cli_warn("cannot commit %zu %s: %s", *nids, what, cli_why(sp, rc));
		*nids = 0;
		return cli_exit_code(rc);
	}
	cli_flush_ids(ids, *nids);
	*nids = 0;
	if (!last)
		spool_begin(sp);
	return 0;
}

/*
 * The job of `spoolctl submit [--set K=V]... -- PROGRAM ARG...`: {"command":
 * [PROGRAM, ARG...], K: V, ...}, V as JSON when it parses as JSON (0.1,
 * true, [1,2], "x"), else as a string. 0, or -1 (said).
 */
static int command_job(const struct args *a, struct buf *b)
{
	int i, rc = buf_puts(b, "{\"command\":[");

	for (i = a->dashdash; rc == 0 && i < a->npos; i++) {
		if (i > a->dashdash)
			rc = buf_puts(b, ",");
		if (rc == 0)
			rc = buf_json_str(b, a->pos[i], strlen(a->pos[i]));
	}
	if (rc == 0)
		rc = buf_puts(b, "]");
	for (i = 0; rc == 0 && i < a->nmulti; i++) {
		const char *kv = a->multi[i], *eq = strchr(kv, '=');
		char err[128];

		if (!eq || eq == kv) {
			cli_warn("--set takes KEY=VALUE, not '%s'", kv);
			return -1;
		}
		if ((rc = buf_puts(b, ",")) < 0 || (rc = buf_json_str(b, kv, (size_t)(eq - kv))) < 0 ||
		    (rc = buf_puts(b, ":")) < 0)
			break;
		if (eq[1] && json_validate(eq + 1, strlen(eq + 1), err, sizeof err) == 0)
			rc = buf_puts(b, eq + 1);
		else
			rc = buf_json_str(b, eq + 1, strlen(eq + 1));
	}
	if (rc == 0)
		rc = buf_puts(b, "}");
	if (rc < 0) {
		cli_warn("the command line is too long for a job");
		return -1;
	}
	return 0;
}

/* Print the ids of a POST /v1/jobs answer in b. EX_OK or EX_ERR (said). */
static int print_ids(struct boss *b)
{
	char err[256];
	struct json j;
	int arr, k, t;

	if (json_parse(&j, b->reply.data, b->reply.len, JSON_TOKENS_MAX, err, sizeof err) < 0)
		goto bad;
	if ((arr = json_get(&j, 0, "ids")) < 0 || j.tok[arr].type != JSMN_ARRAY) {
		json_release(&j);
		goto bad;
	}
	for (k = 0, t = arr + 1; k < j.tok[arr].size; k++, t = json_skip(&j, t)) {
		char id[SPOOL_ID_LEN + 1];

		if (json_str(&j, t, id, sizeof id) == 0)
			printf("%s\n", id);
	}
	json_release(&j);
	return EX_OK;
bad:
	cli_warn("the answer of the boss at %s has no \"ids\": %.200s", b->url,
		 b->reply.data ? b->reply.data : "");
	return EX_ERR;
}

/* POST the jobs to the boss as one array; print the ids it answers. */
static int submit_remote(const struct jobs *js, const struct boss_where *w)
{
	struct buf body;
	struct boss b;
	size_t i;
	int ex = EX_ERR;

	if (boss_init(&b, w->url, w->token, NULL, NULL) < 0) {
		cli_warn("cannot start libcurl");
		return EX_ERR;
	}
	buf_init(&body, 16u << 20);
	buf_puts(&body, "[");
	for (i = 0; i < js->n; i++)
		if ((i && buf_puts(&body, ",") < 0) || buf_add(&body, js->v[i].s, js->v[i].len) < 0)
			break;
	if (i < js->n || buf_puts(&body, "]") < 0) {
		cli_warn("the jobs are more than the boss takes in one request (16 MiB)");
		goto out;
	}
	ex = cli_boss_check(&b, w, boss_request(&b, "POST", "/v1/jobs", body.data, body.len,
						CTL_BOSS_TIMEOUT_S, 0), "submit the jobs");
	if (ex == EX_OK)
		ex = print_ids(&b);
out:
	buf_release(&body);
	boss_release(&b);
	return ex;
}

int cmd_submit(const struct cmd *c, struct args *a)
{
	static const char *stdin_only[] = { "-" };
	int cmdline = a->dashdash >= 0 && a->dashdash < a->npos;
	const char **files = a->npos ? a->pos : stdin_only;
	size_t nfiles = cmdline ? 0 : a->npos > 0 ? (size_t)a->npos : 1;
	const char *want = cli_opt(c, a, "id");
	struct boss_where w;
	struct buf cmdbuf;
	int remote;
	struct buf *bufs;
	struct jobs js = { 0 };
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	size_t i, nids = 0;
	struct spool sp;
	size_t f;
	int rc, ex = EX_ERR, nstdin = 0;

	if (want && cli_check_id(want) < 0)
		return EX_USAGE;
	if (cmdline && a->dashdash > 0) {
		cli_warn("job files and a command after '--' do not go together");
		return EX_USAGE;
	}
	if (a->nmulti && !cmdline) {
		cli_warn("--set goes with a command: spoolctl submit --set K=V -- PROGRAM ARG...");
		return EX_USAGE;
	}
	if ((remote = cli_boss(cli_opt(c, a, "boss"), cli_opt(c, a, "token-file"), &w)) < 0)
		return EX_USAGE;
	if (remote && want) {
		cli_warn("--id is for a spool; over HTTP give the job an \"_id\" member");
		return EX_USAGE;
	}
	buf_init(&cmdbuf, SPOOL_JOB_MAX);
	if (cmdline && (command_job(a, &cmdbuf) < 0 ||
			jobs_add(&js, cmdbuf.data, cmdbuf.len, "the command line", -1) < 0)) {
		buf_release(&cmdbuf);
		free(js.v);
		return EX_USAGE;
	}
	for (f = 0; f < nfiles; f++)
		nstdin += strcmp(files[f], "-") == 0;
	if (nstdin > 1) {
		cli_warn("standard input ('-') given more than once");
		return EX_USAGE;
	}
	bufs = calloc(nfiles + 1, sizeof *bufs);
	if (!bufs) {
		cli_warn("out of memory");
		return EX_ERR;
	}

	/* Read and check everything first, so that a bad job submits nothing. */
	for (f = 0; f < nfiles; f++) {
		char err[256];
		size_t k;

		buf_init(&bufs[f], INPUT_MAX);
		if (cli_read(files[f], &bufs[f]) < 0)
			goto out;
		if (json_validate(bufs[f].data, bufs[f].len, err, sizeof err) < 0) {
			struct job_text t = { NULL, 0, files[f], -1 };
			char where[PATH_MAX + 32];

			job_where(&t, where, sizeof where);
			cli_warn("%s is not valid JSON: %s", where, err);
			goto out;
		}
		for (k = 0; k < bufs[f].len && is_ws(bufs[f].data[k]); k++)
			;
		if (k < bufs[f].len && bufs[f].data[k] == '[')
			rc = split_array(bufs[f].data, bufs[f].len, files[f], &js);
		else
			rc = jobs_add(&js, bufs[f].data, bufs[f].len, files[f], -1);
		if (rc < 0) {
			cli_warn("out of memory");
			goto out;
		}
	}
	for (i = 0; i < js.n; i++) {
		struct job_opts o;
		char err[256], where[PATH_MAX + 32];

		if (job_check(js.v[i].s, js.v[i].len, now_ms(), &o, err, sizeof err) < 0) {
			job_where(&js.v[i], where, sizeof where);
			cli_warn("%s is not a valid job: %s", where, err);
			goto out;
		}
	}
	if (want && js.n != 1) {
		cli_warn("--id needs exactly one job, not %zu", js.n);
		ex = EX_USAGE;
		goto out;
	}
	if (js.n == 0) {
		ex = EX_OK;
		goto out;
	}
	if (remote) {
		ex = submit_remote(&js, &w);
		goto out;
	}

	ids = calloc(SUBMIT_BATCH, sizeof *ids);
	if (!ids) {
		cli_warn("out of memory");
		goto out;
	}
	if (cli_open(&sp, 0) < 0)
		goto out;
	/*
	 * Group commit: a batch of submits, then one round of fsyncs. An id is
	 * printed only once its commit returned, so a printed id is durable.
	 */
	spool_begin(&sp);
	for (i = 0; i < js.n; i++) {
		char where[PATH_MAX + 32];

		sp.err[0] = 0;
		rc = spool_submit(&sp, js.v[i].s, js.v[i].len, want, ids[nids]);
		if (rc == 1 && !want)
			rc = 0;	/* it names its own "_id" and is stored: nothing to add */
		if (rc == 1) {
			cli_warn("a job with id '%s' already exists", want);
			ex = EX_CONFLICT;
			break;
		}
		if (rc < 0) {
			job_where(&js.v[i], where, sizeof where);
			cli_warn("cannot submit %s: %s", where, cli_why(&sp, rc));
			ex = cli_exit_code(rc);
			break;
		}
		if ((rc = batch_step(&sp, ids, &nids, i + 1 == js.n, "submitted jobs")) != 0) {
			ex = rc;
			break;
		}
		if (i + 1 == js.n)
			ex = EX_OK;
	}
	if (ex != EX_OK && sp.batch) {
		/* The jobs before the one that failed stand; say which they are. */
		if (nids && spool_commit(&sp) == 0)
			cli_flush_ids(ids, nids);
		else if (nids)
			cli_warn("%zu earlier jobs of this run may not be stored", nids);
	}
	spool_close(&sp);
out:
	free(ids);
	free(js.v);
	for (f = 0; f < nfiles; f++)
		buf_release(&bufs[f]);
	free(bufs);
	buf_release(&cmdbuf);
	return ex;
}

/* ---- ls ---------------------------------------------------------------------- */

struct ls_ctx {
	struct spool *sp;
	int json;
	long limit;
	long n;
	struct buf b;
	int rc;
};

static void print_order_line(const struct order *o)
{
	char due[32], dl[32];

	iso_time(o->n.due, due);
	if (o->n.claimed) {
		iso_time(o->n.deadline, dl);
		printf("%s %s %d %d %s %s %s\n", o->n.id, spool_state_name(o->state),
		       o->n.attempt, o->n.priority, due, o->n.worker, dl);
	} else {
		printf("%s %s %d %d %s - -\n", o->n.id, spool_state_name(o->state),
		       o->n.attempt, o->n.priority, due);
	}
}

static int ls_visit(void *arg, const struct order *o)
{
	struct ls_ctx *x = arg;
	int rc;

	if (x->limit >= 0 && x->n >= x->limit)
		return 1;
	if (x->json) {
		buf_reset(&x->b);
		if ((rc = spool_order_json(x->sp, o, 0, &x->b)) < 0) {
			x->rc = rc;
			return 1;
		}
		fputs(x->n ? ",\n" : "\n", stdout);
		cli_print_buf(&x->b);
	} else {
		print_order_line(o);
	}
	x->n++;
	return 0;
}

int cmd_ls(const struct cmd *c, struct args *a)
{
	const char *lim = cli_opt(c, a, "limit");
	int json = cli_opt(c, a, "json") != NULL;
	struct ls_ctx x = { 0 };
	struct spool sp;
	int st = -1, rc, ex = EX_OK, s;

	x.limit = -1;
	if (lim && cli_num(lim, 0, LONG_MAX, "--limit", &x.limit) < 0)
		return EX_USAGE;
	if (a->npos == 1 && strcmp(a->pos[0], "all") != 0 &&
	    (st = spool_state_parse(a->pos[0])) < 0) {
		cli_warn("unknown state '%s' (new, assigned, held, done, failed, cancelled, all)",
		      a->pos[0]);
		return EX_USAGE;
	}
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;

	if (a->npos == 0) {
		long counts[ST_COUNT], total = 0;

		if ((rc = spool_count(&sp, counts)) < 0) {
			ex = cli_failed(&sp, rc, "cannot count orders");
			goto out;
		}
		if (json)
			putchar('{');
		for (s = 0; s < ST_COUNT; s++) {
			total += counts[s];
			if (json)
				printf("%s\"%s\":%ld", s ? "," : "", spool_state_name(s), counts[s]);
			else
				printf("%-10s %ld\n", spool_state_name(s), counts[s]);
		}
		if (json)
			printf(",\"total\":%ld}\n", total);
		else
			printf("%-10s %ld\n", "total", total);
		goto out;
	}

	x.sp = &sp;
	x.json = json;
	buf_init(&x.b, 1 << 20);
	if (json)
		putchar('[');
	for (s = 0; s < ST_COUNT; s++) {
		if (st >= 0 && s != st)
			continue;
		sp.err[0] = 0;
		rc = spool_list(&sp, s, ls_visit, &x);
		if (x.rc < 0) {
			ex = cli_failed(&sp, x.rc, "cannot describe an order of %s/",
				    spool_state_name(s));
			break;
		}
		if (rc < 0) {
			ex = cli_failed(&sp, rc, "cannot list %s/", spool_state_name(s));
			break;
		}
	}
	if (json)
		fputs(x.n ? "\n]\n" : "]\n", stdout);
	buf_release(&x.b);
out:
	spool_close(&sp);
	return ex;
}

/* ---- show ----------------------------------------------------------------------- */

int cmd_show(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0];
	int json = cli_opt(c, a, "json") != NULL, want_log = cli_opt(c, a, "log") != NULL;
	struct buf ob, jb, rb, lb;
	struct order o;
	struct spool sp;
	int rc, ex = EX_OK, has_out, has_log = 0;

	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&ob, 1 << 20);
	buf_init(&jb, SPOOL_JOB_MAX + 4096);
	buf_init(&rb, SPOOL_OUTCOME_MAX + 4096);
	buf_init(&lb, SHOW_LOGS_MAX);

	if ((rc = spool_lookup(&sp, id, &o)) < 0) {
		ex = rc == -ENOENT ? (cli_warn("no order '%s'", id), EX_NONE)
				   : cli_failed(&sp, rc, "cannot find order '%s'", id);
		goto out;
	}
	if ((rc = spool_order_json(&sp, &o, 0, &ob)) < 0 ||
	    (rc = spool_read_job(&sp, id, &jb)) < 0) {
		ex = cli_failed(&sp, rc, "cannot read order '%s'", id);
		goto out;
	}
	rc = spool_read_outcome(&sp, &o, &rb);
	if (rc < 0 && rc != -ENOENT) {
		ex = cli_failed(&sp, rc, "cannot read the outcome of '%s'", id);
		goto out;
	}
	has_out = rc == 0;
	if (want_log) {
		rc = spool_log_read(&sp, id, &lb);
		if (rc < 0 && rc != -ENOENT) {
			ex = cli_failed(&sp, rc, "cannot read the log of '%s'", id);
			goto out;
		}
		has_log = rc == 0;
	}

	if (json) {
		fputs("{\"order\":", stdout);
		cli_print_buf(&ob);
		fputs(",\n\"job\":", stdout);
		cli_print_buf(&jb);
		fputs(",\n\"outcome\":", stdout);
		if (has_out)
			cli_print_buf(&rb);
		else
			fputs("null", stdout);
		if (want_log) {
			struct buf esc;

			buf_init(&esc, 2 * SHOW_LOGS_MAX + 16);
			fputs(",\n\"log\":", stdout);
			if (has_log && buf_json_str(&esc, lb.data, lb.len) == 0)
				cli_print_buf(&esc);
			else
				fputs("null", stdout);
			buf_release(&esc);
		}
		fputs("}\n", stdout);
	} else {
		char when[32], path[SPOOL_NAME_MAX + 64];

		spool_order_path(&o, path, sizeof path);
		printf("id        %s\n", o.n.id);
		printf("state     %s\n", spool_state_name(o.state));
		printf("attempt   %d\n", o.n.attempt);
		printf("priority  %d\n", o.n.priority);
		iso_time(o.n.due, when);
		printf("due       %s\n", when);
		if (o.n.claimed) {
			iso_time(o.n.deadline, when);
			printf("worker    %s\n", o.n.worker);
			printf("lease     %s\n", when);
		}
		printf("file      %s\n", path);
		fputs("order     ", stdout);
		cli_print_buf(&ob);
		fputs("\njob       ", stdout);
		cli_print_buf(&jb);
		if (jb.len && jb.data[jb.len - 1] != '\n')
			putchar('\n');
		fputs("outcome   ", stdout);
		if (has_out) {
			cli_print_buf(&rb);
			if (rb.len && rb.data[rb.len - 1] != '\n')
				putchar('\n');
		} else {
			fputs("(none)\n", stdout);
		}
		if (want_log) {
			fputs("log\n", stdout);
			if (has_log)
				cli_print_buf(&lb);
			else
				fputs("(none)\n", stdout);
		}
	}
out:
	buf_release(&ob);
	buf_release(&jb);
	buf_release(&rb);
	buf_release(&lb);
	spool_close(&sp);
	return ex;
}

/* ---- sweep ------------------------------------------------------------------------- */

/* The "state" of order id at boss b, into st. EX_OK or an exit code (said). */
static int remote_state(struct boss *b, const struct boss_where *w, const char *id,
			char *st, size_t cap)
{
	char path[128], what[64];
	struct json j;
	int ex;

	snprintf(path, sizeof path, "/v1/orders/%s", id);
	snprintf(what, sizeof what, "read order '%s'", id);
	if ((ex = cli_boss_check(b, w, boss_request(b, "GET", path, NULL, 0, CTL_BOSS_TIMEOUT_S, 0),
				 what)) != EX_OK)
		return ex;
	if (json_parse(&j, b->reply.data, b->reply.len, JSON_TOKENS_MAX, NULL, 0) < 0) {
		cli_warn("the boss at %s answered order '%s' with no JSON: %.200s", b->url, id,
			 b->reply.data ? b->reply.data : "");
		return EX_ERR;
	}
	if (json_str(&j, json_get(&j, 0, "state"), st, cap) < 0)
		snprintf(st, cap, "?");
	json_release(&j);
	return EX_OK;
}

/*
 * sweep --boss: the jobs go to POST /v1/jobs in batches, each with the "_id"
 * its content gives it, so that the boss, too, adds nothing it has already.
 */
static int sweep_remote(const struct sweep *sw, const struct boss_where *w, int requeue)
{
	struct buf body;
	struct boss b;
	size_t i, start;
	long requeued = 0;
	int ex = EX_OK;

	if (boss_init(&b, w->url, w->token, NULL, NULL) < 0) {
		cli_warn("cannot start libcurl");
		return EX_ERR;
	}
	buf_init(&body, 512u << 20);
	for (start = 0; ex == EX_OK && start < sw->n; start += SUBMIT_BATCH) {
		char what[PATH_MAX];

		buf_reset(&body);
		buf_puts(&body, "[");
		for (i = start; i < sw->n && i < start + SUBMIT_BATCH; i++)
			buf_printf(&body, "%s{\"_id\":\"%s\",%s", i > start ? "," : "",
				   sw->jobs[i].id, sw->jobs[i].json + 1);
		if (buf_puts(&body, "]") < 0) {
			cli_warn("sweep '%s' is too large to send", sw->name);
			ex = EX_ERR;
			break;
		}
		snprintf(what, sizeof what, "send sweep '%s'", sw->name);
		ex = cli_boss_check(&b, w, boss_request(&b, "POST", "/v1/jobs", body.data, body.len,
							CTL_BOSS_TIMEOUT_S, 0), what);
		if (ex == EX_OK)
			ex = print_ids(&b);
	}
	for (i = 0; ex == EX_OK && requeue && i < sw->n; i++) {
		char st[32], path[128], what[64];

		if ((ex = remote_state(&b, w, sw->jobs[i].id, st, sizeof st)) != EX_OK)
			break;
		if (strcmp(st, "failed") != 0)
			continue;
		snprintf(path, sizeof path, "/v1/orders/%s/requeue", sw->jobs[i].id);
		snprintf(what, sizeof what, "requeue '%s'", sw->jobs[i].id);
		if ((ex = cli_boss_check(&b, w, boss_request(&b, "POST", path, NULL, 0,
							     CTL_BOSS_TIMEOUT_S, 0), what)) != EX_OK)
			break;
		requeued++;
	}
	if (ex == EX_OK)
		cli_warn("sweep '%s': %zu jobs sent to %s, %ld requeued", sw->name, sw->n, w->url,
			 requeued);
	buf_release(&body);
	boss_release(&b);
	return ex;
}

int cmd_sweep(const struct cmd *c, struct args *a)
{
	int dry = cli_opt(c, a, "dry-run") != NULL, requeue = cli_opt(c, a, "requeue-failed") != NULL;
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	char err[256];
	struct boss_where w;
	struct sweep sw;
	struct spool sp;
	struct buf spec;
	size_t i, nids = 0;
	long added = 0, there = 0, requeued = 0;
	int rc, ex = EX_ERR;

	buf_init(&spec, INPUT_MAX);
	if (cli_read(a->pos[0], &spec) < 0) {
		buf_release(&spec);
		return EX_ERR;
	}
	if (sweep_expand(spec.data, spec.len, &sw, err, sizeof err) < 0) {
		cli_warn("'%s' is not a valid sweep: %s", a->pos[0], err);
		buf_release(&spec);
		return EX_ERR;
	}
	buf_release(&spec);
	if (dry) {
		for (i = 0; i < sw.n; i++)
			printf("%s %.*s\n", sw.jobs[i].id, (int)sw.jobs[i].len, sw.jobs[i].json);
		sweep_release(&sw);
		return EX_OK;
	}
	if ((rc = cli_boss(cli_opt(c, a, "boss"), cli_opt(c, a, "token-file"), &w)) != 0) {
		ex = rc < 0 ? EX_USAGE : sweep_remote(&sw, &w, requeue);
		sweep_release(&sw);
		return ex;
	}
	if (!(ids = calloc(SUBMIT_BATCH, sizeof *ids))) {
		cli_warn("out of memory");
		sweep_release(&sw);
		return EX_ERR;
	}
	if (cli_open(&sp, 1) < 0)	/* created if missing, as spoold does */
		goto out_free;
	/* As submit: batches made durable by one commit, ids printed after it. */
	spool_begin(&sp);
	for (i = 0; i < sw.n; i++) {
		struct sweep_job *j = &sw.jobs[i];

		sp.err[0] = 0;
		rc = spool_submit(&sp, j->json, j->len, j->id, ids[nids]);
		if (rc < 0) {
			cli_warn("cannot submit job %zu of sweep '%s': %s", i + 1, sw.name, cli_why(&sp, rc));
			ex = cli_exit_code(rc);
			break;
		}
		if (rc == 1) {
			struct order o;

			there++;
			snprintf(ids[nids], sizeof ids[nids], "%s", j->id);
			if (requeue && spool_lookup(&sp, j->id, &o) == 0 && o.state == ST_FAILED) {
				sp.err[0] = 0;
				if ((rc = spool_requeue(&sp, j->id, NULL)) < 0) {
					ex = cli_failed(&sp, rc, "cannot requeue '%s'", j->id);
					break;
				}
				requeued++;
			}
		} else {
			added++;
		}
		if ((rc = batch_step(&sp, ids, &nids, i + 1 == sw.n, "jobs of the sweep")) != 0) {
			ex = rc;
			break;
		}
		if (i + 1 == sw.n)
			ex = EX_OK;
	}
	if (ex != EX_OK && sp.batch && nids && spool_commit(&sp) == 0)
		cli_flush_ids(ids, nids);
	if (ex == EX_OK || added || there)
		cli_warn("sweep '%s': %zu jobs: %ld submitted, %ld already there, %ld requeued",
		      sw.name, sw.n, added, there, requeued);
	spool_close(&sp);
out_free:
	free(ids);
	sweep_release(&sw);
	return ex;
}

/* ---- top ---------------------------------------------------------------------------- */

#define TOP_KEYS_MAX 32
#define TOP_VAL_MAX 40	/* characters of a parameter shown */

/*
 * The job parameters worth a column: top-level members whose values differ
 * between the rows (what the sweep varied), the bookkeeping ones aside.
 */
struct params {
	char key[TOP_KEYS_MAX][64];
	int nkeys;
	char **val;	/* val[row * TOP_KEYS_MAX + k], canonical JSON or NULL */
	int varies[TOP_KEYS_MAX];
};

static void params_collect(struct params *p, const struct board *b)
{
	size_t r;
	int k;

	memset(p, 0, sizeof *p);
	p->val = calloc(b->n * TOP_KEYS_MAX + 1, sizeof *p->val);
	if (!p->val)
		return;
	for (r = 0; r < b->n; r++) {
		struct json j;
		char err[8];
		int i, m;

		if (!b->rows[r].job ||
		    json_parse(&j, b->rows[r].job, strlen(b->rows[r].job), JSON_TOKENS_MAX,
			       err, sizeof err) < 0)
			continue;
		for (i = 1, m = 0; j.tok[0].type == JSMN_OBJECT && m < j.tok[0].size;
		     m++, i = json_skip(&j, i + 1)) {
			char key[64];
			struct buf v;

			if (json_str(&j, i, key, sizeof key) < 0 || strcmp(key, "_id") == 0 ||
			    strcmp(key, "sweep") == 0 || strcmp(key, "spool") == 0)
				continue;
			for (k = 0; k < p->nkeys && strcmp(p->key[k], key) != 0; k++)
				;
			if (k == p->nkeys) {
				if (p->nkeys == TOP_KEYS_MAX)
					continue;
				snprintf(p->key[p->nkeys++], sizeof p->key[0], "%s", key);
			}
			buf_init(&v, 1 << 16);
			if (json_canon(&j, i + 1, &v) == 0 && v.data)
				p->val[r * TOP_KEYS_MAX + k] = strdup(v.data);
			buf_release(&v);
		}
		json_release(&j);
	}
	/* a lone row: all of its parameters (but the script's name) say what ran */
	for (k = 0; b->n == 1 && k < p->nkeys; k++)
		p->varies[k] = strcmp(p->key[k], "scriptName") != 0 && strcmp(p->key[k], "command") != 0;
	for (k = 0; k < p->nkeys; k++)
		for (r = 1; r < b->n; r++) {
			const char *x = p->val[k], *y = p->val[r * TOP_KEYS_MAX + k];

			if ((!x) != (!y) || (x && strcmp(x, y) != 0)) {
				p->varies[k] = 1;
				break;
			}
		}
}

static void params_release(struct params *p, size_t nrows)
{
	size_t i;

	if (!p->val)
		return;
	for (i = 0; i < nrows * TOP_KEYS_MAX; i++)
		free(p->val[i]);
	free(p->val);
}

/* "[#######.......]  12/24 done, 2 running, 10 queued, 0 failed" */
/* What early stopping saved in a sweep (board.c, stop.h): one line. */
static void saved_print(const struct board *b)
{
	struct json j;
	double n = 0, steps = 0, secs = 0, frac = 0, fin = 0;

	if (!b->saved || json_parse(&j, b->saved, strlen(b->saved), 64, NULL, 0) < 0)
		return;
	json_num(&j, json_get(&j, 0, "pruned"), &n);
	json_num(&j, json_get(&j, 0, "finished"), &fin);
	json_num(&j, json_get(&j, 0, "stepsSaved"), &steps);
	json_num(&j, json_get(&j, 0, "wallSecondsSaved"), &secs);
	json_num(&j, json_get(&j, 0, "savedFraction"), &frac);
	json_release(&j);
	printf("early stopping: %.0f run%s pruned; saved %.0f steps (%.0f%% of the sweep's) and "
	       "about %.1f s of run time (estimated from %.0f finished run%s)\n",
	       n, n == 1 ? "" : "s", steps, frac * 100, secs, fin, fin == 1 ? "" : "s");
}

static void progress(const struct board *b)
{
	long queued = b->counts[ST_NEW] + b->counts[ST_HELD];
	long finished = b->counts[ST_DONE] + b->counts[ST_FAILED] + b->counts[ST_CANCELLED];
	int width = 30, k, fill = b->total ? (int)(finished * width / b->total) : 0;

	putchar('[');
	for (k = 0; k < width; k++)
		putchar(k < fill ? '#' : '.');
	printf("] %ld/%ld done, %ld running, %ld queued, %ld failed", b->counts[ST_DONE] - b->pruned,
	       b->total, b->counts[ST_ASSIGNED], queued, b->counts[ST_FAILED]);
	if (b->pruned)
		printf(", %ld pruned", b->pruned);
	if (b->counts[ST_CANCELLED])
		printf(", %ld cancelled", b->counts[ST_CANCELLED]);
	putchar('\n');
	saved_print(b);
}

/*
 * The board's first limit rows (0: all). b holds every done row, so that
 * the parameters shown are those that vary over the whole board, even for
 * --limit 1.
 */
static void board_print(const struct board *b, const char *key, size_t limit)
{
	struct params p;
	size_t r;
	int k;

	progress(b);
	if (!b->n)
		return;
	params_collect(&p, b);
	printf("%4s  %-12s  %-24s  %s\n", "rank", key, "id", "job");
	for (r = 0; r < b->n && (!limit || r < limit); r++) {
		printf("%4zu  %-12.6g  %s%s ", r + 1, b->rows[r].value, b->rows[r].id,
		       b->rows[r].pruned ? " (pruned)" : "");
		for (k = 0; p.val && k < p.nkeys; k++) {
			const char *v = p.val[r * TOP_KEYS_MAX + k];

			if (p.varies[k])
				printf(" %s=%.*s%s", p.key[k], TOP_VAL_MAX, v ? v : "-",
				       v && strlen(v) > TOP_VAL_MAX ? "..." : "");
		}
		putchar('\n');
	}
	params_release(&p, b->n);
}

int cmd_top(const struct cmd *c, struct args *a)
{
	const char *key = cli_opt(c, a, "key"), *lim = cli_opt(c, a, "limit");
	const char *sweep = cli_opt(c, a, "sweep"), *order = cli_opt(c, a, "order");
	const char *every = cli_opt(c, a, "every");
	int desc = cli_opt(c, a, "desc") != NULL, json = cli_opt(c, a, "json") != NULL;
	int watch = cli_opt(c, a, "watch") != NULL, until = cli_opt(c, a, "until-done") != NULL;
	int flags = cli_opt(c, a, "pruned") ? BOARD_PRUNED : 0;
	int tty = isatty(STDOUT_FILENO);
	struct board b;
	struct spool sp;
	long limit = 10, period = 2;
	int rc = 0, ex = EX_OK;

	if (!key)
		key = "loss";
	if (order) {
		if (strcmp(order, "desc") == 0)
			desc = 1;
		else if (strcmp(order, "asc") != 0) {
			cli_warn("--order takes asc or desc, not '%s'", order);
			return EX_USAGE;
		}
	}
	if (lim && cli_num(lim, 0, 1000000, "--limit", &limit) < 0)
		return EX_USAGE;
	if (every && cli_num(every, 1, 3600, "--every", &period) < 0)
		return EX_USAGE;
	if ((until || every) && !watch) {
		cli_warn("--every and --until-done go with --watch");
		return EX_USAGE;
	}
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	for (;;) {
		memset(&b, 0, sizeof b);
		sp.err[0] = 0;
		/* the text board ranks every row to choose its columns (board_print) */
		rc = spool_board_ex(&sp, key, desc, json ? (size_t)limit : 0, sweep, flags, &b);
		if (rc < 0) {
			ex = cli_failed(&sp, rc, "cannot rank outcomes");
			break;
		}
		if (json) {
			struct buf out;

			buf_init(&out, 64u << 20);
			if ((rc = board_json(&b, key, desc, &out)) < 0) {
				cli_warn("cannot render the leaderboard: %s", strerror(-rc));
				ex = EX_ERR;
			} else {
				cli_print_buf(&out);
				putchar('\n');
			}
			buf_release(&out);
		} else if (watch && tty) {
			/* redraw in place: home, clear, then the board */
			fputs("\033[H\033[2J", stdout);
			board_print(&b, key, (size_t)limit);
		} else if (watch) {
			progress(&b);	/* a log, not a screen: one line per refresh */
		} else {
			board_print(&b, key, (size_t)limit);
		}
		/* an empty board says why: no such sweep, or no such key */
		if (!watch && sweep && b.total == 0) {
			fflush(stdout);
			cli_hint_sweeps(&sp, sweep);
			ex = EX_NONE;
		} else if (!watch && b.n == 0 && b.counts[ST_DONE] > 0) {
			fflush(stdout);
			cli_hint_keys(&sp, key, sweep);
			ex = EX_NONE;
		}
		fflush(stdout);
		{
			long active = b.counts[ST_NEW] + b.counts[ST_HELD] + b.counts[ST_ASSIGNED];

			board_release(&b);
			if (!watch || ex != EX_OK || (until && active == 0))
				break;
		}
		sleep((unsigned)period);
	}
	spool_close(&sp);
	return ex;
}

/* ---- log ---------------------------------------------------------------------------- */

int cmd_log(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0];
	struct spool sp;
	struct buf b;
	int rc, ex = EX_OK;

	(void)c;
	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&b, (SPOOL_LOG_MAX + 256) * 8);
	sp.err[0] = 0;
	rc = spool_log_read(&sp, id, &b);
	if (rc < 0)
		ex = cli_failed(&sp, rc, "cannot read the logs of '%s'", id);
	else
		cli_print_buf(&b);
	buf_release(&b);
	spool_close(&sp);
	return ex;
}

/* ---- workers ------------------------------------------------------------------------ */

int cmd_workers(const struct cmd *c, struct args *a)
{
	int json = cli_opt(c, a, "json") != NULL;
	struct spool sp;
	struct buf b;
	struct json j;
	char err[128];
	int rc, ex = EX_OK, i, k;

	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	buf_init(&b, 64u << 20);
	sp.err[0] = 0;
	if ((rc = spool_workers_json(&sp, &b)) < 0) {
		ex = cli_failed(&sp, rc, "cannot read the worker records");
		goto out;
	}
	if (json) {
		cli_print_buf(&b);
		putchar('\n');
		goto out;
	}
	/* One line per worker: its name, when it was last seen. */
	if (json_parse(&j, b.data ? b.data : "[]", b.data ? b.len : 2, JSON_TOKENS_MAX, err,
		       sizeof err) < 0) {
		cli_warn("the worker records are not valid JSON: %s", err);
		ex = EX_ERR;
		goto out;
	}
	for (i = 1, k = 0; j.tok[0].type == JSMN_ARRAY && k < j.tok[0].size;
	     k++, i = json_skip(&j, i)) {
		char name[SPOOL_WORKER_MAX + 1] = "?", seen[40] = "?";

		json_str(&j, json_get(&j, i, "name"), name, sizeof name);
		json_str(&j, json_get(&j, i, "lastSeen"), seen, sizeof seen);
		printf("%s %s\n", name, seen);
	}
	json_release(&j);
out:
	buf_release(&b);
	spool_close(&sp);
	return ex;
}

