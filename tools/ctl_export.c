/*
 * ctl_export: `spoolctl export`, a sweep's results as a table (CSV or JSON
 * lines) for a notebook or a spreadsheet, and the names a board could have
 * shown (what sweeps and outcome keys exist), for top's hints.
 *
 * A row per job: its id, state and attempt, one column per job parameter
 * that varies between the rows (what the sweep varied; every parameter of
 * a lone job), then one column per outcome member seen in any row
 * ("outcome.K" where a parameter is named K too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

#define EXPORT_COLS_MAX 256
#define KEY_MAX 128

struct xrow {
	char id[SPOOL_ID_LEN + 1];
	enum spool_state state;
	int attempt;
	char *job, *outcome;	/* the documents (outcome NULL: none filed) */
};

struct xwalk {
	struct spool *sp;
	const char *sweep;
	struct xrow *rows;
	size_t n, cap;
	struct buf job, out;
};

/* 1 if the job document names sweep (or sweep is NULL). */
static int job_in_sweep(const char *doc, size_t len, const char *sweep)
{
	struct json j;
	char err[8], name[256];
	int ok;

	if (!sweep)
		return 1;
	if (json_parse(&j, doc, len, JSON_TOKENS_MAX, err, sizeof err) < 0)
		return 0;
	ok = json_str(&j, json_get(&j, 0, "sweep"), name, sizeof name) == 0 && strcmp(name, sweep) == 0;
	json_release(&j);
	return ok;
}

static int xvisit(void *arg, const struct order *o)
{
	struct xwalk *w = arg;
	struct xrow *r;

	if (spool_read_job(w->sp, o->n.id, &w->job) < 0 || !job_in_sweep(w->job.data, w->job.len, w->sweep))
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct xrow *v = realloc(w->rows, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		w->rows = v;
		w->cap = cap;
	}
	r = &w->rows[w->n];
	memcpy(r->id, o->n.id, sizeof r->id);
	r->state = o->state;
	r->attempt = o->n.attempt;
	r->outcome = NULL;
	if (!(r->job = strdup(w->job.data)))
		return -ENOMEM;
	if ((o->state == ST_DONE || o->state == ST_FAILED) && spool_read_outcome(w->sp, o, &w->out) == 0 &&
	    !(r->outcome = strdup(w->out.data))) {
		free(r->job);
		return -ENOMEM;
	}
	w->n++;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct xrow *)a)->id, ((const struct xrow *)b)->id);
}

/* The column names: the members of an object, added once each, in order. */
struct cols {
	char name[EXPORT_COLS_MAX][KEY_MAX];
	int n;
};

static int col_find(const struct cols *c, const char *k)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], k) == 0)
			return i;
	return -1;
}

/* Canonical JSON of member key of doc, or NULL (absent). Owned. */
static char *member(const char *doc, const char *key)
{
	struct json j;
	struct buf v;
	char err[8], *s = NULL;
	int t;

	if (!doc || json_parse(&j, doc, strlen(doc), JSON_TOKENS_MAX, err, sizeof err) < 0)
		return NULL;
	t = j.tok[0].type == JSMN_OBJECT ? json_get(&j, 0, key) : -1;
	buf_init(&v, SPOOL_JOB_MAX);
	if (t >= 0 && json_canon(&j, t, &v) == 0)
		s = strdup(v.data ? v.data : "");
	buf_release(&v);
	json_release(&j);
	return s;
}

/* Add the top-level keys of doc to c (skipping the bookkeeping ones). */
static void keys_of(const char *doc, struct cols *c, int job)
{
	struct json j;
	char err[8], k[KEY_MAX];
	int i, m;

	if (!doc || json_parse(&j, doc, strlen(doc), JSON_TOKENS_MAX, err, sizeof err) < 0)
		return;
	for (i = 1, m = 0; j.tok[0].type == JSMN_OBJECT && m < j.tok[0].size; m++, i = json_skip(&j, i + 1)) {
		if (json_str(&j, i, k, sizeof k) < 0 || c->n == EXPORT_COLS_MAX || col_find(c, k) >= 0)
			continue;
		if (job && (!strcmp(k, "_id") || !strcmp(k, "sweep") || !strcmp(k, "spool")))
			continue;
		snprintf(c->name[c->n++], KEY_MAX, "%s", k);
	}
	json_release(&j);
}

