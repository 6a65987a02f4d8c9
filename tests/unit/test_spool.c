/*
 * Unit tests of the spool library: names and their order, JSON, job
 * options, and each state change, on a real spool in a temporary directory.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "json.h"
#include "spool.h"

static const char *JOB = "{\"scriptName\":\"nn.py\",\"epochs\":3}";

static struct spool sp;
static const struct claimant W = { "w1", 0, NULL, 60, 0 };

static void open_spool(void)
{
	int r = spool_open(&sp, "s", 1);

	if (r < 0)
		FAILF("spool_open: %s", spool_error(&sp));
}

static void submit(const char *job, char *id)
{
	int r = spool_submit(&sp, job, strlen(job), NULL, id);

	if (r != 0)
		FAILF("submit: %d %s", r, spool_error(&sp));
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...)
{
	char p[512];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return stat(p, &st) == 0;
}

static long count(enum spool_state st)
{
	long c[ST_COUNT];

	CHECK_INT(0, spool_count(&sp, c));
	return c[st];
}

TEST(ids_are_unique_sorted_and_strict)
{
	char a[25], b[25], t[17];

	id_new(a);
	id_new(b);
	CHECK(id_valid(a));
	CHECK(strcmp(a, b) < 0);
	token_new(t);
	CHECK(token_valid(t));
	CHECK(!id_valid("../../etc/passwd"));
	CHECK(!id_valid("0123456789abcdef0123456G"));
	CHECK(!id_valid("0123456789abcdef012345678"));
	CHECK(!id_valid("0123456789ABCDEF01234567"));
	CHECK(worker_valid("gpu-box.lab_1"));
	CHECK(!worker_valid("a/b"));
	CHECK(!worker_valid(".hidden"));
	CHECK(!worker_valid(""));
	CHECK(tag_valid("gpu:a100"));
	CHECK(!tag_valid("a b"));
}

TEST(names_round_trip_and_sort_in_claim_order)
{
	struct order_name n, m;
	char s1[SPOOL_NAME_MAX], s2[SPOOL_NAME_MAX], s3[SPOOL_NAME_MAX], s4[SPOOL_NAME_MAX];

	memset(&n, 0, sizeof(n));
	n.priority = 0;
	n.due = 1700000000000LL;
	id_new(n.stamp);
	strcpy(n.id, n.stamp);
	CHECK_INT(0, name_format(&n, s1, sizeof(s1)));
	CHECK_INT(0, name_parse(s1, &m));
	CHECK_INT(0, m.priority);
	CHECK_INT(1700000000000LL, m.due);
	CHECK_STR(n.id, m.id);
	CHECK_INT(0, m.claimed);
	/* later submission, same priority and due: after */
	id_new(n.stamp);
	CHECK_INT(0, name_format(&n, s2, sizeof(s2)));
	CHECK(strcmp(s1, s2) < 0);
	/* higher priority: before everything of lower priority */
	n.priority = 5;
	n.due = 1800000000000LL;
	CHECK_INT(0, name_format(&n, s3, sizeof(s3)));
	CHECK(strcmp(s3, s1) < 0);
	/* negative priority: last */
	n.priority = -3;
	n.due = 0;
	CHECK_INT(0, name_format(&n, s4, sizeof(s4)));
	CHECK(strcmp(s4, s2) > 0);
	/* claimed form */
	n.claimed = 1;
	n.attempt = 2;
	n.deadline = 1800000000123LL;
	token_new(n.token);
	strcpy(n.worker, "host.x-1");
	CHECK_INT(0, name_format(&n, s1, sizeof(s1)));
	CHECK_INT(0, name_parse(s1, &m));
	CHECK_INT(1, m.claimed);
	CHECK_INT(2, m.attempt);
	CHECK_INT(-3, m.priority);
	CHECK_INT(1800000000123LL, m.deadline);
	CHECK_STR("host.x-1", m.worker);
	CHECK_STR(n.token, m.token);
	CHECK(name_parse("job.json", &m) < 0);
	CHECK(name_parse("", &m) < 0);
	strcpy(n.worker, "bad/worker");
	CHECK(name_format(&n, s1, sizeof(s1)) < 0);
}

