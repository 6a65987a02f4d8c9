/*
 * Unit tests of lib/stop.c: the rules as parsed (table-driven), points read
 * from lines, and judging against a real spool's finished runs: the median
 * at a step, pruned runs left out, a cache that does not read a run twice,
 * and its cap on runs.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"
#include "stop.h"

struct rrow {
	const char *rule;	/* the "stop" object */
	int ok;
	const char *err;	/* a substring of the refusal */
};

static const struct rrow rrows[] = {
	{ "{\"rule\":\"median\",\"key\":\"loss\"}", 1, NULL },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"mode\":\"max\",\"warmup\":5,\"minRuns\":3}", 1, NULL },
	{ "{\"rule\":\"threshold\",\"key\":\"val.acc\",\"value\":-2.5,\"after\":10}", 1, NULL },
	{ "{\"rule\":\"mean\",\"key\":\"loss\"}", 0, "must be \"median\" or \"threshold\", not \"mean\"" },
	{ "{\"key\":\"loss\"}", 0, "(it is missing)" },
	{ "{\"rule\":\"median\"}", 0, "\"key\" must name the metric" },
	{ "{\"rule\":\"median\",\"key\":\"a b\"}", 0, "\"key\" must name the metric" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"mode\":\"lowest\"}", 0, "\"mode\" must be" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"warmup\":\"5\"}", 0, "\"warmup\" must be a number" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"warmup\":-1}", 0, "\"warmup\" must be a number, at least 0" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"minRuns\":2.5}", 0, "\"minRuns\" must be an integer" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"minRuns\":1000}", 0, "\"minRuns\" must be an integer from 1 to 256" },
	{ "{\"rule\":\"median\",\"key\":\"loss\",\"value\":1}", 0, "unknown member \"spool\".\"stop\".\"value\" of a median rule" },
	{ "{\"rule\":\"threshold\",\"key\":\"loss\"}", 0, "needs \"spool\".\"stop\".\"value\"" },
	{ "{\"rule\":\"threshold\",\"key\":\"loss\",\"value\":null}", 0, "\"value\" must be a finite number" },
	{ "{\"rule\":\"threshold\",\"key\":\"loss\",\"value\":1,\"warmup\":3}", 0, "unknown member" },
	{ "[1]", 0, "must be an object" },
};

TEST(rules_parse)
{
	size_t i;

	for (i = 0; i < sizeof(rrows) / sizeof(rrows[0]); i++) {
		struct json j;
		struct stop_rule r;
		char err[256] = "";
		int rc;

		CHECK_INT(0, json_parse(&j, rrows[i].rule, strlen(rrows[i].rule), 256, err, sizeof(err)));
		rc = stop_rule_parse(&j, 0, &r, err, sizeof(err));
		json_release(&j);
		if (rrows[i].ok && rc != 0)
			FAILF("%s: refused: %s", rrows[i].rule, err);
		if (!rrows[i].ok && (rc != -EINVAL || !strstr(err, rrows[i].err)))
			FAILF("%s: expected a refusal with '%s', got %d '%s'", rrows[i].rule,
			      rrows[i].err, rc, err);
	}
}

TEST(points)
{
	double s, v;

	CHECK_INT(1, stop_point("{\"step\": 3, \"loss\": 0.5}", 24, "loss", &s, &v));
	CHECK(s == 3 && v == 0.5);
	CHECK_INT(1, stop_point("{\"epoch\": 2, \"loss\": 1}", 23, "loss", &s, &v));
	CHECK(s == 2 && v == 1);
	CHECK_INT(0, stop_point("{\"step\": \"3\", \"loss\": 0.5}", 26, "loss", &s, &v));
	CHECK_INT(0, stop_point("{\"step\": 3, \"loss\": null}", 25, "loss", &s, &v));
	CHECK_INT(0, stop_point("{\"step\": 3, \"acc\": 1}", 21, "loss", &s, &v));
	CHECK_INT(0, stop_point("{\"step\": 3, \"loss\"", 18, "loss", &s, &v));
	CHECK_INT(0, stop_point("not json", 8, "loss", &s, &v));
}

/* A finished run of sweep "sw": submitted, claimed, series, completed. */
static void finished_run(struct spool *sp, const char *series, const char *outcome)
{
	const char *job = "{\"scriptName\":\"x.py\",\"sweep\":\"sw\"}";
	struct claimant who = { .worker = "w" };
	char id[SPOOL_ID_LEN + 1];
	struct order o;

	CHECK_INT(0, spool_submit(sp, job, strlen(job), NULL, id));
	CHECK_INT(0, spool_claim(sp, &who, &o));
	if (series) {
		const char *torn = strrchr(series, '\n') + 1;	/* a crash mid-append */
		char path[256];
		FILE *f;

		CHECK_INT(0, spool_series_append(sp, o.n.id, o.n.attempt, -1, series,
						 (size_t)(torn - series), NULL));
		snprintf(path, sizeof(path), "s/logs/%s/%s.%03d.series", o.n.id + 22, o.n.id,
			 o.n.attempt);
		CHECK((f = fopen(path, "a")) != NULL);
		fputs(torn, f);
		fclose(f);
	}
	CHECK_INT(0, spool_complete(sp, &o, outcome, strlen(outcome)));
}

