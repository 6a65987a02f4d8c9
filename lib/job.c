/*
 * job: checking a job document, and the options spool reads from it.
 *
 * Everything of a job is the user's except the reserved key "spool", whose
 * object holds the options the queue acts on (spool-layout.md, "Job
 * options"). Unknown option keys are errors: a misspelt "maxAtempts" should
 * not silently run with the default.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "internal.h"
#include "json.h"
#include "stop.h"

#define LEASE_MAX_S (7 * 24 * 3600)
#define TIMEOUT_MAX_S (365 * 24 * 3600)

static void opts_default(struct job_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_attempts = SPOOL_DEF_MAX_ATTEMPTS;
}

/* An integer option in [lo, hi]. */
static int int_opt(const struct json *j, int v, const char *key, int64_t lo,
		   int64_t hi, int64_t *out, char *err, size_t errlen)
{
	double d;

	if (json_num(j, v, &d) < 0 || d < (double)lo || d > (double)hi) {
		snprintf(err, errlen, "\"spool\".\"%s\" must be a number from %lld to %lld",
			 key, (long long)lo, (long long)hi);
		return -EINVAL;
	}
	*out = (int64_t)d;
	return 0;
}

int job_opts_parse(const struct json *j, int64_t now, struct job_opts *o,
		   char *err, size_t errlen)
{
	int sp, i, k, n;
	int64_t v;

	opts_default(o);
	sp = json_get(j, 0, "spool");
	if (sp < 0)
		return 0;
	if (j->tok[sp].type != JSMN_OBJECT) {
		snprintf(err, errlen, "\"spool\" must be an object of job options");
		return -EINVAL;
	}
	n = j->tok[sp].size;
	i = sp + 1;
	for (k = 0; k < n; k++, i = json_skip(j, i + 1)) {
		int val = i + 1;
		char key[32];

		if (json_str(j, i, key, sizeof(key)) < 0)
			goto unknown;
		if (strcmp(key, "priority") == 0) {
			if (int_opt(j, val, key, SPOOL_PRIORITY_MIN, SPOOL_PRIORITY_MAX, &v, err, errlen) < 0)
				return -EINVAL;
			o->priority = (int)v;
		} else if (strcmp(key, "maxAttempts") == 0) {
			if (int_opt(j, val, key, 1, SPOOL_ATTEMPTS_MAX, &v, err, errlen) < 0)
				return -EINVAL;
			o->max_attempts = (int)v;
		} else if (strcmp(key, "timeout") == 0) {
			if (int_opt(j, val, key, 0, TIMEOUT_MAX_S, &v, err, errlen) < 0)
				return -EINVAL;
			o->timeout_s = (int)v;
		} else if (strcmp(key, "lease") == 0) {
			if (int_opt(j, val, key, 1, LEASE_MAX_S, &v, err, errlen) < 0)
				return -EINVAL;
			o->lease_s = (int)v;
		} else if (strcmp(key, "retryDelay") == 0) {
			if (int_opt(j, val, key, 0, LEASE_MAX_S, &v, err, errlen) < 0)
				return -EINVAL;
			o->retry_delay_s = (int)v;
		} else if (strcmp(key, "delay") == 0) {
			if (int_opt(j, val, key, 0, TIMEOUT_MAX_S, &v, err, errlen) < 0)
				return -EINVAL;
			if (v > 0 && now + v * 1000 > o->not_before)
				o->not_before = now + v * 1000;
		} else if (strcmp(key, "notBefore") == 0) {
			char iso[40];
			int64_t ms;

			if (j->tok[val].type == JSMN_STRING) {
				if (json_str(j, val, iso, sizeof(iso)) < 0 || iso_parse(iso, &ms) < 0) {
					snprintf(err, errlen, "\"spool\".\"notBefore\" must be an ISO-8601 UTC time like 2026-01-31T12:00:00Z");
					return -EINVAL;
				}
			} else if (int_opt(j, val, key, 0, 9999999999999LL, &ms, err, errlen) < 0) {
				return -EINVAL;
			}
			if (ms > o->not_before)
				o->not_before = ms;
		} else if (strcmp(key, "tags") == 0) {
			int t, m, q;

			/* in total, not per array: o->tags has SPOOL_TAGS_MAX rows */
			if (j->tok[val].type != JSMN_ARRAY ||
			    (m = j->tok[val].size) > SPOOL_TAGS_MAX - o->ntags) {
				snprintf(err, errlen, "\"spool\".\"tags\" must be an array of at most %d tags", SPOOL_TAGS_MAX);
				return -EINVAL;
			}
			for (t = val + 1, q = 0; q < m; q++, t = json_skip(j, t)) {
				char *tag = o->tags[o->ntags];

				if (json_str(j, t, tag, SPOOL_TAG_MAX + 1) < 0 || !tag_valid(tag)) {
					snprintf(err, errlen, "\"spool\".\"tags\"[%d] is not a valid tag (letters, digits, _ . : -, at most %d)", q, SPOOL_TAG_MAX);
					return -EINVAL;
				}
				o->ntags++;
			}
		} else if (strcmp(key, "stop") == 0) {
			/* early stopping (stop.h); the median rule compares a sweep's runs */
			struct stop_rule rule;

			if (stop_rule_parse(j, val, &rule, err, errlen) < 0)
				return -EINVAL;
			if (rule.kind == STOP_MEDIAN && (json_get(j, 0, "sweep") < 0 ||
			    j->tok[json_get(j, 0, "sweep")].type != JSMN_STRING)) {
				snprintf(err, errlen, "a median rule (\"spool\".\"stop\") compares the runs of a sweep: the job needs a \"sweep\" member");
				return -EINVAL;
			}
		} else {
			goto unknown;
		}
	}
	return 0;
unknown:
	{
		char q[48];

		snprintf(err, errlen, "unknown job option \"spool\".\"%s\" (known: priority, delay, notBefore, maxAttempts, timeout, lease, retryDelay, tags, stop)",
			 json_quote(j, i, q, sizeof(q)));
	}
	return -EINVAL;
}

