/*
 * Unit tests of lib/token.c (the one token-file rule) and lib/json_array.c
 * (the one JSON array splitter), table-driven.
 */
#include <errno.h>
#include <fcntl.h>

#include "check.h"
#include "json_array.h"
#include "token.h"

struct trow {
	const char *file;	/* the file's bytes */
	size_t len;
	const char *token;	/* NULL: refused */
	const char *err;	/* a substring of the refusal */
};

#define T(s) s, sizeof(s) - 1

static const struct trow trows[] = {
	{ T("s3cret-token\n"), "s3cret-token", NULL },
	{ T("s3cret-token"), "s3cret-token", NULL },
	{ T("s3cret-token \n\n"), "s3cret-token", NULL },	/* the editor's blank */
	{ T("s3cret-token\r\n\t \n"), "s3cret-token", NULL },
	{ T("a+b/c=~!"), "a+b/c=~!", NULL },
	{ T(""), NULL, "is empty" },
	{ T(" \n\n"), NULL, "is empty" },
	{ T("two words\n"), NULL, "byte 3 is a blank" },
	{ T(" leading\n"), NULL, "byte 0 is a blank" },
	{ T("line1\nline2\n"), NULL, "byte 5 is a blank, a control character" },
	{ T("nul\0inside"), NULL, "byte 3" },
	{ T("caf\xc3\xa9"), NULL, "not ASCII (0xc3)" },
};

static void write_file(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f);
	CHECK(fwrite(s, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

TEST(token_file_table)
{
	size_t i;

	for (i = 0; i < sizeof trows / sizeof trows[0]; i++) {
		const struct trow *w = &trows[i];
		char out[TOKEN_FILE_MAX + 1], err[512] = "";
		int r;

		write_file("tok", w->file, w->len);
		r = token_file_read("tok", out, sizeof out, err, sizeof err);
		if (w->token && (r != 0 || strcmp(out, w->token) != 0))
			FAILF("row %zu: %d '%s' (%s), expected '%s'", i, r, out, err, w->token);
		if (!w->token && (r != -EINVAL || !strstr(err, w->err) || !strstr(err, "'tok'")))
			FAILF("row %zu: %d '%s', expected -EINVAL saying '%s'", i, r, err, w->err);
	}
}

TEST(token_file_ceilings)
{
	char big[TOKEN_FILE_MAX + 2], out[TOKEN_FILE_MAX + 1], err[256];

	memset(big, 'x', sizeof big);
	write_file("tok", big, TOKEN_FILE_MAX);
	CHECK_INT(0, token_file_read("tok", out, sizeof out, err, sizeof err));
	CHECK_INT(TOKEN_FILE_MAX, strlen(out));
	write_file("tok", big, TOKEN_FILE_MAX + 1);
	CHECK_INT(-E2BIG, token_file_read("tok", out, sizeof out, err, sizeof err));
	CHECK(strstr(err, "longer than 1024 bytes"));
	CHECK_INT(-ENOENT, token_file_read("nosuch", out, sizeof out, err, sizeof err));
	CHECK(strstr(err, "cannot read token file 'nosuch'"));
}

struct arow {
	const char *json;
	long n;			/* elements, or a negative errno */
	const char *parts;	/* the elements joined by '|' */
};

static const struct arow arows[] = {
	{ "[]", 0, "" },
	{ " [ ] ", 0, "" },
	{ "[1]", 1, "1" },
	{ "[ {\"a\": [1, 2]} , \"x,]}\" ,\n3 ]", 3, "{\"a\": [1, 2]}|\"x,]}\"|3" },
	{ "[\"\\\"\", [[]], {}]", 3, "\"\\\"\"|[[]]|{}" },
	{ "{\"a\":1}", -EINVAL, "" },
	{ "[1,2,3,4]", -E2BIG, "" },	/* max 3 */
};

TEST(json_split_table)
{
	size_t i;

	for (i = 0; i < sizeof arows / sizeof arows[0]; i++) {
		const struct arow *w = &arows[i];
		size_t (*el)[2];
		char got[256] = "";
		size_t off = 0;
		long n = json_split_array(w->json, strlen(w->json), 3, &el), k;

		if (n != w->n)
			FAILF("row %zu: %ld elements, expected %ld", i, n, w->n);
		for (k = 0; k < n; k++)
			off += (size_t)snprintf(got + off, sizeof got - off, "%s%.*s", k ? "|" : "",
						(int)el[k][1], w->json + el[k][0]);
		if (n >= 0 && strcmp(got, w->parts) != 0)
			FAILF("row %zu: '%s', expected '%s'", i, got, w->parts);
		free(n >= 0 ? el : NULL);
	}
}
