/*
 * fuzz_job: a libFuzzer target for lib/job.c, what spoold runs on every
 * POST /v1/jobs body and the library on every dropped file: job_check with
 * its options, and job_given_id.
 *
 * Beyond "no crash, no sanitizer report" (the repeated "tags" that
 * overflowed tags[16] is one of tests/fuzz/regress/fuzz_job/) it checks that
 * an accepted job's options are in their ranges, that they survive the
 * order file (sp_order_doc, then order_doc_parse) unchanged, that refusals
 * say why in UTF-8, and that a given id is a valid one. job_read (the one
 * parse of a submit) must agree with job_check and job_given_id, and its
 * stored document be the job with "_id" first.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "json.h"
#include "spool.h"

#define NOW 1767225600000LL	/* 2026-01-01T00:00:00Z, in ms */

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_job: broken promise: %s\n", what);
		abort();
	}
}

/* The message as a JSON string must be valid: the answer carries it. */
static void check_message(const char *err, size_t cap)
{
	struct buf b;
	size_t n = strnlen(err, cap);

	need(n < cap, "message is NUL-terminated");
	need(n > 0, "a refusal says why");
	buf_init(&b, 4 * cap + 8);
	need(buf_json_str(&b, err, n) == 0, "message quoted");
	need(json_validate(b.data, b.len, NULL, 0) == 0, "message is UTF-8");
	buf_release(&b);
}

static void check_opts(const struct job_opts *o)
{
	struct job_opts back;
	struct buf b;
	int64_t created = 0;
	int i;

	need(o->ntags >= 0 && o->ntags <= SPOOL_TAGS_MAX, "at most SPOOL_TAGS_MAX tags");
	for (i = 0; i < o->ntags; i++)
		need(tag_valid(o->tags[i]), "every tag is valid");
	need(o->priority >= SPOOL_PRIORITY_MIN && o->priority <= SPOOL_PRIORITY_MAX, "priority in range");
	need(o->max_attempts >= 1 && o->max_attempts <= SPOOL_ATTEMPTS_MAX, "maxAttempts in range");
	need(o->timeout_s >= 0 && o->lease_s >= 0 && o->retry_delay_s >= 0, "durations not negative");
	need(o->not_before >= 0, "notBefore not negative");

	buf_init(&b, 4096);
	need(sp_order_doc(&b, "0123456789abcdef01234567", NOW, o) == 0, "sp_order_doc");
	need(json_validate(b.data, b.len, NULL, 0) == 0, "the order file is valid JSON");
	need(order_doc_parse(b.data, b.len, &back, &created) == 0, "order_doc_parse");
	need(created == NOW, "createdMs survives the order file");
	need(back.priority == o->priority && back.not_before == o->not_before &&
	     back.max_attempts == o->max_attempts && back.timeout_s == o->timeout_s &&
	     back.lease_s == o->lease_s && back.retry_delay_s == o->retry_delay_s &&
	     back.ntags == o->ntags, "the options survive the order file");
	for (i = 0; i < o->ntags; i++)
		need(strcmp(back.tags[i], o->tags[i]) == 0, "the tags survive the order file");
	buf_release(&b);
}

/* job_read: the same verdict, options and id; a stored document that is
 * the job's members behind the given "_id". */
static void check_read(const char *s, size_t size, int r, const struct job_opts *o,
		       int named, const char *id)
{
	static const char fill[] = "89abcdef0123456789abcdef";
	struct job_in in;
	struct json j, d;
	const struct buf *doc;
	char err[256], got[SPOOL_ID_LEN + 1];
	int rr, k;

	memset(err, 0, sizeof(err));
	rr = job_read(&in, s, size, NOW, err, sizeof(err));
	need(rr == r, "job_read and job_check agree");
	if (rr < 0) {
		check_message(err, sizeof(err));
		return;
	}
	need(memcmp(&in.opts, o, sizeof(*o)) == 0, "job_read reads job_check's options");
	need(in.named == named && (!named || strcmp(in.id, id) == 0), "job_read reads job_given_id's id");
	doc = job_in_doc(&in, fill);
	need(json_parse(&d, doc->data, doc->len, JSON_TOKENS_MAX, NULL, 0) == 0, "the stored job is JSON");
	need(d.tok[0].type == JSMN_OBJECT && json_eq(&d, 1, "_id") &&
	     json_str(&d, 2, got, sizeof(got)) == 0 && strcmp(got, fill) == 0, "the stored job has \"_id\" first");
	need(json_parse(&j, s, size, JSON_TOKENS_MAX, NULL, 0) == 0, "the job parses");
	k = j.tok[0].size + (json_get(&j, 0, "_id") < 0);
	need(d.tok[0].size == k, "the stored job has the job's members");
	json_release(&j);
	json_release(&d);
	job_in_release(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct job_opts o;
	char err[256], id[SPOOL_ID_LEN + 1];
	int r;

	memset(err, 0, sizeof(err));
	r = job_check(s, size, NOW, &o, err, sizeof(err));
	need(r == 0 || r == -EINVAL || r == -E2BIG, "job_check returns 0, -EINVAL or -E2BIG");
	if (r < 0)
		check_message(err, sizeof(err));
	else
		check_opts(&o);
	memset(id, 0, sizeof(id));
	if (job_given_id(s, size, id))
		need(id_valid(id), "a given id is valid");
	check_read(s, size, r, &o, r == 0 && job_given_id(s, size, id), id);
	return 0;
}
