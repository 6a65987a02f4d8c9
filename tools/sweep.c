/*
 * sweep: a base job plus a grid and random samples, expanded into jobs.
 * See sweep.h for the spec.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stop.h"
#include "sweep.h"

#define PARAMS_MAX 64

struct param {
	char name[128];
	int tok;		/* grid: the values array; random: the DIST object */
};

/* splitmix64: small, seedable, good enough to spread samples. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit_rand(uint64_t *s)
{
	return (double)(next_rand(s) >> 11) / (double)(1ULL << 53);
}

/* Append one random draw from DIST token d to b. */
static int draw(const struct json *j, int d, uint64_t *rng, struct buf *b,
		const char *pname, char *err, size_t errlen)
{
	int k;
	double lo, hi;

	if (j->tok[d].type != JSMN_OBJECT || j->tok[d].size != 1)
		goto bad;
	k = d + 1;
	if (json_eq(j, k, "choice")) {
		int arr = k + 1, n, c, i;

		if (j->tok[arr].type != JSMN_ARRAY || (n = j->tok[arr].size) < 1)
			goto bad;
		c = (int)(next_rand(rng) % (uint64_t)n);
		for (i = 0, arr++; i < c; i++)
			arr = json_skip(j, arr);
		return json_append_raw(j, arr, b);
	}
	if (j->tok[k + 1].type != JSMN_ARRAY || j->tok[k + 1].size != 2 ||
	    json_num(j, k + 2, &lo) < 0 || json_num(j, json_skip(j, k + 2), &hi) < 0 || hi < lo)
		goto bad;
	if (json_eq(j, k, "uniform"))
		return buf_printf(b, "%.6g", lo + (hi - lo) * unit_rand(rng));
	if (json_eq(j, k, "logUniform")) {
		if (lo <= 0)
			goto bad;
		return buf_printf(b, "%.6g", exp(log(lo) + (log(hi) - log(lo)) * unit_rand(rng)));
	}
	if (json_eq(j, k, "int")) {
		long long l = (long long)ceil(lo), h = (long long)floor(hi);

		if (h < l)
			goto bad;
		return buf_printf(b, "%lld", l + (long long)(next_rand(rng) % (uint64_t)(h - l + 1)));
	}
bad:
	snprintf(err, errlen, "random parameter \"%s\": want {\"uniform\"|\"logUniform\"|\"int\": [lo, hi]} or {\"choice\": [values...]}", pname);
	return -EINVAL;
}

static int read_params(const struct json *j, int obj, struct param *p, int *n,
		       int want_array, const char *what, char *err, size_t errlen)
{
	int k, c;

	if (obj < 0)
		return 0;
	if (j->tok[obj].type != JSMN_OBJECT) {
		snprintf(err, errlen, "\"%s\" must be an object of parameters", what);
		return -EINVAL;
	}
	for (k = 0, c = obj + 1; k < j->tok[obj].size; k++, c = json_skip(j, c + 1)) {
		if (*n >= PARAMS_MAX) {
			snprintf(err, errlen, "more than %d parameters", PARAMS_MAX);
			return -EINVAL;
		}
		if (json_str(j, c, p[*n].name, sizeof(p[*n].name)) < 0 || !p[*n].name[0] ||
		    strcmp(p[*n].name, "_id") == 0 || strcmp(p[*n].name, "sweep") == 0) {
			snprintf(err, errlen, "bad parameter name in \"%s\"", what);
			return -EINVAL;
		}
		if (want_array && (j->tok[c + 1].type != JSMN_ARRAY || j->tok[c + 1].size < 1)) {
			snprintf(err, errlen, "grid parameter \"%s\" must be a non-empty array of values", p[*n].name);
			return -EINVAL;
		}
		p[*n].tok = c + 1;
		(*n)++;
	}
	return 0;
}

static int is_param(const struct param *p, int n, const struct json *j, int key)
{
	int i;

	for (i = 0; i < n; i++)
		if (json_eq(j, key, p[i].name))
			return 1;
	return 0;
}