/* A canonical JSON value as a CSV field: strings decoded, RFC 4180 quoting. */
static void csv_field(const char *v)
{
	char *s = NULL;
	const char *p;

	if (!v)
		return;
	if (v[0] == '"') {
		struct json j;
		char err[8];
		size_t raw;

		if (json_parse(&j, v, strlen(v), 4, err, sizeof err) == 0) {
			json_raw(&j, 0, &raw);
			if ((s = malloc(raw + 1)) && json_str(&j, 0, s, raw + 1) < 0)
				s[0] = '\0';
			json_release(&j);
		}
		v = s ? s : "";
	}
	if (strpbrk(v, ",\"\r\n")) {
		putchar('"');
		for (p = v; *p; p++) {
			if (*p == '"')
				putchar('"');
			putchar(*p);
		}
		putchar('"');
	} else {
		fputs(v, stdout);
	}
	free(s);
}

static void csv_name(const char *prefix, const char *name)
{
	char s[KEY_MAX + 16];

	snprintf(s, sizeof s, "%s%s", prefix, name);
	if (strpbrk(s, ",\"\r\n")) {
		struct buf q;

		buf_init(&q, 4 * sizeof s);
		buf_json_str(&q, s, strlen(s));
		csv_field(q.data);
		buf_release(&q);
	} else {
		fputs(s, stdout);
	}
}

