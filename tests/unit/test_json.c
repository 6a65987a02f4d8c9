/*
 * Unit tests of lib/json.c and the job checks on top of it (issue 9): one
 * reading of a document for every reader. Keys compare decoded, a key twice
 * in an object is refused and named, UTF-8 is exactly RFC 3629's, escaped
 * surrogates come in pairs; arrays filled from a job are bounded in total.
 */
#include <errno.h>

#include "check.h"
#include "buf.h"
#include "internal.h"
#include "json.h"
#include "spool.h"

/* The 221-byte job that overflowed tags[16] on spoold's stack. */
static const char TAGS221[] =
	"{\"scriptName\":\"x\",\"spool\":{\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
	"\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"],\"tags\":[\"gpu0\","
	"\"gpu1\",\"gpu2\",\"gpu3\",\"gpu4\",\"gpu5\",\"gpu6\",\"gpu7\",\"gpu8\",\"gpu9\","
	"\"gpua\",\"gpub\",\"gpuc\",\"gpud\",\"gpue\",\"cpu\"]}}";

/* The seed article's sample job as printed: its trailing comma kept. */
static const char SEED_JOB[] =
	"{  \"_id\"  :  \"5bcc93d67f0b3f4844c87c79\",  \"hiddenLayers\"  :  [  {  "
	"\"activation\"  :  \"relu\",  \"widthModifier\"  :  4,  \"dropout\"  :  0.2  }  ],  "
	"\"dataFileName\"  :  \"wine_data.csv\",  \"scriptName\"  :  \"nn.py\",  "
	"\"scalerType\"  :  \"standard\",  }";

static int valid(const char *s)
{
	char err[160];

	return json_validate(s, strlen(s), err, sizeof(err)) == 0;
}

/* json_validate must refuse s, saying want (a substring) in its message. */
static void refused(const char *s, const char *want)
{
	char err[160] = "";
	int r = json_validate(s, strlen(s), err, sizeof(err));

	if (r != -EINVAL)
		FAILF("json_validate('%s'): expected %d, got %d", s, -EINVAL, r);
	if (want && !strstr(err, want))
		FAILF("json_validate('%s'): message '%s' does not say '%s'", s, err, want);
}

/* A one-string document "<bytes>", validated. */
static int valid_str(const char *bytes)
{
	char doc[64];

	snprintf(doc, sizeof(doc), "\"%s\"", bytes);
	return valid(doc);
}

TEST(keys_compare_decoded)
{
	struct json j;
	char err[160], s[64];
	const char *doc = "{\"\\u005fid\":\"x\",\"\\ud83d\\ude00\":1,\"t\\u0061b\":\"\\u0061\"}";

	CHECK_INT(0, json_parse(&j, doc, strlen(doc), 100, err, sizeof(err)));
	CHECK_INT(2, json_get(&j, 0, "_id"));
	CHECK_INT(4, json_get(&j, 0, "\xf0\x9f\x98\x80"));
	CHECK_INT(6, json_get(&j, 0, "tab"));
	CHECK(json_eq(&j, 6, "a"));
	CHECK(!json_eq(&j, 6, "ab"));
	CHECK(!json_eq(&j, 6, ""));
	CHECK(json_eq(&j, 1, "_id"));
	CHECK(!json_eq(&j, 1, "_i"));
	CHECK_INT(-1, json_get(&j, 0, "\\u005fid"));
	CHECK_INT(0, json_str(&j, 3, s, sizeof(s)));
	CHECK_STR("\xf0\x9f\x98\x80", s);
	json_release(&j);
}

