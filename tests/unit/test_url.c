/*
 * Unit tests of lib/url.c: the one rule for a boss's base URL (runner
 * --boss, spoolctl --boss, $SPOOL_BOSS) and its joining with API paths.
 */
#include <errno.h>

#include "check.h"
#include "url.h"

struct urow {
	const char *in;
	const char *out;	/* NULL: refused */
	int rc;
	const char *err;	/* a substring of the refusal */
};

static const struct urow urows[] = {
	{ "http://127.0.0.1:8080", "http://127.0.0.1:8080", 0, NULL },
	{ "http://127.0.0.1:8080/", "http://127.0.0.1:8080", 0, NULL },
	{ "http://127.0.0.1:8080///", "http://127.0.0.1:8080", 0, NULL },
	{ "https://boss.example/spool/", "https://boss.example/spool", 0, NULL },
	{ "http://[::1]:8080", "http://[::1]:8080", 0, NULL },
	{ "127.0.0.1:8080", NULL, -EINVAL, "must be http://HOST[:PORT]" },
	{ "ftp://h/", NULL, -EINVAL, "not 'ftp://h/'" },
	{ "http://", NULL, -EINVAL, "names no host" },
	{ "http:///v1", NULL, -EINVAL, "names no host" },
	{ "http://:8080", NULL, -EINVAL, "names no host" },
	{ "", NULL, -EINVAL, "must be http" },
	{ "http://h /", NULL, -EINVAL, "byte 8 is a blank" },
	{ "http://h\r\nX: y", NULL, -EINVAL, "byte 8" },
	{ "http://caf\xc3\xa9", NULL, -EINVAL, "not ASCII" },
};

TEST(url_base_table)
{
	size_t i;

	for (i = 0; i < sizeof urows / sizeof urows[0]; i++) {
		const struct urow *w = &urows[i];
		char out[URL_BASE_MAX + 1] = "", err[512] = "";
		int r = url_base(w->in, out, sizeof out, err, sizeof err);

		if (r != w->rc)
			FAILF("row %zu '%s': %d (%s), expected %d", i, w->in, r, err, w->rc);
		if (w->out && strcmp(out, w->out) != 0)
			FAILF("row %zu: '%s', expected '%s'", i, out, w->out);
		if (w->err && !strstr(err, w->err))
			FAILF("row %zu: '%s', expected it to say '%s'", i, err, w->err);
	}
}

TEST(url_base_ceilings)
{
	char in[URL_BASE_MAX + 16], out[URL_BASE_MAX + 1], err[256];

	memcpy(in, "http://", 7);
	memset(in + 7, 'h', URL_BASE_MAX - 7);
	in[URL_BASE_MAX] = '\0';
	CHECK_INT(0, url_base(in, out, sizeof out, err, sizeof err));
	CHECK_INT(URL_BASE_MAX, strlen(out));
	strcpy(in + URL_BASE_MAX, "/");	/* a trailing '/' does not count */
	CHECK_INT(0, url_base(in, out, sizeof out, err, sizeof err));
	strcpy(in + URL_BASE_MAX, "h");
	CHECK_INT(-ENAMETOOLONG, url_base(in, out, sizeof out, err, sizeof err));
	CHECK(strstr(err, "longer than 1024 bytes"));
	/* a buffer smaller than the URL is never overrun */
	CHECK_INT(-ENAMETOOLONG, url_base("http://127.0.0.1:8080", out, 10, err, sizeof err));
}

TEST(url_join_slashes)
{
	char out[64];

	CHECK_INT(0, url_join("http://h:1", "/v1/jobs", out, sizeof out));
	CHECK_STR("http://h:1/v1/jobs", out);
	CHECK_INT(0, url_join("http://h:1/", "/v1/jobs", out, sizeof out));
	CHECK_STR("http://h:1/v1/jobs", out);
	CHECK_INT(0, url_join("http://h:1//", "v1/claim?wait=1", out, sizeof out));
	CHECK_STR("http://h:1/v1/claim?wait=1", out);
	CHECK_INT(0, url_join("http://h:1/spool", "/v1/stats", out, sizeof out));
	CHECK_STR("http://h:1/spool/v1/stats", out);
	CHECK_INT(-ENAMETOOLONG, url_join("http://h:1", "/v1/orders/0123456789abcdef01234567/log",
					  out, 40));
	CHECK_INT(0, url_join("http://h:1", "/x", out, 13));
	CHECK_INT(-ENAMETOOLONG, url_join("http://h:1", "/xy", out, 13));
}
