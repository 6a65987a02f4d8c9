/*
 * Unit tests of lib/command.c: a job's "command" argv template, checked at
 * submit (job_check refuses a {key} the job lacks, naming it) and filled at
 * run time. Table-driven: each row a job, and the argv it fills to or the
 * words of its refusal.
 */
#include <errno.h>

#include "check.h"
#include "command.h"
#include "internal.h"
#include "json.h"
#include "spool.h"

struct row {
	const char *job;
	const char *argv;	/* the filled argv, arguments joined by '|'; NULL: refused */
	const char *err;	/* with argv NULL: a substring of the refusal */
};

static const struct row rows[] = {
	{ "{\"_id\":\"0123456789abcdef01234567\",\"learningRate\":0.1,\"layers\":3,"
	  "\"command\":[\"python3\",\"train.py\",\"--lr\",\"{learningRate}\",\"--layers\",\"{layers}\"]}",
	  "python3|train.py|--lr|0.1|--layers|3", NULL },
	/* strings decoded, other values as canonical JSON, several in one argument */
	{ "{\"name\":\"a b\\\"c\\u00e9\",\"on\":true,\"n\":null,\"h\":{\"b\":1,\"a\":[1, 2]},"
	  "\"command\":[\"run\",\"--name={name}\",\"{on}/{n}\",\"{h}\"]}",
	  "run|--name=a b\"c\xc3\xa9|true/null|{\"a\":[1,2],\"b\":1}", NULL },
	/* escapes: {{ and }} are braces; {_id} is the job's id */
	{ "{\"_id\":\"0123456789abcdef01234567\",\"x\":1,\"command\":[\"echo\",\"{{x}}\",\"{{{x}}}\",\"}}{_id}\"]}",
	  "echo|{x}|{1}|}0123456789abcdef01234567", NULL },
	{ "{\"command\":[\"prog\"],\"scriptName\":7}", "prog", NULL },
	{ "{\"command\":[\"prog\",\"\",\"plain text\"]}", "prog||plain text", NULL },
	/* refusals, each naming what is wrong */
	{ "{\"command\":[\"train.py\",\"--lr\",\"{learningRate}\"]}", NULL,
	  "\"command\"[2] names {learningRate}, which is not a field of the job" },
	{ "{\"command\":[\"a\",\"{x\"],\"x\":1}", NULL, "\"command\"[1]: '{' at byte 0 opens no {key}" },
	{ "{\"command\":[\"a\",\"x}\"],\"x\":1}", NULL, "\"command\"[1]: '}' at byte 1 closes nothing" },
	{ "{\"command\":[\"a\",\"{}\"]}", NULL, "opens no {key}" },
	{ "{\"command\":[\"a\",\"{a b}\"],\"a b\":1}", NULL, "opens no {key}" },
	{ "{\"command\":[]}", NULL, "\"command\" must be an array of 1 to 256 strings" },
	{ "{\"command\":\"python3 train.py\"}", NULL, "must be an array" },
	{ "{\"command\":[\"a\",3]}", NULL, "\"command\"[1] must be a string" },
	{ "{\"command\":[\"\"]}", NULL, "\"command\"[0], the program, is empty" },
	{ "{\"command\":[\"a\",\"\\u0000\"]}", NULL, "\"command\"[1] must be a string" },
	{ "{\"epochs\":1}", NULL, "no \"scriptName\" string (or \"command\" array)" },
};

static void join(const struct command *c, char *out, size_t cap)
{
	size_t n = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < c->argc; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", c->argv[i]);
	CHECK(c->argv[c->argc] == NULL);
}

TEST(command_table)
{
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *w = &rows[i];
		struct job_opts o;
		struct command c;
		char err[512] = "", got[4096];
		int r = job_check(w->job, strlen(w->job), 0, &o, err, sizeof err);

		if (!w->argv) {
			if (r != -EINVAL || !strstr(err, w->err))
				FAILF("row %zu: job_check %d '%s', expected -EINVAL with '%s'", i, r, err, w->err);
			continue;
		}
		if (r != 0)
			FAILF("row %zu: job_check refused: %s", i, err);
		r = command_expand(w->job, strlen(w->job), &c, err, sizeof err);
		if (r != 0)
			FAILF("row %zu: command_expand %d: %s", i, r, err);
		join(&c, got, sizeof got);
		if (strcmp(got, w->argv) != 0)
			FAILF("row %zu: expected argv '%s', got '%s'", i, w->argv, got);
		command_release(&c);
	}
}

TEST(command_absent)
{
	static const char job[] = "{\"scriptName\":\"nn.py\"}";
	struct command c;
	char err[128];

	CHECK_INT(-ENOENT, command_expand(job, strlen(job), &c, err, sizeof err));
	CHECK(c.argv == NULL);
}

/* The ceilings: arguments counted, template strings and filled ones bounded. */
TEST(command_ceilings)
{
	struct buf b;
	struct job_opts o;
	struct command c;
	char err[256];
	int i;

	buf_init(&b, 1 << 22);
	buf_puts(&b, "{\"command\":[\"a\"");
	for (i = 1; i < COMMAND_ARGS_MAX; i++)
		buf_puts(&b, ",\"x\"");
	buf_puts(&b, "]}");
	CHECK_INT(0, job_check(b.data, b.len, 0, &o, err, sizeof err));
	b.len -= 2;
	buf_puts(&b, ",\"y\"]}");
	CHECK_INT(-EINVAL, job_check(b.data, b.len, 0, &o, err, sizeof err));
	CHECK(strstr(err, "1 to 256 strings"));

	buf_reset(&b);
	buf_puts(&b, "{\"command\":[\"a\",\"");
	for (i = 0; i <= COMMAND_ARG_MAX; i++)
		buf_puts(&b, "z");
	buf_puts(&b, "\"]}");
	CHECK_INT(-EINVAL, job_check(b.data, b.len, 0, &o, err, sizeof err));
	CHECK(strstr(err, "at most 4096 bytes"));

	/* 40 copies of a 4000-byte field fill past 128 KiB */
	buf_reset(&b);
	buf_puts(&b, "{\"v\":\"");
	for (i = 0; i < 4000; i++)
		buf_puts(&b, "v");
	buf_puts(&b, "\",\"command\":[\"a\",\"");
	for (i = 0; i < 40; i++)
		buf_puts(&b, "{v}");
	buf_puts(&b, "\"]}");
	CHECK_INT(0, job_check(b.data, b.len, 0, &o, err, sizeof err));
	CHECK_INT(-E2BIG, command_expand(b.data, b.len, &c, err, sizeof err));
	CHECK(strstr(err, "\"command\"[1] fills to more than"));
	CHECK(c.argv == NULL);
	buf_release(&b);
}