/*
 * The job's "spool" options with the sweep's stopping rule (token stop) as
 * "stop": the base's own options, less any "stop" of its own, then it.
 */
static int spool_with_stop(const struct json *j, int base, int stop, struct buf *doc)
{
	int sp = json_get(j, base, "spool"), k, c, r;

	r = buf_puts(doc, "\"spool\":{");
	if (sp >= 0 && j->tok[sp].type == JSMN_OBJECT)
		for (k = 0, c = sp + 1; r == 0 && k < j->tok[sp].size; k++, c = json_skip(j, c + 1)) {
			if (json_eq(j, c, "stop"))
				continue;
			if ((r = json_append_raw(j, c, doc)) == 0 && (r = buf_puts(doc, ":")) == 0 &&
			    (r = json_append_raw(j, c + 1, doc)) == 0)
				r = buf_puts(doc, ",");
		}
	if (r == 0 && (r = buf_puts(doc, "\"stop\":")) == 0 &&
	    (r = json_append_raw(j, stop, doc)) == 0)
		r = buf_puts(doc, "},");
	return r;
}

/* Build one job: base minus swept members, the chosen values, the sweep name. */
static int build(struct sweep *s, const struct json *j, int base, int stop,
		 const struct param *gp, int ng, const int *pick,
		 const struct param *rp, int nr, uint64_t *rng, char *err, size_t errlen)
{
	struct buf doc, canon;
	struct json d;
	struct sweep_job *job;
	int k, c, i, r;

	buf_init(&doc, SPOOL_JOB_MAX);
	buf_init(&canon, SPOOL_JOB_MAX);
	r = buf_puts(&doc, "{");
	for (k = 0, c = base + 1; r == 0 && k < j->tok[base].size; k++, c = json_skip(j, c + 1)) {
		if (is_param(gp, ng, j, c) || is_param(rp, nr, j, c) ||
		    json_eq(j, c, "_id") || json_eq(j, c, "sweep"))
			continue;
		if (stop >= 0 && json_eq(j, c, "spool"))
			continue;	/* written below, with the sweep's "stop" */
		if ((r = json_append_raw(j, c, &doc)) == 0 && (r = buf_puts(&doc, ":")) == 0 &&
		    (r = json_append_raw(j, c + 1, &doc)) == 0)
			r = buf_puts(&doc, ",");
	}
	for (i = 0; r == 0 && i < ng; i++) {
		int v = gp[i].tok + 1, q;

		for (q = 0; q < pick[i]; q++)
			v = json_skip(j, v);
		if ((r = buf_json_str(&doc, gp[i].name, strlen(gp[i].name))) == 0 &&
		    (r = buf_puts(&doc, ":")) == 0 && (r = json_append_raw(j, v, &doc)) == 0)
			r = buf_puts(&doc, ",");
	}
	for (i = 0; r == 0 && i < nr; i++) {
		if ((r = buf_json_str(&doc, rp[i].name, strlen(rp[i].name))) == 0 &&
		    (r = buf_puts(&doc, ":")) == 0 &&
		    (r = draw(j, rp[i].tok, rng, &doc, rp[i].name, err, errlen)) == 0)
			r = buf_puts(&doc, ",");
	}
	if (r == 0 && stop >= 0)
		r = spool_with_stop(j, base, stop, &doc);
	if (r == 0 && (r = buf_puts(&doc, "\"sweep\":")) == 0 &&
	    (r = buf_json_str(&doc, s->name, strlen(s->name))) == 0)
		r = buf_puts(&doc, "}");
	if (r == 0 && (r = json_parse(&d, doc.data, doc.len, JSON_TOKENS_MAX, err, errlen)) == 0) {
		r = json_canon(&d, 0, &canon);
		json_release(&d);
	}
	if (r == 0) {
		void *p = realloc(s->jobs, (s->n + 1) * sizeof(*s->jobs));

		if (!p) {
			r = -ENOMEM;
		} else {
			s->jobs = p;
			job = &s->jobs[s->n++];
			id_from_content(canon.data, canon.len, job->id);
			job->len = canon.len;
			job->json = canon.data;	/* ownership moves */
			canon.data = NULL;
		}
	}
	if (r < 0 && !*err)
		snprintf(err, errlen, "cannot build a job: %s", strerror(-r));
	buf_release(&doc);
	buf_release(&canon);
	return r;
}