static struct stop_rule median_rule(int min_runs, double warmup)
{
	struct stop_rule r;

	memset(&r, 0, sizeof(r));
	r.kind = STOP_MEDIAN;
	strcpy(r.key, "loss");
	r.min_runs = min_runs;
	r.warmup = warmup;
	return r;
}

static struct spool *open_spool(void)
{
	static struct spool sp;

	setenv("SPOOL_NOSYNC", "1", 1);
	if (spool_open(&sp, "s", 1) < 0)
		FAILF("spool_open: %s", spool_error(&sp));
	sp.nosync = 1;
	return &sp;
}

TEST(median_of_finished_runs)
{
	struct spool *sp = open_spool();
	struct stop_cache *c = stop_cache_new();
	struct stop_rule r = median_rule(3, 2);
	struct stop_verdict v;
	const char *other = "{\"scriptName\":\"x.py\",\"sweep\":\"other\"}";
	char id[SPOOL_ID_LEN + 1];

	CHECK(c);
	/* losses at steps 0, 2, 4 (a run logging every other step): 1, 2, 3 and 10 */
	finished_run(sp, "{\"step\":0,\"loss\":1}\n{\"step\":2,\"loss\":1}\n{\"step\":4,\"loss\":1}\n", "{\"loss\":1}");
	finished_run(sp, "{\"step\":0,\"loss\":2}\n{\"step\":\"x\",\"loss\":99}\n{\"step\":4,\"loss\":2}\n", "{\"loss\":2}");
	finished_run(sp, "{\"step\":0,\"loss\":3}\n{\"step\":4,\"loss\":3}\n{\"step\":5,\"lo", "{\"loss\":3}");
	/* a pruned run and a run of another sweep do not count */
	finished_run(sp, "{\"step\":0,\"loss\":0}\n{\"step\":4,\"loss\":0}\n", "{\"loss\":0,\"pruned\":{\"rule\":\"median\"}}");
	CHECK_INT(0, spool_submit(sp, other, strlen(other), NULL, id));

	/* before the warm-up: nothing is judged */
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 1, 50, &v));
	CHECK_INT(0, v.stop);
	CHECK_INT(0, v.has_ref);
	/* at step 3: values at steps <= 3 of runs reaching 3: 1, 2, 3 */
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 3, 2.5, &v));
	CHECK_INT(3, v.runs);
	CHECK(v.has_ref && v.ref == 2);
	CHECK_INT(1, v.stop);
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 3, 2, &v));
	CHECK_INT(0, v.stop);	/* equal is not worse */
	/* at step 5 no run reached it (the torn line is not a point) */
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 5, 100, &v));
	CHECK_INT(0, v.runs);
	CHECK_INT(0, v.stop);
	/* mode max: worse is smaller */
	r.maximize = 1;
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 4, 1.5, &v));
	CHECK_INT(1, v.stop);
	r.maximize = 0;

	/* the cache does not read a run twice: its series removed, the verdict stays */
	CHECK_INT(0, system("rm -f s/logs/*/*.series"));
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 3, 2.5, &v));
	CHECK_INT(3, v.runs);
	CHECK_INT(1, v.stop);
	/* a fresh cache reads them again: none now */
	stop_cache_free(c);
	c = stop_cache_new();
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 3, 2.5, &v));
	CHECK_INT(0, v.runs);
	CHECK_INT(0, v.stop);
	stop_cache_free(c);
	spool_close(sp);
}

TEST(threshold_needs_no_spool)
{
	struct stop_rule r;
	struct stop_verdict v;
	struct buf b;

	memset(&r, 0, sizeof(r));
	r.kind = STOP_THRESHOLD;
	strcpy(r.key, "loss");
	r.value = 2;
	r.after = 10;
	CHECK_INT(0, stop_judge(NULL, NULL, &r, NULL, "x", 9, 5, &v));
	CHECK_INT(0, v.stop);
	CHECK_INT(0, stop_judge(NULL, NULL, &r, NULL, "x", 10, 5, &v));
	CHECK_INT(1, v.stop);
	buf_init(&b, 4096);
	CHECK_INT(0, stop_pruned_json(&r, &v, &b));
	CHECK_STR("{\"rule\":\"threshold\",\"key\":\"loss\",\"mode\":\"min\",\"step\":10,\"value\":5,\"threshold\":2}",
		  b.data);
	CHECK_INT(1, stop_outcome_pruned("{\"pruned\":{}}", 13));
	CHECK_INT(0, stop_outcome_pruned("{\"pruned\":true}", 15));
	buf_release(&b);
}

TEST(cache_caps_runs)
{
	struct spool *sp = open_spool();
	struct stop_cache *c = stop_cache_new();
	struct stop_rule r = median_rule(1, 0);
	struct stop_verdict v;
	int i;

	for (i = 0; i < STOP_RUNS_MAX + 20; i++)
		finished_run(sp, "{\"step\":1,\"loss\":1}\n", "{\"loss\":1}");
	CHECK_INT(0, stop_judge(c, sp, &r, "sw", "x", 1, 2, &v));
	CHECK_INT(STOP_RUNS_MAX, v.runs);
	CHECK_INT(1, v.stop);
	stop_cache_free(c);
	spool_close(sp);
}