TEST(json_is_strict)
{
	char err[128];
	struct json j;
	char s[64];
	int64_t v;

	{
		const char *ok = "{\"a\":[1,2.5e3,true,null,\"x\\u00e9\"],\"b\":-0.5E-2}";

		CHECK_INT(0, json_validate(ok, strlen(ok), err, sizeof(err)));
	}
	CHECK(json_validate("{\"a\":1,}", 8, err, sizeof(err)) < 0);
	CHECK(strstr(err, "trailing comma") != NULL);
	CHECK(json_validate("[1,]", 4, err, sizeof(err)) < 0);
	CHECK(json_validate("{a:1}", 5, err, sizeof(err)) < 0);
	CHECK(json_validate("{\"a\":01}", 8, err, sizeof(err)) < 0);
	CHECK(json_validate("{\"a\":1}{", 8, err, sizeof(err)) < 0);
	CHECK(json_validate("{\"a\":\"\x01\"}", 8, err, sizeof(err)) < 0);
	CHECK(json_validate("\"\xff\"", 3, err, sizeof(err)) < 0);
	CHECK(json_validate("{\"a\":tru}", 9, err, sizeof(err)) < 0);
	CHECK_INT(0, json_parse(&j, "{\"k\":\"v\\n\",\"n\":42,\"o\":{\"k\":1}}", 30, 100, err, sizeof(err)));
	CHECK_INT(0, json_str(&j, json_get(&j, 0, "k"), s, sizeof(s)));
	CHECK_STR("v\n", s);
	CHECK_INT(0, json_int(&j, json_get(&j, 0, "n"), &v));
	CHECK_INT(42, v);
	CHECK_INT(-1, json_get(&j, 0, "missing"));
	json_release(&j);
	CHECK_INT(-E2BIG, json_parse(&j, "[1,2,3,4,5]", 11, 3, err, sizeof(err)));
}

TEST(job_options_are_checked)
{
	struct job_opts o;
	char err[256];
	const char *good = "{\"scriptName\":\"x.py\",\"spool\":{\"priority\":7,\"delay\":10,"
			   "\"maxAttempts\":5,\"timeout\":60,\"lease\":30,\"tags\":[\"gpu\",\"a100\"]}}";

	CHECK_INT(0, job_check(good, strlen(good), 1000000, &o, err, sizeof(err)));
	CHECK_INT(7, o.priority);
	CHECK_INT(1010000, o.not_before);
	CHECK_INT(5, o.max_attempts);
	CHECK_INT(60, o.timeout_s);
	CHECK_INT(30, o.lease_s);
	CHECK_INT(2, o.ntags);
	CHECK_STR("a100", o.tags[1]);
	CHECK(job_check("{\"epochs\":1}", 12, 0, &o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "scriptName") != NULL);
	CHECK(job_check("[1]", 3, 0, &o, err, sizeof(err)) < 0);
	{
		const char *typo = "{\"scriptName\":\"x\",\"spool\":{\"maxAtempts\":2}}";

		CHECK(job_check(typo, strlen(typo), 0, &o, err, sizeof(err)) < 0);
		CHECK(strstr(err, "maxAtempts") != NULL);
	}
	{
		const char *bad = "{\"scriptName\":\"x\",\"spool\":{\"priority\":5000}}";

		CHECK(job_check(bad, strlen(bad), 0, &o, err, sizeof(err)) < 0);
	}
}

TEST(submit_stores_job_and_order)
{
	char id[25];
	struct buf b;
	struct order o;

	open_spool();
	submit(JOB, id);
	CHECK(exists("s/jobs/%s/%s.json", id + 22, id));
	CHECK_INT(1, count(ST_NEW));
	buf_init(&b, 1 << 20);
	CHECK_INT(0, spool_read_job(&sp, id, &b));
	CHECK(strncmp(b.data, "{\"_id\":\"", 8) == 0);
	CHECK(strstr(b.data, "\"epochs\":3") != NULL);
	CHECK_INT(0, spool_lookup(&sp, id, &o));
	CHECK_INT(ST_NEW, o.state);
	buf_reset(&b);
	CHECK_INT(0, spool_order_json(&sp, &o, 0, &b));
	CHECK(strstr(b.data, "\"status\":\"unassigned\"") != NULL);
	CHECK(strstr(b.data, "\"jobId\":\"") != NULL);
	CHECK_INT(0, json_validate(b.data, b.len, NULL, 0));
	/* bad jobs are refused with a reason, and nothing is left */
	CHECK_INT(-EINVAL, spool_submit(&sp, "{\"a\":1,}", 8, NULL, id));
	CHECK(strstr(spool_error(&sp), "trailing comma") != NULL);
	CHECK_INT(1, count(ST_NEW));
	buf_release(&b);
}