int sweep_expand(const char *spec, size_t len, struct sweep *s, char *err,
		 size_t errlen)
{
	struct param gp[PARAMS_MAX], rp[PARAMS_MAX];
	int pick[PARAMS_MAX];
	struct json j;
	int base, grid, rnd, stop, ng = 0, nr = 0, count = 1, i, r;
	uint64_t rng = 1;
	double total = 1;

	memset(s, 0, sizeof(*s));
	err[0] = '\0';
	if ((r = json_parse(&j, spec, len, JSON_TOKENS_MAX, err, errlen)) < 0)
		return -EINVAL;
	r = -EINVAL;
	if (j.tok[0].type != JSMN_OBJECT) {
		snprintf(err, errlen, "a sweep spec must be a JSON object");
		goto out;
	}
	if (json_str(&j, json_get(&j, 0, "name"), s->name, sizeof(s->name)) < 0 || !s->name[0]) {
		snprintf(err, errlen, "a sweep spec needs a \"name\" string");
		goto out;
	}
	base = json_get(&j, 0, "base");
	if (base < 0 || j.tok[base].type != JSMN_OBJECT || (json_get(&j, base, "scriptName") < 0 && json_get(&j, base, "command") < 0)) {
		snprintf(err, errlen, "a sweep spec needs a \"base\" job object with \"scriptName\" or \"command\"");
		goto out;
	}
	/* a stopping rule for every run of the sweep: checked here, in the
	 * sweep's words, before any job is built */
	stop = json_get(&j, 0, "stop");
	if (stop >= 0) {
		struct stop_rule rule;
		char why[256];

		if (stop_rule_parse(&j, stop, &rule, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "\"stop\": %s", why);
			goto out;
		}
	}
	grid = json_get(&j, 0, "grid");
	if (read_params(&j, grid, gp, &ng, 1, "grid", err, errlen) < 0)
		goto out;
	rnd = json_get(&j, 0, "random");
	if (rnd >= 0) {
		int64_t v;

		if (j.tok[rnd].type != JSMN_OBJECT ||
		    json_int(&j, json_get(&j, rnd, "count"), &v) < 0 || v < 1 || v > SWEEP_JOBS_MAX) {
			snprintf(err, errlen, "\"random\" needs a \"count\" from 1 to %d", SWEEP_JOBS_MAX);
			goto out;
		}
		count = (int)v;
		if (json_int(&j, json_get(&j, rnd, "seed"), &v) == 0)
			rng = (uint64_t)v;
		if (read_params(&j, json_get(&j, rnd, "params"), rp, &nr, 0, "random.params", err, errlen) < 0)
			goto out;
	}
	for (i = 0; i < ng; i++)
		total *= j.tok[gp[i].tok].size;
	total *= count;
	if (total > SWEEP_JOBS_MAX) {
		snprintf(err, errlen, "the sweep has %.0f jobs, more than %d", total, SWEEP_JOBS_MAX);
		goto out;
	}
	memset(pick, 0, sizeof(pick));
	for (;;) {
		int c;

		for (c = 0; c < count; c++)
			if ((r = build(s, &j, base, stop, gp, ng, pick, rp, nr, &rng, err, errlen)) < 0)
				goto out;
		/* next grid point: an odometer over the grid's values */
		for (i = ng - 1; i >= 0; i--) {
			if (++pick[i] < j.tok[gp[i].tok].size)
				break;
			pick[i] = 0;
		}
		if (i < 0)
			break;
	}
	r = 0;
out:
	json_release(&j);
	if (r < 0)
		sweep_release(s);
	return r;
}

void sweep_release(struct sweep *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->jobs[i].json);
	free(s->jobs);
	s->jobs = NULL;
	s->n = 0;
}