TEST(duplicate_keys_are_refused_and_named)
{
	refused("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
	refused("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"");
	refused("{\"\\u005fid\":1,\"x\":0,\"_id\":2}", "duplicate key \"_id\"");
	refused("{\"o\":{\"k\":1,\"z\":[{}],\"k\":2}}", "duplicate key \"k\"");
	refused("[{\"a\":1},{\"b\":1,\"b\":{}}]", "duplicate key \"b\"");
	refused("{\"\":1,\"\":2}", "duplicate key \"\"");
	/* the message names the key safely: quotes and controls escaped */
	refused("{\"q\\\"\\n\":1,\"q\\\"\\u000a\":2}", "duplicate key \"q\\\"\\n\"");
	/* the byte is the second occurrence's */
	refused("{\"b\":1,\"a\":1,\"b\":2}", "at byte 13");
	CHECK(valid("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
	CHECK(valid("[{\"a\":1},{\"a\":2}]"));
	CHECK(valid("{\"a\":1,\"a\\u0000\":2,\"A\":3,\"\\u00e9\":4,\"\\u00e8\":5}"));
	{
		/* many keys: found without quadratic work, and the duplicate last */
		struct buf b;
		int i;

		buf_init(&b, 1 << 20);
		CHECK_INT(0, buf_puts(&b, "{"));
		for (i = 0; i < 20000; i++)
			CHECK_INT(0, buf_printf(&b, "\"k%d\":%d,", i, i));
		CHECK_INT(0, buf_puts(&b, "\"z\":0}"));
		CHECK(valid(b.data));
		b.len -= 6;	/* "z":0} */
		CHECK_INT(0, buf_puts(&b, "\"k19999\":0}"));
		refused(b.data, "duplicate key \"k19999\"");
		buf_release(&b);
	}
}

TEST(duplicate_keys_in_a_job_are_refused)
{
	struct job_opts o;
	char err[256];
	const char *two_ids = "{\"scriptName\":\"x\",\"_id\":\"000000000000000000000001\","
			      "\"\\u005fid\":\"000000000000000000000002\"}";
	const char *two_prio = "{\"scriptName\":\"x\",\"spool\":{\"priority\":1,\"priority\":9}}";
	const char *esc_opt = "{\"scriptName\":\"x\",\"spool\":{\"\\u0070riority\":3}}";
	char id[SPOOL_ID_LEN + 1];

	CHECK_INT(-EINVAL, job_check(two_ids, strlen(two_ids), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "duplicate key \"_id\"") != NULL);
	CHECK_INT(0, job_given_id(two_ids, strlen(two_ids), id));
	CHECK_INT(-EINVAL, job_check(two_prio, strlen(two_prio), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "duplicate key \"priority\"") != NULL);
	CHECK_INT(0, job_check(esc_opt, strlen(esc_opt), 0, &o, err, sizeof(err)));
	CHECK_INT(3, o.priority);
	{
		const char *esc_id = "{\"scriptName\":\"x\",\"\\u005fid\":\"000000000000000000000002\"}";

		CHECK_INT(1, job_given_id(esc_id, strlen(esc_id), id));
		CHECK_STR("000000000000000000000002", id);
	}
}

TEST(repeated_tags_are_bounded_in_total)
{
	struct job_opts o;
	char err[256];
	struct json j;
	jsmn_parser p;
	jsmntok_t tok[64];

	CHECK_INT(221, strlen(TAGS221));
	CHECK_INT(-EINVAL, job_check(TAGS221, strlen(TAGS221), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "duplicate key \"tags\"") != NULL);
	/* job_opts_parse holds the bound itself, even on tokens never validated */
	jsmn_init(&p);
	j.s = TAGS221;
	j.len = strlen(TAGS221);
	j.tok = tok;
	j.ntok = jsmn_parse(&p, TAGS221, strlen(TAGS221), tok, 64);
	CHECK(j.ntok > 30);
	memset(&o, 0, sizeof(o));
	CHECK_INT(-EINVAL, job_opts_parse(&j, 0, &o, err, sizeof(err)));
	CHECK(o.ntags <= SPOOL_TAGS_MAX);
	CHECK(strstr(err, "at most 16 tags") != NULL);
	{
		/* 16 in one array is the limit */
		const char *ok16 = "{\"scriptName\":\"x\",\"spool\":{\"tags\":[\"a\",\"b\",\"c\","
			"\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]}}";
		const char *no17 = "{\"scriptName\":\"x\",\"spool\":{\"tags\":[\"a\",\"b\",\"c\","
			"\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}}";

		CHECK_INT(0, job_check(ok16, strlen(ok16), 0, &o, err, sizeof(err)));
		CHECK_INT(16, o.ntags);
		CHECK_STR("p", o.tags[15]);
		CHECK_INT(-EINVAL, job_check(no17, strlen(no17), 0, &o, err, sizeof(err)));
	}
}

TEST(unknown_option_is_named_decoded)
{
	struct job_opts o;
	char err[256];
	const char *typo = "{\"scriptName\":\"x\",\"spool\":{\"\\u006daxAtempts\":2}}";
	const char *lng = "{\"scriptName\":\"x\",\"spool\":{\"x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\":1}}";
	char doc[300];
	size_t i;

	CHECK_INT(-EINVAL, job_check(typo, strlen(typo), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "\"spool\".\"maxAtempts\"") != NULL);
	/* a long key is cut on a character boundary: the message stays UTF-8 */
	CHECK_INT(-EINVAL, job_check(lng, strlen(lng), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "unknown job option") != NULL);
	for (i = 0; err[i]; i++)	/* as a JSON string: quotes and \\ out of the way */
		err[i] = err[i] == '"' || err[i] == '\\' ? '\'' : err[i];
	snprintf(doc, sizeof(doc), "\"%s\"", err);
	if (!valid(doc))
		FAILF("message is not UTF-8: %s", doc);
}

TEST(utf8_is_rfc3629)
{
	/* RFC 3629 section 4, each row's edges */
	CHECK(valid_str("\x7f"));
	CHECK(valid_str("\xc2\x80"));
	CHECK(valid_str("\xdf\xbf"));
	CHECK(valid_str("\xe0\xa0\x80"));
	CHECK(valid_str("\xe0\xbf\xbf"));
	CHECK(valid_str("\xe1\x80\x80"));
	CHECK(valid_str("\xec\xbf\xbf"));
	CHECK(valid_str("\xed\x80\x80"));
	CHECK(valid_str("\xed\x9f\xbf"));
	CHECK(valid_str("\xee\x80\x80"));
	CHECK(valid_str("\xef\xbf\xbf"));
	CHECK(valid_str("\xf0\x90\x80\x80"));
	CHECK(valid_str("\xf0\xbf\xbf\xbf"));
	CHECK(valid_str("\xf1\x80\x80\x80"));
	CHECK(valid_str("\xf3\xbf\xbf\xbf"));
	CHECK(valid_str("\xf4\x80\x80\x80"));
	CHECK(valid_str("\xf4\x8f\xbf\xbf"));
	/* overlong forms */
	CHECK(!valid_str("\xc0\x80"));
	CHECK(!valid_str("\xc1\xbf"));
	CHECK(!valid_str("\xe0\x80\x80"));
	CHECK(!valid_str("\xe0\x9f\xbf"));
	CHECK(!valid_str("\xf0\x80\x80\x80"));
	CHECK(!valid_str("\xf0\x8f\xbf\xbf"));
	/* surrogates encoded directly */
	CHECK(!valid_str("\xed\xa0\x80"));
	CHECK(!valid_str("\xed\xbf\xbf"));
	CHECK(!valid_str("\xed\xa0\xbd\xed\xb8\x80"));
	/* above U+10FFFF */
	CHECK(!valid_str("\xf4\x90\x80\x80"));
	CHECK(!valid_str("\xf4\xbf\xbf\xbf"));
	CHECK(!valid_str("\xf5\x80\x80\x80"));
	CHECK(!valid_str("\xf7\xbf\xbf\xbf"));
	CHECK(!valid_str("\xf8\x88\x80\x80\x80"));
	CHECK(!valid_str("\xff"));
	CHECK(!valid_str("\xfe"));
	/* stray, missing and cut continuation bytes */
	CHECK(!valid_str("\x80"));
	CHECK(!valid_str("\xbf"));
	CHECK(!valid_str("a\xc3"));
	CHECK(!valid_str("\xe2\x82"));
	CHECK(!valid_str("\xe2\x82z"));
	CHECK(!valid_str("\xf0\x9f\x98"));
	CHECK(!valid_str("\xc3\xc3\xa9"));
	refused("\"\xe0\x80\x80\"", "invalid UTF-8");
	/* a key too: the rule is the same everywhere */
	refused("{\"\xed\xa0\x80\":1}", "invalid UTF-8");
	refused("\"\xe2\x82", NULL);
}

TEST(escaped_surrogates_come_in_pairs)
{
	struct json j;
	char err[160], s[16];
	const char *pair = "[\"\\ud83d\\ude00\",\"\\uDBFF\\uDFFF\",\"\\uD800\\uDC00\"]";

	CHECK(valid("\"\\ud83d\\ude00\""));
	CHECK(valid("\"\\uDBFF\\uDFFF\""));
	CHECK(valid("\"\\ud7ff\\ue000\\uffff\""));
	refused("\"\\ud800\"", "surrogate");
	refused("\"\\udc00\"", "surrogate");
	refused("\"\\udfff\"", "surrogate");
	refused("\"\\ud800x\"", "surrogate");
	refused("\"\\ud800\\u0041\"", "surrogate");
	refused("\"\\ud800\\ud800\"", "surrogate");
	refused("\"\\udc00\\ud800\"", "surrogate");
	refused("\"\\ud800\\n\"", "surrogate");
	refused("\"\\ud800\\", NULL);
	refused("{\"\\ud800\":1}", "surrogate");
	CHECK_INT(0, json_parse(&j, pair, strlen(pair), 10, err, sizeof(err)));
	CHECK_INT(0, json_str(&j, 1, s, sizeof(s)));
	CHECK_STR("\xf0\x9f\x98\x80", s);
	CHECK_INT(0, json_str(&j, 2, s, sizeof(s)));
	CHECK_STR("\xf4\x8f\xbf\xbf", s);
	CHECK_INT(0, json_str(&j, 3, s, sizeof(s)));
	CHECK_STR("\xf0\x90\x80\x80", s);
	CHECK_INT(-E2BIG, json_str(&j, 1, s, 4));
	json_release(&j);
}

TEST(seed_sample_job_still_says_trailing_comma)
{
	char err[160];
	struct job_opts o;

	refused(SEED_JOB, "trailing comma in object");
	CHECK_INT(-EINVAL, job_check(SEED_JOB, strlen(SEED_JOB), 0, &o, err, sizeof(err)));
	CHECK(strstr(err, "trailing comma in object") != NULL);
}

TEST(canonical_form_sorts_decoded_keys)
{
	struct json j;
	struct buf b;
	char err[160];
	const char *x = "{\"\\u0062\":1,\"a\":{\"\\u0063\":2,\"b\":3}}";

	CHECK_INT(0, json_parse(&j, x, strlen(x), 100, err, sizeof(err)));
	buf_init(&b, 1000);
	CHECK_INT(0, json_canon(&j, 0, &b));
	CHECK_STR("{\"a\":{\"b\":3,\"\\u0063\":2},\"\\u0062\":1}", b.data);
	buf_release(&b);
	json_release(&j);
}