TEST(submit_with_id_is_idempotent)
{
	char id[25];

	open_spool();
	CHECK_INT(0, spool_submit(&sp, JOB, strlen(JOB), "00000000000000000000abcd", id));
	CHECK_INT(1, spool_submit(&sp, JOB, strlen(JOB), "00000000000000000000abcd", id));
	CHECK_INT(1, count(ST_NEW));
	CHECK_INT(-EINVAL, spool_submit(&sp, JOB, strlen(JOB), "../x", id));
}

TEST(claims_follow_priority_then_due_then_submission)
{
	char a[25], b[25], c[25], d[25];
	struct order o;

	open_spool();
	submit(JOB, a);
	submit("{\"scriptName\":\"x\",\"spool\":{\"delay\":3600}}", d);
	submit(JOB, b);
	submit("{\"scriptName\":\"x\",\"spool\":{\"priority\":9}}", c);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(c, o.n.id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(a, o.n.id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(b, o.n.id);
	/* d is not due for an hour */
	CHECK_INT(-EAGAIN, spool_claim(&sp, &W, &o));
	CHECK_INT(3, count(ST_ASSIGNED));
	CHECK_INT(1, count(ST_NEW));
}

TEST(claims_respect_tags)
{
	char a[25], b[25];
	struct order o;
	const char *gpu[] = { "gpu" };
	struct claimant g = { "g1", 1, gpu, 60, 0 };

	open_spool();
	submit("{\"scriptName\":\"x\",\"spool\":{\"tags\":[\"gpu\"]}}", a);
	submit(JOB, b);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(b, o.n.id);
	CHECK_INT(-EAGAIN, spool_claim(&sp, &W, &o));
	CHECK_INT(0, spool_claim(&sp, &g, &o));
	CHECK_STR(a, o.n.id);
}

TEST(complete_files_outcome_once_and_fences_stale_tokens)
{
	char id[25];
	struct order o, stale;
	struct buf b;
	const char *out = "{\"status\":200,\"loss\":1.5}";

	open_spool();
	submit(JOB, id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(1, o.n.attempt);
	CHECK(o.n.claimed);
	stale = o;
	CHECK_INT(0, spool_lookup_claim(&sp, id, o.n.token, &o));
	CHECK_INT(-EINVAL, spool_complete(&sp, &o, "{bad", 4));
	CHECK_INT(0, spool_complete(&sp, &o, out, strlen(out)));
	CHECK_INT(ST_DONE, o.state);
	CHECK_INT(1, count(ST_DONE));
	buf_init(&b, 1 << 20);
	CHECK_INT(0, spool_read_outcome(&sp, &o, &b));
	CHECK_STR(out, b.data);
	/* the same claim again: already done, the outcome unchanged */
	CHECK_INT(-EALREADY, spool_complete(&sp, &stale, "{\"loss\":9}", 10));
	CHECK_INT(0, spool_read_outcome(&sp, &o, &b));
	CHECK_STR(out, b.data);
	buf_release(&b);
}

TEST(lease_expiry_requeues_then_fails_and_late_outcomes_are_kept)
{
	char id[25];
	struct order o, first;
	int n;
	const char *job = "{\"scriptName\":\"x\",\"spool\":{\"maxAttempts\":2}}";

	open_spool();
	sp.reap_grace_ms = 0;
	submit(job, id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	first = o;
	CHECK_INT(0, spool_reap(&sp, now_ms(), &n));
	CHECK_INT(0, n);
	CHECK_INT(0, spool_reap(&sp, o.n.deadline + 1, &n));
	CHECK_INT(1, n);
	CHECK_INT(1, count(ST_NEW));
	CHECK_INT(0, spool_lookup(&sp, id, &o));
	CHECK_INT(1, o.n.attempt);	/* one attempt used */
	/* the dead worker's completion is refused and kept aside */
	CHECK_INT(-ESTALE, spool_complete(&sp, &first, "{\"loss\":3}", 10));
	CHECK(exists("s/late/%s.001.%s.json", id, first.n.token));
	/* second attempt expires too: out of attempts */
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(2, o.n.attempt);
	CHECK_INT(1, spool_reap_one(&sp, &o, o.n.deadline + 1));
	CHECK_INT(1, count(ST_FAILED));
	CHECK_INT(0, count(ST_NEW));
}

TEST(fail_retries_until_attempts_run_out)
{
	char id[25];
	struct order o;
	int retried;
	const char *job = "{\"scriptName\":\"x\",\"spool\":{\"maxAttempts\":2}}";

	open_spool();
	submit(job, id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(0, spool_fail(&sp, &o, "{\"status\":500,\"error\":\"exit 3\"}", 31, &retried));
	CHECK_INT(1, retried);
	CHECK_INT(ST_NEW, o.state);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(2, o.n.attempt);
	CHECK_INT(0, spool_fail(&sp, &o, NULL, 0, &retried));
	CHECK_INT(0, retried);
	CHECK_INT(1, count(ST_FAILED));
}

TEST(release_keeps_place_and_attempts)
{
	char a[25], b[25];
	struct order o, o2, claim;

	open_spool();
	submit(JOB, a);
	submit(JOB, b);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(a, o.n.id);
	claim = o;
	CHECK_INT(0, spool_release(&sp, &o));
	CHECK_INT(0, o.n.attempt);
	CHECK_INT(0, spool_claim(&sp, &W, &o2));
	CHECK_STR(a, o2.n.id);
	CHECK_INT(1, o2.n.attempt);
	CHECK_INT(-ESTALE, spool_release(&sp, &claim));
}

TEST(renew_moves_the_deadline)
{
	char id[25];
	struct order o, old;

	open_spool();
	submit(JOB, id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	old = o;
	CHECK_INT(0, spool_renew(&sp, &o, 3600));
	CHECK(o.n.deadline > old.n.deadline);
	CHECK_STR(old.n.token, o.n.token);
	CHECK_INT(-ESTALE, spool_renew(&sp, &old, 10));
	CHECK_INT(0, spool_complete(&sp, &o, "{}", 2));
}

TEST(hold_unhold_cancel_requeue)
{
	char id[25];
	struct order o;

	open_spool();
	submit(JOB, id);
	CHECK_INT(0, spool_hold(&sp, id, &o));
	CHECK_INT(ST_HELD, o.state);
	CHECK_INT(-EAGAIN, spool_claim(&sp, &W, &o));
	CHECK_INT(-EBUSY, spool_hold(&sp, id, &o));
	CHECK_INT(0, spool_unhold(&sp, id, &o));
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(0, spool_cancel(&sp, id, &o));
	CHECK_INT(ST_CANCELLED, o.state);
	CHECK_INT(-EBUSY, spool_cancel(&sp, id, &o));
	CHECK_INT(0, spool_requeue(&sp, id, &o));
	CHECK_INT(ST_NEW, o.state);
	CHECK_INT(0, o.n.attempt);
	CHECK_INT(-ENOENT, spool_hold(&sp, "000000000000000000000000", &o));
	CHECK_INT(-EINVAL, spool_hold(&sp, "../../x", &o));
}

TEST(group_commit_defers_publishing)
{
	char ids[10][25];
	int i;

	open_spool();
	spool_begin(&sp);
	for (i = 0; i < 10; i++)
		CHECK_INT(0, spool_submit(&sp, JOB, strlen(JOB), NULL, ids[i]));
	CHECK_INT(0, count(ST_NEW));	/* nothing published before the commit */
	CHECK_INT(0, spool_commit(&sp));
	CHECK_INT(10, count(ST_NEW));
}

TEST(faults_leave_no_partial_files)
{
	static const char *ops[] = { "write", "fsync", "rename", "link" };
	static const int errs[] = { ENOSPC, EIO };
	char id[25];
	int i, e;

	open_spool();
	for (i = 0; i < 4; i++)
		for (e = 0; e < 2; e++) {
			sys_fault_set(ops[i], 1, errs[e]);
			CHECK(spool_submit(&sp, JOB, strlen(JOB), NULL, id) < 0);
			CHECK(spool_error(&sp)[0] != '\0');
			sys_fault_clear();
			CHECK_INT(0, count(ST_NEW));
		}
	/* a failed outcome leaves the claim as it was */
	submit(JOB, id);
	{
		struct order o;

		CHECK_INT(0, spool_claim(&sp, &W, &o));
		sys_fault_set("fsync", 1, EIO);
		CHECK(spool_complete(&sp, &o, "{}", 2) < 0);
		sys_fault_clear();
		CHECK_INT(1, count(ST_ASSIGNED));
		CHECK_INT(0, count(ST_DONE));
		CHECK_INT(0, spool_complete(&sp, &o, "{}", 2));
	}
	{
		int fd = open("s/tmp", O_RDONLY);
		char cmd[64];

		close(fd);
		snprintf(cmd, sizeof(cmd), "test -z \"$(ls s/tmp)\"");
		CHECK_INT(0, system(cmd));
	}
}

TEST(drops_are_ingested_or_rejected)
{
	FILE *f;
	char id[25];
	int ni, nr, nw;

	open_spool();
	sp.settle_ms = 0;
	f = fopen("s/new/myjob.json", "w");
	fputs("{\"scriptName\":\"nn.py\",\"lr\":0.1}", f);
	fclose(f);
	f = fopen("s/new/bad.json", "w");
	fputs("{\"scriptName\":\"nn.py\",}", f);
	fclose(f);
	f = fopen("s/new/.partial", "w");
	fputs("{", f);
	fclose(f);
	CHECK_INT(0, spool_ingest_all(&sp, &ni, &nr, &nw));
	CHECK_INT(1, ni);
	CHECK_INT(1, nr);
	CHECK_INT(1, count(ST_NEW));
	CHECK_INT(0, system("grep -q 'trailing comma' s/rejected/*.why"));
	CHECK_INT(0, system("test -f s/new/.partial"));
	(void)id;
}

TEST(fsck_mends_duplicates_and_orphans)
{
	char a[25], b[25];
	struct order o;
	struct fsck_opts fo = { 1, 0, NULL, NULL };
	char from[512], to[512];

	open_spool();
	submit(JOB, a);
	submit(JOB, b);
	/* order a in two states, as a tar of a live spool can have it */
	CHECK_INT(0, spool_lookup(&sp, a, &o));
	snprintf(from, sizeof(from), "s/new/%s", o.file);
	snprintf(to, sizeof(to), "s/held/%s", o.file);
	CHECK_INT(0, link(from, to));
	/* order b lost */
	CHECK_INT(0, spool_lookup(&sp, b, &o));
	snprintf(from, sizeof(from), "s/new/%s", o.file);
	CHECK_INT(0, unlink(from));
	CHECK(spool_fsck(&sp, &fo) >= 2);
	CHECK_INT(0, spool_lookup(&sp, a, &o));
	CHECK_INT(ST_HELD, o.state);
	CHECK_INT(0, spool_lookup(&sp, b, &o));
	CHECK_INT(ST_NEW, o.state);
	CHECK_INT(1, count(ST_NEW));
	CHECK_INT(1, count(ST_HELD));
	CHECK_INT(0, spool_fsck(&sp, &fo));
}

TEST(sha256_and_content_ids)
{
	unsigned char d[32];
	char hex[65], id[25], id2[25];
	int i;

	sha256("abc", 3, d);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	CHECK_STR("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex);
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	CHECK_STR("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", hex);
	id_from_content("x", 1, id);
	id_from_content("x", 1, id2);
	CHECK(id_valid(id));
	CHECK_STR(id, id2);
}

TEST(canonical_json_ignores_order_and_space)
{
	struct json a, b;
	struct buf ca, cb;
	char err[64];
	const char *x = "{ \"b\": [1, {\"z\":1, \"y\":2}], \"a\": \"s\" }";
	const char *y = "{\"a\":\"s\",\"b\":[1,{\"y\":2,\"z\":1}]}";

	CHECK_INT(0, json_parse(&a, x, strlen(x), 100, err, sizeof(err)));
	CHECK_INT(0, json_parse(&b, y, strlen(y), 100, err, sizeof(err)));
	buf_init(&ca, 1000);
	buf_init(&cb, 1000);
	CHECK_INT(0, json_canon(&a, 0, &ca));
	CHECK_INT(0, json_canon(&b, 0, &cb));
	CHECK_STR(y, ca.data);
	CHECK_STR(cb.data, ca.data);
	json_release(&a);
	json_release(&b);
	buf_release(&ca);
	buf_release(&cb);
}

TEST(leaderboard_orders_by_key_and_counts_the_sweep)
{
	static const char *losses[] = { "3.5", "1.25", "2", "x" };
	struct board b;
	struct buf j;
	char id[25];
	struct order o;
	int i;

	open_spool();
	for (i = 0; i < 4; i++) {
		char out[64];

		submit("{\"scriptName\":\"x\",\"sweep\":\"s1\",\"lr\":1}", id);
		CHECK_INT(0, spool_claim(&sp, &W, &o));
		snprintf(out, sizeof(out), "{\"loss\":%s%s%s}", i == 3 ? "\"" : "", losses[i], i == 3 ? "\"" : "");
		CHECK_INT(0, spool_complete(&sp, &o, out, strlen(out)));
	}
	submit("{\"scriptName\":\"x\",\"sweep\":\"s1\"}", id);
	submit("{\"scriptName\":\"x\",\"sweep\":\"other\"}", id);
	CHECK_INT(0, spool_board(&sp, "loss", 0, 0, "s1", &b));
	CHECK_INT(3, b.n);	/* the non-numeric loss is left out */
	CHECK(b.rows[0].value == 1.25);
	CHECK(b.rows[2].value == 3.5);
	CHECK_INT(5, b.total);
	CHECK_INT(4, b.counts[ST_DONE]);
	CHECK_INT(1, b.counts[ST_NEW]);
	buf_init(&j, 1 << 20);
	CHECK_INT(0, board_json(&b, "loss", 0, &j));
	CHECK_INT(0, json_validate(j.data, j.len, NULL, 0));
	board_release(&b);
	CHECK_INT(0, spool_board(&sp, "loss", 1, 2, NULL, &b));
	CHECK_INT(2, b.n);
	CHECK(b.rows[0].value == 3.5);
	CHECK_INT(6, b.total);
	CHECK_INT(2, b.counts[ST_NEW]);
	board_release(&b);
	buf_release(&j);
}

TEST(stale_claims_are_described_for_late_filing)
{
	char id[25];
	struct order o, lost;
	const char *tok = "0123456789abcdef";

	open_spool();
	submit(JOB, id);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(-ESTALE, spool_lookup_claim(&sp, id, tok, &lost));
	CHECK_INT(-ESTALE, spool_complete(&sp, &lost, "{\"x\":1}", 7));
	CHECK(exists("s/late/%s.001.%s.json", id, tok));
	CHECK_INT(1, count(ST_ASSIGNED));	/* the real claim untouched */
	CHECK_INT(-ENOENT, spool_lookup_claim(&sp, "00000000000000000000abcd", tok, &lost));
}

TEST(fsck_reports_missing_directories_and_converges)
{
	struct fsck_opts fo = { 1, 0, NULL, NULL };

	open_spool();
	spool_close(&sp);
	CHECK_INT(0, rmdir("s/done/7f"));
	CHECK_INT(0, spool_open(&sp, "s", 0));
	CHECK_INT(1, spool_fsck(&sp, &fo));
	CHECK(exists("s/done/7f"));
	spool_close(&sp);
	CHECK_INT(0, spool_open(&sp, "s", 0));
	CHECK_INT(0, spool_fsck(&sp, &fo));
}

/* spool_open checks the fan-out directories from one listing each: what
 * the listing shows wrongly named or not as a directory is still caught */
TEST(open_finds_fan_dirs_by_listing)
{
	struct stat st;
	int fd;

	open_spool();
	spool_close(&sp);
	CHECK_INT(0, rmdir("s/jobs/ab"));
	CHECK_INT(0, mkdir("s/jobs/AB", 0755));	/* not the name it needs */
	CHECK_INT(0, spool_open(&sp, "s", 0));
	CHECK_INT(1, stat("s/jobs/ab", &st) == 0 && S_ISDIR(st.st_mode));
	spool_close(&sp);
	CHECK_INT(0, rmdir("s/outcomes/07"));
	CHECK((fd = open("s/outcomes/07", O_WRONLY | O_CREAT, 0644)) >= 0);
	close(fd);
	CHECK_INT(-ENOTDIR, spool_open(&sp, "s", 0));
	CHECK_INT(0, unlink("s/outcomes/07"));
	CHECK_INT(0, spool_open(&sp, "s", 0));
	CHECK_INT(1, stat("s/outcomes/07", &st) == 0 && S_ISDIR(st.st_mode));
}

TEST(group_commit_with_syncfs_and_its_faults)
{
	char ids[300][25];
	int i;

	open_spool();
	sp.sync_mode = SYNC_FS;
	spool_begin(&sp);
	for (i = 0; i < 300; i++)	/* more than the files kept open */
		CHECK_INT(0, spool_submit(&sp, JOB, strlen(JOB), NULL, ids[i]));
	CHECK_INT(0, spool_commit(&sp));
	CHECK_INT(300, count(ST_NEW));
	/* a failing syncfs: the batch is refused and nothing of it shows */
	sys_fault_set("fsync", 1, EIO);
	spool_begin(&sp);
	for (i = 0; i < 5; i++)
		CHECK_INT(0, spool_submit(&sp, JOB, strlen(JOB), NULL, ids[i]));
	CHECK_INT(-EIO, spool_commit(&sp));
	sys_fault_clear();
	CHECK_INT(300, count(ST_NEW));
	CHECK_INT(0, system("test -z \"$(ls s/tmp)\""));
}

static int count_visit(void *arg, const struct order *o)
{
	(void)o;
	++*(int *)arg;
	return 0;
}

TEST(scan_streams_and_last_outcome_follows_retries)
{
	char id[25];
	struct order o;
	struct buf b;
	int n = 0, att = 0, retried;

	open_spool();
	submit(JOB, id);
	submit(JOB, id);
	CHECK_INT(0, spool_scan(&sp, ST_NEW, count_visit, &n));
	CHECK_INT(2, n);
	buf_init(&b, 1 << 20);
	CHECK_INT(-ENOENT, spool_read_last_outcome(&sp, id, &b, &att));
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_STR(id, o.n.id);
	CHECK_INT(0, spool_fail(&sp, &o, "{\"try\":1}", 9, &retried));
	CHECK_INT(1, retried);
	CHECK_INT(0, spool_read_last_outcome(&sp, id, &b, &att));
	CHECK_STR("{\"try\":1}", b.data);
	CHECK_INT(1, att);
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	CHECK_INT(0, spool_complete(&sp, &o, "{\"try\":2}", 9));
	CHECK_INT(0, spool_read_last_outcome(&sp, id, &b, &att));
	CHECK_STR("{\"try\":2}", b.data);
	CHECK_INT(2, att);
	buf_release(&b);
}

TEST(a_4xx_outcome_fails_at_once)
{
	char id[25];
	struct order o;
	int retried;

	open_spool();
	submit(JOB, id);	/* three attempts by default */
	CHECK_INT(0, spool_claim(&sp, &W, &o));
	{
		const char *bad = "{\"status\":400,\"error\":\"no column x\"}";

		CHECK_INT(0, spool_fail(&sp, &o, bad, strlen(bad), &retried));
	}
	CHECK_INT(0, retried);
	CHECK_INT(ST_FAILED, o.state);
	CHECK_INT(1, count(ST_FAILED));
}

/* ---- a round of syncs issued at once (lib/fsyncall.c) ---------------------- */

#include <pthread.h>
#include "internal.h"

static void *fsync_all_thread(void *arg)
{
	int fds[6], rc[6], i, k;

	(void)arg;
	for (k = 0; k < 200; k++) {
		for (i = 0; i < 6; i++) {
			char p[64];

			snprintf(p, sizeof(p), "f.%lx.%d.%d", (unsigned long)pthread_self(), k, i);
			fds[i] = i == 3 ? -1 : open(p, O_CREAT | O_WRONLY, 0644);
			rc[i] = 12345;
		}
		sys_fsync_all(fds, 6, rc);
		for (i = 0; i < 6; i++) {
			if (i == 3 ? rc[i] != -EBADF : rc[i] != 0)
				return (void *)1;
			if (fds[i] >= 0)
				close(fds[i]);
		}
	}
	return NULL;
}

TEST(fsync_all_syncs_each_fd_and_says_how_each_went)
{
	pthread_t t[4];
	void *ret;
	int i;

	/* several committers at once (runner slots): each gets its own results */
	for (i = 0; i < 4; i++)
		CHECK_INT(0, pthread_create(&t[i], NULL, fsync_all_thread, NULL));
	for (i = 0; i < 4; i++) {
		CHECK_INT(0, pthread_join(t[i], &ret));
		CHECK(ret == NULL);
	}
	/* a fault from the second fsync on (the seam fails every call from
	 * the nth) reaches exactly the two results it hit */
	{
		int fds[3], rc[3], bad = 0;

		for (i = 0; i < 3; i++)
			fds[i] = open(".", O_RDONLY | O_DIRECTORY);
		sys_fault_set("fsync", 2, EIO);
		sys_fsync_all(fds, 3, rc);
		sys_fault_clear();
		for (i = 0; i < 3; i++) {
			CHECK(rc[i] == 0 || rc[i] == -EIO);
			bad += rc[i] == -EIO;
			close(fds[i]);
		}
		CHECK_INT(2, bad);
	}
}

TEST(a_failed_sync_round_takes_the_published_job_back)
{
	char id[25];
	int nth;

	open_spool();
	/* jobs are published before the round that syncs them: a failure in
	 * that round must leave neither the job nor its order */
	for (nth = 1; nth <= 3; nth++) {
		sys_fault_set("fsync", nth, EIO);
		CHECK(spool_submit(&sp, JOB, strlen(JOB), NULL, id) < 0);
		sys_fault_clear();
		CHECK_INT(0, count(ST_NEW));
		CHECK_INT(0, system("test -z \"$(find s/jobs -type f)\""));
	}
	submit(JOB, id);
	CHECK_INT(1, count(ST_NEW));
	CHECK_INT(0, system("test \"$(find s/jobs -type f | wc -l)\" = 1"));
}

TEST(a_claim_is_found_by_its_name_hint_or_else_by_a_listing)
{
	struct order o, c, f;
	char id[25], old[SPOOL_NAME_MAX], tok[SPOOL_TOKEN_LEN + 1];

	open_spool();
	submit(JOB, id);
	CHECK_INT(0, spool_claim(&sp, &W, &c));
	/* the right hint */
	CHECK_INT(0, spool_lookup_claim_hint(&sp, c.n.id, c.n.token, c.file, &f));
	CHECK_STR(c.file, f.file);
	/* a stale one (the claim was renewed: its name changed) */
	strcpy(old, c.file);
	o = c;
	CHECK_INT(0, spool_renew(&sp, &o, 120));
	CHECK(strcmp(old, o.file) != 0);
	CHECK_INT(0, spool_lookup_claim_hint(&sp, c.n.id, c.n.token, old, &f));
	CHECK_STR(o.file, f.file);
	/* none, or garbage: the listing decides */
	CHECK_INT(0, spool_lookup_claim_hint(&sp, c.n.id, c.n.token, NULL, &f));
	CHECK_STR(o.file, f.file);
	CHECK_INT(0, spool_lookup_claim_hint(&sp, c.n.id, c.n.token, "../../etc/passwd", &f));
	CHECK_STR(o.file, f.file);
	/* a hint naming another token does not make it that claim */
	strcpy(tok, "0123456789abcdef");
	CHECK_INT(-ESTALE, spool_lookup_claim_hint(&sp, c.n.id, tok, o.file, &f));
}
