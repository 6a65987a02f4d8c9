/*
 * fuzz_json: a libFuzzer target for lib/json.c, the strict validator every
 * stored document goes through and the token tree read after it.
 *
 * Beyond "no crash, no sanitizer report" it checks what json.h promises:
 * json_parse accepts what json_validate accepts; every message is UTF-8 (it
 * ends up in a JSON answer); decoded strings are UTF-8 by an independent
 * reading of RFC 3629 (so no lone surrogate escape gets through); keys are
 * unique once decoded, so json_get finds each key's own value; and the
 * canonical form is valid JSON and its own canonical form.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#define FUZZ_TOKENS 4096

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_json: broken promise: %s\n", what);
		abort();
	}
}

/*
 * UTF-8 as RFC 3629 defines it, read a second way (decode, then check the
 * code point) so that a slip in json.c's table does not hide here too.
 */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned long cp, min;
		size_t len, k;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			len = 2, cp = s[i] & 0x1f, min = 0x80;
		else if ((s[i] & 0xf0) == 0xe0)
			len = 3, cp = s[i] & 0x0f, min = 0x800;
		else if ((s[i] & 0xf8) == 0xf0)
			len = 4, cp = s[i] & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static void check_message(const char *err, size_t cap)
{
	size_t n = strnlen(err, cap);

	need(n < cap, "message is NUL-terminated");
	need(n > 0, "a refusal says why");
	need(utf8_ok((const unsigned char *)err, n), "message is UTF-8");
}

/* The canonical form of j: valid, parsed alike, and a fixed point. */
static void check_canon(const struct json *j, size_t size)
{
	struct buf a, b;
	struct json k;
	char err[160];
	int r;

	buf_init(&a, size + 64);
	buf_init(&b, size + 64);
	r = json_canon(j, 0, &a);
	need(r == 0, "json_canon of a parsed document succeeds");
	r = json_parse(&k, a.data, a.len, FUZZ_TOKENS, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "canon: %s\n%s\n", err, a.data);
	need(r == 0, "the canonical form parses");
	need(k.ntok == j->ntok, "the canonical form has the same tokens");
	need(json_canon(&k, 0, &b) == 0, "json_canon of the canonical form");
	need(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
	     "the canonical form is its own canonical form");
	json_release(&k);
	buf_release(&a);
	buf_release(&b);
}

static void check_tokens(const struct json *j)
{
	static char out[65536];
	char q[48];
	int i;

	need(json_skip(j, 0) == j->ntok, "the root spans every token");
	for (i = 0; i < j->ntok; i++) {
		const jsmntok_t *t = &j->tok[i];
		double d;
		int64_t v;
		int r;

		if (t->type == JSMN_STRING) {
			r = json_str(j, i, out, sizeof(out));
			need(r == 0 || r == -EINVAL || r == -E2BIG, "json_str returns");
			if (r == 0) {
				need(utf8_ok((const unsigned char *)out, strlen(out)),
				     "a decoded string is UTF-8");
				need(json_eq(j, i, out) == 1, "a string equals what it decodes to");
			}
			json_quote(j, i, q, sizeof(q));
			need(strlen(q) < sizeof(q), "json_quote fits");
			need(utf8_ok((const unsigned char *)q, strlen(q)), "json_quote is UTF-8");
		} else if (t->type == JSMN_PRIMITIVE) {
			(void)json_num(j, i, &d);
			(void)json_int(j, i, &v);
			(void)json_bool(j, i);
		} else if (t->type == JSMN_OBJECT) {
			int c = i + 1, k;

			/* keys are unique decoded: each one leads json_get to itself */
			for (k = 0; k < t->size; k++, c = json_skip(j, c + 1)) {
				need(c < j->ntok && j->tok[c].type == JSMN_STRING, "a key is a string");
				if (json_str(j, c, out, sizeof(out)) == 0)
					need(json_get(j, i, out) == c + 1, "json_get finds a key's own value");
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char err[160];
	struct json j;
	int v, p;

	memset(err, 0, sizeof(err));
	v = json_validate(s, size, err, sizeof(err));
	need(v == 0 || v == -EINVAL || v == -ENOMEM, "json_validate returns");
	if (v < 0)
		check_message(err, sizeof(err));
	memset(err, 0, sizeof(err));
	p = json_parse(&j, s, size, FUZZ_TOKENS, err, sizeof(err));
	need(p == 0 || p == -EINVAL || p == -E2BIG || p == -ENOMEM, "json_parse returns");
	need((p == 0) == (v == 0) || p == -E2BIG || p == -ENOMEM,
	     "json_parse accepts what json_validate accepts");
	if (p < 0)
		check_message(err, sizeof(err));
	if (p == 0) {
		check_tokens(&j);
		check_canon(&j, size);
		json_release(&j);
	}

	/* a string of plain bytes: valid exactly when the bytes are UTF-8 */
	if (size < 4096 && !memchr(s, '"', size) && !memchr(s, '\\', size)) {
		static char q[4098];
		size_t i;
		int ctl = 0;

		for (i = 0; i < size; i++)
			ctl |= data[i] < 0x20;
		if (!ctl) {
			q[0] = '"';
			memcpy(q + 1, s, size);
			q[size + 1] = '"';
			need((json_validate(q, size + 2, NULL, 0) == 0) == utf8_ok(data, size),
			     "strings are valid exactly when RFC 3629 says their bytes are");
		}
	}
	return 0;
}
