/*
 * stop: the early-stopping rules (stop.h): parsing a job's rule, reading a
 * point from a series line, judging it, and a cache of the finished runs'
 * series so that judging a point costs no file read. The series of attempt
 * AAA of order ID is logs/FF/ID.AAA.series, one JSON object per line
 * (spool-layout.md); a torn last line is skipped, as every reader does.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "stop.h"

const char *stop_kind_name(enum stop_kind k)
{
	return k == STOP_MEDIAN ? "median" : k == STOP_THRESHOLD ? "threshold" : "none";
}

static int key_valid(const char *k)
{
	size_t i;

	for (i = 0; k[i]; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-' || k[i] == '.'))
			return 0;
	return i > 0;
}

/* A finite number in [lo, hi] at token v, else the error naming member. */
static int num_member(const struct json *j, int v, const char *member, double lo,
		      double hi, double *out, char *err, size_t errlen)
{
	double d;

	if (json_num(j, v, &d) < 0 || !isfinite(d) || d < lo || d > hi) {
		if (hi < 1e300)
			snprintf(err, errlen, "\"spool\".\"stop\".\"%s\" must be a number from %g to %g",
				 member, lo, hi);
		else if (lo > -1e300)
			snprintf(err, errlen, "\"spool\".\"stop\".\"%s\" must be a number, at least %g",
				 member, lo);
		else
			snprintf(err, errlen, "\"spool\".\"stop\".\"%s\" must be a finite number", member);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

int stop_rule_parse(const struct json *j, int t, struct stop_rule *r,
		    char *err, size_t errlen)
{
	static const char *const common[] = { "rule", "key", "mode" };
	static const char *const median[] = { "warmup", "minRuns" };
	static const char *const thresh[] = { "value", "after" };
	char name[16], mode[8];
	int rt, k, i, n, have_value = 0;
	double d;

	memset(r, 0, sizeof(*r));
	if (t < 0 || j->tok[t].type != JSMN_OBJECT) {
		snprintf(err, errlen, "\"spool\".\"stop\" must be an object like {\"rule\": \"median\", \"key\": \"loss\"}");
		return -EINVAL;
	}
	rt = json_get(j, t, "rule");
	if (rt < 0 || json_str(j, rt, name, sizeof(name)) < 0 ||
	    (strcmp(name, "median") && strcmp(name, "threshold"))) {
		char q[48];

		snprintf(err, errlen, "\"spool\".\"stop\".\"rule\" must be \"median\" or \"threshold\"%s%s%s",
			 rt < 0 ? " (it is missing)" : ", not \"", rt < 0 ? "" : json_quote(j, rt, q, sizeof(q)), rt < 0 ? "" : "\"");
		return -EINVAL;
	}
	r->kind = name[0] == 'm' ? STOP_MEDIAN : STOP_THRESHOLD;
	r->min_runs = 3;
	if (json_str(j, json_get(j, t, "key"), r->key, sizeof(r->key)) < 0 || !key_valid(r->key)) {
		snprintf(err, errlen, "\"spool\".\"stop\".\"key\" must name the metric: 1 to %d of [A-Za-z0-9_.-]",
			 STOP_KEY_MAX);
		return -EINVAL;
	}
	k = json_get(j, t, "mode");
	if (k >= 0) {
		if (json_str(j, k, mode, sizeof(mode)) < 0 || (strcmp(mode, "min") && strcmp(mode, "max"))) {
			snprintf(err, errlen, "\"spool\".\"stop\".\"mode\" must be \"min\" or \"max\"");
			return -EINVAL;
		}
		r->maximize = mode[1] == 'a';
	}
	n = j->tok[t].size;
	for (i = 0, k = t + 1; i < n; i++, k = json_skip(j, k + 1)) {
		const char *const *own = r->kind == STOP_MEDIAN ? median : thresh;
		char m[16], q[48];
		size_t c;
		int known = 0;

		if (json_str(j, k, m, sizeof(m)) == 0)
			for (c = 0; c < 3 && !known; c++)
				known = !strcmp(m, common[c]) || (c < 2 && !strcmp(m, own[c]));
		if (!known) {
			snprintf(err, errlen, "unknown member \"spool\".\"stop\".\"%s\" of a %s rule (known: rule, key, mode, %s)",
				 json_quote(j, k, q, sizeof(q)), name,
				 r->kind == STOP_MEDIAN ? "warmup, minRuns" : "value, after");
			return -EINVAL;
		}
		if (!strcmp(m, "warmup") &&
		    num_member(j, k + 1, m, 0, 1e308, &r->warmup, err, errlen) < 0)
			return -EINVAL;
		if (!strcmp(m, "after") &&
		    num_member(j, k + 1, m, 0, 1e308, &r->after, err, errlen) < 0)
			return -EINVAL;
		if (!strcmp(m, "value")) {
			if (num_member(j, k + 1, m, -1e308, 1e308, &r->value, err, errlen) < 0)
				return -EINVAL;
			have_value = 1;
		}
		if (!strcmp(m, "minRuns")) {
			if (num_member(j, k + 1, m, 1, STOP_RUNS_MAX, &d, err, errlen) < 0 || d != floor(d)) {
				snprintf(err, errlen, "\"spool\".\"stop\".\"minRuns\" must be an integer from 1 to %d",
					 STOP_RUNS_MAX);
				return -EINVAL;
			}
			r->min_runs = (int)d;
		}
	}
	if (r->kind == STOP_THRESHOLD && !have_value) {
		snprintf(err, errlen, "a threshold rule needs \"spool\".\"stop\".\"value\", a number");
		return -EINVAL;
	}
	return 0;
}

int stop_rule_of_job(const char *json, size_t len, struct stop_rule *r, char *sweep)
{
	struct json j;
	char err[256];
	int sp, st, rc = 0;

	memset(r, 0, sizeof(*r));
	sweep[0] = '\0';
	if (json_parse(&j, json, len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return -EINVAL;
	if (j.tok[0].type != JSMN_OBJECT)
		goto out;
	if (json_str(&j, json_get(&j, 0, "sweep"), sweep, STOP_SWEEP_MAX + 1) < 0)
		sweep[0] = '\0';
	sp = json_get(&j, 0, "spool");
	st = sp >= 0 && j.tok[sp].type == JSMN_OBJECT ? json_get(&j, sp, "stop") : -1;
	if (st >= 0)
		rc = stop_rule_parse(&j, st, r, err, sizeof(err)) < 0 ? -EINVAL : 1;
out:
	json_release(&j);
	return rc;
}

int stop_point(const char *line, size_t n, const char *key, double *step,
	       double *value)
{
	struct json j;
	int ok = 0, s;

	if (n < 2 || line[0] != '{' ||
	    json_parse(&j, line, n, 4096, NULL, 0) < 0)
		return 0;
	if (j.tok[0].type == JSMN_OBJECT) {
		s = json_get(&j, 0, "step");
		if (s < 0)
			s = json_get(&j, 0, "epoch");
		ok = s >= 0 && json_num(&j, s, step) == 0 && isfinite(*step) &&
		     json_num(&j, json_get(&j, 0, key), value) == 0 && isfinite(*value);
	}
	json_release(&j);
	return ok;
}

/* ---- the cache of finished runs -------------------------------------------- */

struct run {
	size_t n;		/* points, steps ascending (as printed; kept sorted) */
	double *step, *val;
};

struct sweep_runs {
	char sweep[STOP_SWEEP_MAX + 1];
	char key[STOP_KEY_MAX + 1];
	int64_t next_ms;	/* list done/ again from then on (0: now) */
	int64_t used_ms;	/* for eviction */
	struct run runs[STOP_RUNS_MAX];
	size_t nruns;
	/* done orders already read (sorted ids): each is read once */
	char (*seen)[SPOOL_ID_LEN + 1];
	size_t nseen, capseen;
};

struct stop_cache {
	struct sweep_runs *s[STOP_SWEEPS_MAX];
	struct buf job, doc;
};

struct stop_cache *stop_cache_new(void)
{
	struct stop_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	buf_init(&c->job, SPOOL_JOB_MAX + 64);
	buf_init(&c->doc, STOP_SERIES_READ_MAX);
	return c;
}

static void runs_free(struct sweep_runs *s)
{
	size_t i;

	for (i = 0; i < s->nruns; i++) {
		free(s->runs[i].step);
		free(s->runs[i].val);
	}
	free(s->seen);
	free(s);
}

void stop_cache_free(struct stop_cache *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < STOP_SWEEPS_MAX; i++)
		if (c->s[i])
			runs_free(c->s[i]);
	buf_release(&c->job);
	buf_release(&c->doc);
	free(c);
}

/* The entry of (sweep, key), made (evicting the least used) when missing. */
static struct sweep_runs *entry(struct stop_cache *c, const char *sweep, const char *key)
{
	int i, old = 0;

	for (i = 0; i < STOP_SWEEPS_MAX; i++)
		if (c->s[i] && !strcmp(c->s[i]->sweep, sweep) && !strcmp(c->s[i]->key, key))
			return c->s[i];
	for (i = 0; i < STOP_SWEEPS_MAX; i++) {
		if (!c->s[i]) {
			old = i;
			break;
		}
		if (c->s[i]->used_ms < c->s[old]->used_ms)
			old = i;
	}
	if (c->s[old]) {
		runs_free(c->s[old]);
		c->s[old] = NULL;
	}
	if (!(c->s[old] = calloc(1, sizeof(struct sweep_runs))))
		return NULL;
	snprintf(c->s[old]->sweep, sizeof(c->s[old]->sweep), "%s", sweep);
	snprintf(c->s[old]->key, sizeof(c->s[old]->key), "%s", key);
	return c->s[old];
}

static int seen_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SPOOL_ID_LEN);
}

static int seen_has(const struct sweep_runs *c, const char *id)
{
	return c->nseen && bsearch(id, c->seen, c->nseen, sizeof(*c->seen), seen_cmp) != NULL;
}

/*
 * Remember id as read. 0, or -ENOSPC when the set is full (or no memory):
 * the order will be read again next time, so it must not be kept as a run.
 */
static int seen_add(struct sweep_runs *c, const char *id)
{
	size_t lo = 0, hi = c->nseen;

	if (c->nseen >= STOP_SEEN_MAX ||
	    sp_reserve(&c->seen, &c->capseen, c->nseen + 1, sizeof(*c->seen)) < 0)
		return -ENOSPC;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(c->seen[mid], id, SPOOL_ID_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(c->seen[lo + 1], c->seen[lo], (c->nseen - lo) * sizeof(*c->seen));
	memcpy(c->seen[lo], id, SPOOL_ID_LEN + 1);
	c->nseen++;
	return 0;
}

/* The job's "sweep" member is sweep. */
static int job_in_sweep(const struct buf *job, const char *sweep)
{
	struct json j;
	char name[STOP_SWEEP_MAX + 2];
	int ok;

	if (json_parse(&j, job->data, job->len, JSON_TOKENS_MAX, NULL, 0) < 0)
		return 0;
	ok = j.tok[0].type == JSMN_OBJECT &&
	     json_str(&j, json_get(&j, 0, "sweep"), name, sizeof(name)) == 0 &&
	     !strcmp(name, sweep);
	json_release(&j);
	return ok;
}

/* Each point of the series of run o (spool_series_read: whole lines only). */
static int each_point(struct spool *sp, const struct order *o, struct buf *b,
		      int (*fn)(void *arg, const char *line, size_t n), void *arg)
{
	size_t off = 0;
	int r, trunc;

	buf_reset(b);
	if ((r = spool_series_read(sp, o->n.id, o->n.attempt, b, &trunc)) < 0)
		return r;
	while (off < b->len) {
		const char *line = b->data + off, *nl = memchr(line, '\n', b->len - off);

		if (!nl)
			break;
		off = (size_t)(nl - b->data) + 1;
		if ((r = fn(arg, line, (size_t)(nl - line))) != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

struct series_read {
	struct run *run;
	const char *key;
	size_t cap;
};

static int add_point(void *arg, const char *line, size_t n)
{
	struct series_read *sr = arg;
	struct run *run = sr->run;
	double step, v;

	if (run->n >= STOP_STEPS_MAX)
		return 1;
	if (!stop_point(line, n, sr->key, &step, &v))
		return 0;	/* not a point of this key (a step that is no number...) */
	if (run->n && step <= run->step[run->n - 1])
		return 0;	/* steps go forward; a restarted count is not this run's */
	if (run->n == sr->cap) {
		size_t nc = sr->cap ? sr->cap * 2 : 64;
		double *s2 = realloc(run->step, nc * sizeof(double)), *v2;

		if (!s2)
			return -ENOMEM;
		run->step = s2;
		if (!(v2 = realloc(run->val, nc * sizeof(double))))
			return -ENOMEM;
		run->val = v2;
		sr->cap = nc;
	}
	run->step[run->n] = step;
	run->val[run->n] = v;
	run->n++;
	return 0;
}

/* Read run o's series of key into run (points with ascending steps only). */
static int read_series(struct stop_cache *c, struct spool *sp, const struct order *o,
		       const char *key, struct run *run)
{
	struct series_read sr = { run, key, 0 };

	return each_point(sp, o, &c->doc, add_point, &sr);
}

struct refresh {
	struct stop_cache *c;
	struct spool *sp;
	struct sweep_runs *s;
	int err;
};

static int refresh_visit(void *arg, const struct order *o)
{
	struct refresh *w = arg;
	struct stop_cache *c = w->c;
	struct run run;
	int r;

	if (seen_has(w->s, o->n.id))
		return 0;
	if (spool_read_job(w->sp, o->n.id, &c->job) < 0)
		return 0;
	if (!job_in_sweep(&c->job, w->s->sweep))
		goto seen;
	/* a pruned run did not finish: it says nothing of how far runs go */
	if (spool_read_outcome(w->sp, o, &c->doc) < 0)
		return 0;	/* not filed yet: read it again next time */
	if (stop_outcome_pruned(c->doc.data, c->doc.len) || w->s->nruns >= STOP_RUNS_MAX)
		goto seen;
	memset(&run, 0, sizeof(run));
	r = read_series(c, w->sp, o, w->s->key, &run);
	if (r < 0) {
		free(run.step);
		free(run.val);
		if (r != -ENOMEM)
			return 0;	/* unreadable now: read it again next time */
		w->err = r;
		return 1;
	}
	if (run.n && seen_add(w->s, o->n.id) == 0) {
		w->s->runs[w->s->nruns++] = run;
		return 0;
	}
	/* no point yet (a remote run's series may come after its end): read
	 * it again next time */
	free(run.step);
	free(run.val);
	return 0;
seen:
	seen_add(w->s, o->n.id);
	return 0;
}

/* Bring the entry up to date: the done orders it has not read yet. */
static int refresh(struct stop_cache *c, struct spool *sp, struct sweep_runs *s)
{
	struct refresh w = { c, sp, s, 0 };
	int64_t now = now_ms();
	int r;

	if (s->next_ms && now < s->next_ms)
		return 0;
	/* in directory order, storing no names; a listing that costs T waits
	 * 10 T before the next, so that a huge done/ is not walked nonstop */
	r = spool_scan(sp, ST_DONE, refresh_visit, &w);
	s->next_ms = now_ms();
	s->next_ms += (s->next_ms - now) * 10 > STOP_REFRESH_MS ? (s->next_ms - now) * 10
								 : STOP_REFRESH_MS;
	return w.err ? w.err : r < 0 ? r : 0;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The value of run at step k: at its last point at or before k, if it reached k. */
static int run_at(const struct run *run, double k, double *v)
{
	size_t lo = 0, hi = run->n;

	if (!run->n || run->step[run->n - 1] < k)
		return 0;
	while (lo < hi) {	/* first point with step > k */
		size_t mid = (lo + hi) / 2;

		if (run->step[mid] <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;	/* its first point comes after k */
	*v = run->val[lo - 1];
	return 1;
}

int stop_judge(struct stop_cache *c, struct spool *sp, const struct stop_rule *r,
	       const char *sweep, const char *self_id, double step, double value,
	       struct stop_verdict *v)
{
	double vals[STOP_RUNS_MAX];
	struct sweep_runs *s;
	size_t i;
	int n = 0, rc;

	(void)self_id;	/* a running order is never in done/ */
	memset(v, 0, sizeof(*v));
	v->step = step;
	v->value = value;
	if (r->kind == STOP_THRESHOLD) {
		v->ref = r->value;
		v->has_ref = 1;
		v->stop = step >= r->after &&
			  (r->maximize ? value < r->value : value > r->value);
		return 0;
	}
	if (r->kind != STOP_MEDIAN || !c || !sp || !sweep || !sweep[0] || step < r->warmup)
		return 0;
	if (!(s = entry(c, sweep, r->key)))
		return -ENOMEM;
	s->used_ms = now_ms();
	if ((rc = refresh(c, sp, s)) < 0)
		return rc;
	for (i = 0; i < s->nruns; i++)
		if (run_at(&s->runs[i], step, &vals[n]))
			n++;
	v->runs = n;
	if (n < r->min_runs || n == 0)
		return 0;
	qsort(vals, (size_t)n, sizeof(double), dbl_cmp);
	v->ref = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
	v->has_ref = 1;
	v->stop = r->maximize ? value < v->ref : value > v->ref;
	return 0;
}

int stop_pruned_json(const struct stop_rule *r, const struct stop_verdict *v,
		     struct buf *b)
{
	int e;

	if ((e = buf_printf(b, "{\"rule\":\"%s\",\"key\":", stop_kind_name(r->kind))) < 0 ||
	    (e = buf_json_str(b, r->key, strlen(r->key))) < 0 ||
	    (e = buf_printf(b, ",\"mode\":\"%s\",\"step\":%.17g,\"value\":%.17g",
			    r->maximize ? "max" : "min", v->step, v->value)) < 0)
		return e;
	if (r->kind == STOP_MEDIAN)
		e = buf_printf(b, ",\"median\":%.17g,\"runs\":%d}", v->ref, v->runs);
	else
		e = buf_printf(b, ",\"threshold\":%.17g}", v->ref);
	return e;
}

int stop_outcome_pruned(const char *s, size_t n)
{
	struct json j;
	int p;

	if (!s || !n || json_parse(&j, s, n, JSON_TOKENS_MAX, NULL, 0) < 0)
		return 0;
	p = j.tok[0].type == JSMN_OBJECT && (p = json_get(&j, 0, "pruned")) >= 0 &&
	    j.tok[p].type == JSMN_OBJECT;
	json_release(&j);
	return p;
}

/* ---- what pruning saved ------------------------------------------------------ */

struct savings {
	struct spool *sp;
	const char *sweep;
	struct buf job, out;
	double *fin_steps, *fin_wall;	/* finished runs: last step, wall s */
	double *pr_steps, *pr_wall;	/* pruned runs: the step, wall s */
	size_t nfin, npr, capfin, cappr, capfw, cappw;
	char err;
};

struct last {
	double step;
	int got;
};

static int max_step(void *arg, const char *line, size_t n)
{
	struct last *l = arg;
	struct json j;
	double s;
	int t;

	if (json_parse(&j, line, n, 4096, NULL, 0) < 0)
		return 0;
	if (j.tok[0].type == JSMN_OBJECT) {
		t = json_get(&j, 0, "step");
		if (t < 0)
			t = json_get(&j, 0, "epoch");
		if (t >= 0 && json_num(&j, t, &s) == 0 && isfinite(s) && (!l->got || s > l->step)) {
			l->step = s;
			l->got = 1;
		}
	}
	json_release(&j);
	return 0;
}

/* The last step of run o's series: how far it went. 1 (*out set) or 0. */
static int last_step(struct spool *sp, const struct order *o, struct buf *b, double *out)
{
	struct last l = { 0, 0 };

	if (each_point(sp, o, b, max_step, &l) < 0 || !l.got)
		return 0;
	*out = l.step;
	return 1;
}

static int push(double **arr, size_t *cap, size_t n, double v)
{
	if (sp_reserve(arr, cap, n + 1, sizeof(double)) < 0)
		return -ENOMEM;
	(*arr)[n] = v;
	return 0;
}

static int savings_visit(void *arg, const struct order *o)
{
	struct savings *w = arg;
	struct json j;
	double wall = 0, step = 0;
	int p, rn, wm, pruned;

	if (spool_read_job(w->sp, o->n.id, &w->job) < 0 || !job_in_sweep(&w->job, w->sweep))
		return 0;
	if (spool_read_outcome(w->sp, o, &w->out) < 0 ||
	    json_parse(&j, w->out.data, w->out.len, JSON_TOKENS_MAX, NULL, 0) < 0)
		return 0;
	rn = json_get(&j, 0, "_run");
	wm = rn >= 0 ? json_get(&j, rn, "wallMs") : -1;
	if (wm >= 0 && json_num(&j, wm, &wall) == 0)
		wall /= 1000.0;
	p = json_get(&j, 0, "pruned");
	pruned = p >= 0 && j.tok[p].type == JSMN_OBJECT;
	if (pruned)
		json_num(&j, json_get(&j, p, "step"), &step);
	json_release(&j);
	if (pruned) {
		if (push(&w->pr_steps, &w->cappr, w->npr, step) < 0 ||
		    push(&w->pr_wall, &w->cappw, w->npr, wall) < 0)
			return -ENOMEM;
		w->npr++;
	} else if (last_step(w->sp, o, &w->out, &step)) {
		if (push(&w->fin_steps, &w->capfin, w->nfin, step) < 0 ||
		    push(&w->fin_wall, &w->capfw, w->nfin, wall) < 0)
			return -ENOMEM;
		w->nfin++;
	}
	return 0;
}

static double median_of(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(double), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int stop_savings_json(struct spool *sp, const char *sweep, struct buf *b)
{
	struct savings w;
	double full_steps, full_wall, run = 0, saved = 0, wsaved = 0;
	size_t i;
	int r;

	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.sweep = sweep;
	buf_init(&w.job, SPOOL_JOB_MAX + 64);
	buf_init(&w.out, STOP_SERIES_READ_MAX);
	r = spool_scan(sp, ST_DONE, savings_visit, &w);
	if (r < 0)
		goto out;
	full_steps = median_of(w.fin_steps, w.nfin);
	full_wall = median_of(w.fin_wall, w.nfin);
	for (i = 0; i < w.nfin; i++)
		run += w.fin_steps[i];
	for (i = 0; i < w.npr; i++) {
		run += w.pr_steps[i];
		if (w.nfin && full_steps > w.pr_steps[i]) {
			saved += full_steps - w.pr_steps[i];
			/* wall time not run: the finished runs' median, less what it ran */
			if (full_wall > w.pr_wall[i])
				wsaved += full_wall - w.pr_wall[i];
		}
	}
	r = buf_printf(b, "{\"pruned\":%zu,\"finished\":%zu,\"stepsRun\":%.17g,"
		       "\"stepsSaved\":%.17g,\"wallSecondsSaved\":%.3f,\"savedFraction\":%.4f}",
		       w.npr, w.nfin, run, saved, wsaved,
		       run + saved > 0 ? saved / (run + saved) : 0.0);
out:
	free(w.fin_steps);
	free(w.fin_wall);
	free(w.pr_steps);
	free(w.pr_wall);
	buf_release(&w.job);
	buf_release(&w.out);
	return r;
}
