/*
 * util: small string helpers of the daemon: query strings, percent-decoding,
 * splitting a JSON array without a token array, constant-time compare.
 *
 * Layer: 1 base
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "base.h"

int url_decode(char *s, int plus)
{
	char *w = s;
	for (; *s; s++) {
		if (*s == '%') {
			int h = hex_value((unsigned char)s[1]), l;
			if (h < 0)
				return -EINVAL;
			l = hex_value((unsigned char)s[2]);
			if (l < 0)
				return -EINVAL;
			if (!h && !l)
				return -EINVAL;	/* NUL */
			*w++ = (char)(h * 16 + l);
			s += 2;
		} else if (plus && *s == '+') {
			*w++ = ' ';
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
	return 0;
}

int query_get(const char *query, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			size_t vlen = len - klen - 1;
			if (vlen >= cap)
				return -E2BIG;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = 0;
			return url_decode(out, 1) < 0 ? -EINVAL : 1;
		}
		if (len == klen && !strncmp(p, key, klen)) {
			out[0] = 0;
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int query_int(const char *query, const char *key, long lo, long hi, long def,
	      long *out)
{
	char v[32], *end;
	long x;
	int rc = query_get(query, key, v, sizeof(v));

	if (rc < 0)
		return -EINVAL;
	if (!rc) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtol(v, &end, 10);
	if (!v[0] || *end || errno || x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}

int ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char d = alen != blen;
	size_t i;
	/* walk the expected string (b) whatever a is, so time says nothing */
	for (i = 0; i < blen; i++)
		d |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
	return !d;
}

int tags_parse(const char *s, char tagv[][SPOOL_TAG_MAX + 1], int *ntags)
{
	int n = 0;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len) {
			if (n == SPOOL_TAGS_MAX || len > SPOOL_TAG_MAX)
				return -EINVAL;
			memcpy(tagv[n], s, len);
			tagv[n][len] = 0;
			if (!tag_valid(tagv[n]))
				return -EINVAL;
			n++;
		}
		if (!end)
			break;
		s = end + 1;
	}
	*ntags = n;
	return 0;
}

const char *printable(const char *s, char out[80])
{
	size_t i, j = 0;
	for (i = 0; s[i] && j < 64; i++)
		out[j++] = isprint((unsigned char)s[i]) && s[i] != '"' &&
			   s[i] != '\\' ? s[i] : '?';
	if (s[i]) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = 0;
	return out;
}

int member_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
		      s[i] == '.'))
			return 0;
	return i > 0 && i < 64;
}

int query_key(const char *query, const char *def, char out[64])
{
	int rc = query_get(query, "key", out, 64);

	if (rc == 0)
		snprintf(out, 64, "%s", def);
	return rc < 0 || !member_name_ok(out) ? -EINVAL : 0;
}

int query_order(const char *query, int *desc)
{
	char ord[8];
	int rc = query_get(query, "order", ord, sizeof(ord));

	if (rc == 0)
		strcpy(ord, "asc");
	if (rc < 0 || (strcmp(ord, "asc") && strcmp(ord, "desc")))
		return -EINVAL;
	*desc = !strcmp(ord, "desc");
	return 0;
}