/* The checks of a parsed job (job_check's, after the parse). */
static int job_tokens_check(const struct json *j, int64_t now,
			    struct job_opts *o, char *err, size_t errlen)
{
	char script[256];
	int r, s;

	if (j->tok[0].type != JSMN_OBJECT) {
		snprintf(err, errlen, "a job must be a JSON object");
		return -EINVAL;
	}
	/* a command job runs its "command"; any other names its script */
	if ((r = command_check(j, err, errlen)) < 0)
		return r;
	s = json_get(j, 0, "scriptName");
	if (r == 0 && (s < 0 || json_str(j, s, script, sizeof(script)) < 0 || !script[0])) {
		snprintf(err, errlen, "job has no \"scriptName\" string (or \"command\" array)");
		return -EINVAL;
	}
	return job_opts_parse(j, now, o, err, errlen);
}

/* Parse a job under its ceilings; *syntax set when the text is no JSON. */
static int job_parse(struct json *j, const char *json, size_t len,
		     int *syntax, char *err, size_t errlen)
{
	int r;

	*syntax = 0;
	if (len > SPOOL_JOB_MAX) {
		snprintf(err, errlen, "job is %zu bytes, more than the %d allowed", len, SPOOL_JOB_MAX);
		return -E2BIG;
	}
	r = json_parse(j, json, len, JSON_TOKENS_MAX, err, errlen);
	if (r < 0) {
		*syntax = r == -EINVAL;
		return r == -E2BIG ? -E2BIG : -EINVAL;
	}
	return 0;
}

int job_check(const char *json, size_t len, int64_t now, struct job_opts *o,
	      char *err, size_t errlen)
{
	struct json j;
	int r, syntax;

	if ((r = job_parse(&j, json, len, &syntax, err, errlen)) < 0)
		return r;
	r = job_tokens_check(&j, now, o, err, errlen);
	json_release(&j);
	return r;
}

/* The stored job: "_id" first (ID_HOLE until job_in_doc fills it), then
 * the user's members as written. */
#define ID_AT 8		/* strlen("{\"_id\":\"") */
static int job_doc_build(struct buf *out, const struct json *j)
{
	int r, i, k, n;

	r = buf_puts(out, "{\"_id\":\"000000000000000000000000\"");
	n = j->tok[0].size;
	for (i = 1, k = 0; r == 0 && k < n; k++, i = json_skip(j, i + 1)) {
		if (json_eq(j, i, "_id"))
			continue;
		if ((r = buf_puts(out, ",")) < 0 || (r = json_append_raw(j, i, out)) < 0 ||
		    (r = buf_puts(out, ":")) < 0)
			break;
		r = json_append_raw(j, i + 1, out);
	}
	if (r == 0)
		r = buf_puts(out, "}\n");
	return r;
}