int cmd_export(const struct cmd *c, struct args *a)
{
	const char *sweep = cli_opt(c, a, "sweep"), *fmt = cli_opt(c, a, "format");
	struct xwalk w;
	struct spool sp;
	struct cols params, outs;
	char **pv = NULL, **ov = NULL;
	int varies[EXPORT_COLS_MAX] = { 0 };
	int csv, st, rc, ex = EX_OK, k;
	size_t r;

	if (!fmt)
		fmt = "csv";
	if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "jsonl") != 0) {
		cli_warn("--format takes csv or jsonl, not '%s'", fmt);
		return EX_USAGE;
	}
	csv = fmt[0] == 'c';
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	memset(&w, 0, sizeof w);
	w.sp = &sp;
	w.sweep = sweep;
	buf_init(&w.job, SPOOL_JOB_MAX + 64);
	buf_init(&w.out, SPOOL_OUTCOME_MAX + 64);
	for (st = 0; st < ST_COUNT; st++) {
		sp.err[0] = 0;
		if ((rc = spool_list(&sp, (enum spool_state)st, xvisit, &w)) < 0) {
			ex = cli_failed(&sp, rc, "cannot list the %s orders", spool_state_name((enum spool_state)st));
			goto out;
		}
	}
	if (w.n == 0) {
		if (sweep)
			cli_hint_sweeps(&sp, sweep);
		else
			cli_warn("the spool holds no jobs");
		ex = EX_NONE;
		goto out;
	}
	qsort(w.rows, w.n, sizeof *w.rows, by_id);

	/* columns: the parameters that vary, then every outcome member */
	memset(&params, 0, sizeof params);
	memset(&outs, 0, sizeof outs);
	for (r = 0; r < w.n; r++) {
		keys_of(w.rows[r].job, &params, 1);
		keys_of(w.rows[r].outcome, &outs, 0);
	}
	pv = calloc(w.n * EXPORT_COLS_MAX + 1, sizeof *pv);
	ov = calloc(w.n * EXPORT_COLS_MAX + 1, sizeof *ov);
	if (!pv || !ov) {
		cli_warn("out of memory");
		ex = EX_ERR;
		goto out;
	}
	for (r = 0; r < w.n; r++) {
		for (k = 0; k < params.n; k++)
			pv[r * EXPORT_COLS_MAX + k] = member(w.rows[r].job, params.name[k]);
		for (k = 0; k < outs.n; k++)
			ov[r * EXPORT_COLS_MAX + k] = member(w.rows[r].outcome, outs.name[k]);
	}
	for (k = 0; k < params.n; k++) {
		if (w.n == 1) {
			varies[k] = strcmp(params.name[k], "scriptName") != 0 &&
				    strcmp(params.name[k], "command") != 0;
			continue;
		}
		for (r = 1; r < w.n && !varies[k]; r++) {
			const char *x = pv[k], *y = pv[r * EXPORT_COLS_MAX + k];

			varies[k] = (!x) != (!y) || (x && strcmp(x, y) != 0);
		}
	}

	if (csv) {
		fputs("id,state,attempt", stdout);
		for (k = 0; k < params.n; k++)
			if (varies[k]) {
				putchar(',');
				csv_name("", params.name[k]);
			}
		for (k = 0; k < outs.n; k++) {
			int clash = col_find(&params, outs.name[k]) >= 0 && varies[col_find(&params, outs.name[k])];

			clash |= !strcmp(outs.name[k], "id") || !strcmp(outs.name[k], "state") ||
				 !strcmp(outs.name[k], "attempt");
			putchar(',');
			csv_name(clash ? "outcome." : "", outs.name[k]);
		}
		putchar('\n');
	}
	for (r = 0; r < w.n; r++) {
		const struct xrow *x = &w.rows[r];

		if (csv) {
			printf("%s,%s,%d", x->id, spool_state_name(x->state), x->attempt);
			for (k = 0; k < params.n; k++)
				if (varies[k]) {
					putchar(',');
					csv_field(pv[r * EXPORT_COLS_MAX + k]);
				}
			for (k = 0; k < outs.n; k++) {
				putchar(',');
				csv_field(ov[r * EXPORT_COLS_MAX + k]);
			}
			putchar('\n');
			continue;
		}
		printf("{\"id\":\"%s\",\"state\":\"%s\",\"attempt\":%d", x->id,
		       spool_state_name(x->state), x->attempt);
		for (k = 0; k < params.n; k++)
			if (varies[k] && pv[r * EXPORT_COLS_MAX + k]) {
				struct buf q;

				buf_init(&q, 4 * KEY_MAX);
				buf_json_str(&q, params.name[k], strlen(params.name[k]));
				printf(",%s:%s", q.data, pv[r * EXPORT_COLS_MAX + k]);
				buf_release(&q);
			}
		for (k = 0; k < outs.n; k++)
			if (ov[r * EXPORT_COLS_MAX + k]) {
				int p = col_find(&params, outs.name[k]);
				int clash = (p >= 0 && varies[p]) || !strcmp(outs.name[k], "id") ||
					    !strcmp(outs.name[k], "state") || !strcmp(outs.name[k], "attempt");
				char name[KEY_MAX + 16];
				struct buf q;

				snprintf(name, sizeof name, "%s%s", clash ? "outcome." : "", outs.name[k]);
				buf_init(&q, 4 * sizeof name);
				buf_json_str(&q, name, strlen(name));
				printf(",%s:%s", q.data, ov[r * EXPORT_COLS_MAX + k]);
				buf_release(&q);
			}
		fputs("}\n", stdout);
	}
out:
	if (pv)
		for (r = 0; r < w.n * EXPORT_COLS_MAX; r++)
			free(pv[r]);
	if (ov)
		for (r = 0; r < w.n * EXPORT_COLS_MAX; r++)
			free(ov[r]);
	free(pv);
	free(ov);
	for (r = 0; r < w.n; r++) {
		free(w.rows[r].job);
		free(w.rows[r].outcome);
	}
	free(w.rows);
	buf_release(&w.job);
	buf_release(&w.out);
	spool_close(&sp);
	return ex;
}