int job_read(struct job_in *in, const char *json, size_t len, int64_t now,
	     char *err, size_t errlen)
{
	struct json j;
	char id[SPOOL_ID_LEN + 2];
	int r;

	memset(in, 0, sizeof(*in));
	buf_init(&in->doc, SPOOL_JOB_MAX + 64);
	if ((r = job_parse(&j, json, len, &in->bad_json, err, errlen)) < 0)
		return r;
	if ((r = job_tokens_check(&j, now, &in->opts, err, errlen)) < 0)
		goto out;
	/* the id it names for itself, as job_given_id reads it */
	if (json_str(&j, json_get(&j, 0, "_id"), id, sizeof(id)) == 0 && id_valid(id)) {
		memcpy(in->id, id, SPOOL_ID_LEN + 1);
		in->named = 1;
	}
	if ((r = job_doc_build(&in->doc, &j)) < 0)
		snprintf(err, errlen, "cannot store job: %s", strerror(-r));
out:
	json_release(&j);
	if (r < 0)
		buf_release(&in->doc);
	return r;
}

const struct buf *job_in_doc(struct job_in *in, const char *id)
{
	memcpy(in->doc.data + ID_AT, id, SPOOL_ID_LEN);
	memcpy(in->doc_id, id, SPOOL_ID_LEN + 1);
	return &in->doc;
}

void job_in_release(struct job_in *in)
{
	buf_release(&in->doc);
}

int sp_order_doc(struct buf *b, const char *id, int64_t created,
		 const struct job_opts *o)
{
	char iso[32];
	int i, r;

	iso_time(created, iso);
	r = buf_printf(b, "{\"_id\":\"%s\",\"jobId\":\"%s\",\"createdDate\":\"%s\","
		       "\"createdMs\":%lld,\"priority\":%d,\"notBefore\":%lld,"
		       "\"maxAttempts\":%d,\"timeout\":%d,\"lease\":%d,"
		       "\"retryDelay\":%d,\"tags\":[",
		       id, id, iso, (long long)created, o->priority,
		       (long long)o->not_before, o->max_attempts, o->timeout_s,
		       o->lease_s, o->retry_delay_s);
	for (i = 0; r == 0 && i < o->ntags; i++)
		r = buf_printf(b, "%s\"%s\"", i ? "," : "", o->tags[i]);
	if (r == 0)
		r = buf_puts(b, "]}\n");
	return r;
}

int order_doc_parse(const char *s, size_t len, struct job_opts *o,
		    int64_t *created)
{
	struct json j;
	int64_t v;
	int r, t, q, m;
	char err[8];

	opts_default(o);
	r = json_parse(&j, s, len, 256, err, sizeof(err));
	if (r < 0)
		return r;
	r = -EINVAL;
	if (j.tok[0].type != JSMN_OBJECT)
		goto out;
	if (json_int(&j, json_get(&j, 0, "createdMs"), &v) < 0)
		goto out;
	*created = v;
	if (json_int(&j, json_get(&j, 0, "priority"), &v) == 0)
		o->priority = (int)v;
	if (json_int(&j, json_get(&j, 0, "notBefore"), &v) == 0)
		o->not_before = v;
	if (json_int(&j, json_get(&j, 0, "maxAttempts"), &v) == 0 && v >= 1)
		o->max_attempts = (int)v;
	if (json_int(&j, json_get(&j, 0, "timeout"), &v) == 0)
		o->timeout_s = (int)v;
	if (json_int(&j, json_get(&j, 0, "lease"), &v) == 0)
		o->lease_s = (int)v;
	if (json_int(&j, json_get(&j, 0, "retryDelay"), &v) == 0)
		o->retry_delay_s = (int)v;
	t = json_get(&j, 0, "tags");
	if (t >= 0 && j.tok[t].type == JSMN_ARRAY) {
		m = j.tok[t].size;
		for (t++, q = 0; q < m && o->ntags < SPOOL_TAGS_MAX; q++, t = json_skip(&j, t))
			if (json_str(&j, t, o->tags[o->ntags], SPOOL_TAG_MAX + 1) == 0)
				o->ntags++;
	}
	r = 0;
out:
	json_release(&j);
	return r;
}

int job_given_id(const char *json, size_t len, char out[SPOOL_ID_LEN + 1])
{
	struct json j;
	char err[8], id[SPOOL_ID_LEN + 2];
	int ok;

	if (json_parse(&j, json, len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	ok = j.tok[0].type == JSMN_OBJECT &&
	     json_str(&j, json_get(&j, 0, "_id"), id, sizeof(id)) == 0 && id_valid(id);
	json_release(&j);
	if (ok)
		memcpy(out, id, SPOOL_ID_LEN + 1);
	return ok;
}

int spool_job_exists(struct spool *sp, const char *id)
{
	char path[SP_PATH_MAX];

	if (!id_valid(id))
		return -EINVAL;
	return sp_exists(sp, sp_job_path(id, path, sizeof(path)));
}