/* ---- hints: the names that exist ---------------------------------------------- */

#define HINT_NAMES_MAX 20

struct hwalk {
	struct spool *sp;
	int outcomes;		/* 1: numeric outcome members of done orders; 0: sweep names */
	const char *sweep;	/* with outcomes: only this sweep's */
	struct cols names;
	long more;
	struct buf doc;
};

static void hint_add(struct hwalk *w, const char *name)
{
	if (col_find(&w->names, name) >= 0)
		return;
	if (w->names.n == HINT_NAMES_MAX) {
		w->more++;
		return;
	}
	snprintf(w->names.name[w->names.n++], KEY_MAX, "%s", name);
}

static int hvisit(void *arg, const struct order *o)
{
	struct hwalk *w = arg;
	struct json j;
	char err[8], k[KEY_MAX];
	int i, m;

	if (spool_read_job(w->sp, o->n.id, &w->doc) < 0)
		return 0;
	if (!w->outcomes) {
		if (json_parse(&j, w->doc.data, w->doc.len, JSON_TOKENS_MAX, err, sizeof err) < 0)
			return 0;
		if (json_str(&j, json_get(&j, 0, "sweep"), k, sizeof k) == 0)
			hint_add(w, k);
		json_release(&j);
		return 0;
	}
	if (!job_in_sweep(w->doc.data, w->doc.len, w->sweep) || spool_read_outcome(w->sp, o, &w->doc) < 0 ||
	    json_parse(&j, w->doc.data, w->doc.len, JSON_TOKENS_MAX, err, sizeof err) < 0)
		return 0;
	for (i = 1, m = 0; j.tok[0].type == JSMN_OBJECT && m < j.tok[0].size; m++, i = json_skip(&j, i + 1)) {
		double v;

		if (json_str(&j, i, k, sizeof k) == 0 && json_num(&j, i + 1, &v) == 0)
			hint_add(w, k);
	}
	json_release(&j);
	return 0;
}

static void hint_print(struct hwalk *w, const char *what, const char *none)
{
	struct buf b;
	int k;

	buf_init(&b, 64 * KEY_MAX);
	for (k = 0; k < w->names.n; k++)
		buf_printf(&b, "%s%s", k ? ", " : "", w->names.name[k]);
	if (w->more)
		buf_printf(&b, " and %ld more", w->more);
	if (w->names.n)
		cli_warn("%s: %s", what, b.data);
	else
		cli_warn("%s", none);
	buf_release(&b);
}

void cli_hint_sweeps(struct spool *sp, const char *sweep)
{
	struct hwalk w;
	int st;

	memset(&w, 0, sizeof w);
	w.sp = sp;
	buf_init(&w.doc, SPOOL_JOB_MAX + 64);
	for (st = 0; st < ST_COUNT; st++)
		spool_scan(sp, (enum spool_state)st, hvisit, &w);
	cli_warn("no job is in sweep '%s'", sweep);
	hint_print(&w, "the sweeps there are", "no job has a \"sweep\" (spoolctl sweep names them)");
	buf_release(&w.doc);
}

void cli_hint_keys(struct spool *sp, const char *key, const char *sweep)
{
	struct hwalk w;

	memset(&w, 0, sizeof w);
	w.sp = sp;
	w.outcomes = 1;
	w.sweep = sweep;
	buf_init(&w.doc, SPOOL_JOB_MAX + SPOOL_OUTCOME_MAX);
	spool_scan(sp, ST_DONE, hvisit, &w);
	cli_warn("no done job has a numeric outcome member '%s'", key);
	hint_print(&w, "the numeric outcome keys there are (try --key)", "the done jobs' outcomes hold no numbers");
	buf_release(&w.doc);
}
