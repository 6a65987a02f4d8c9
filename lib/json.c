/*
 * json: a strict RFC 8259 validator, then jsmn for the token tree.
 *
 * jsmn alone would take the seed article's sample job (a trailing comma) as
 * valid, so every document is validated first; jsmn then only has to
 * tokenize text we know is well formed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jsmn.h>		/* the implementation: json.h includes it header-only */

#include "buf.h"
#include "json.h"

struct vstate {
	const char *s, *end, *p;
	int depth;
	const char *why;
};

static void ws(struct vstate *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' ||
				 *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static int vvalue(struct vstate *v);

int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string, including UTF-8 checks: stored jobs are served as JSON text. */
static int vstring(struct vstate *v)
{
	v->p++;	/* opening quote */
	while (v->p < v->end) {
		unsigned char c = (unsigned char)*v->p;

		if (c == '"') {
			v->p++;
			return 0;
		}
		if (c < 0x20) {
			v->why = "control character in string";
			return -1;
		}
		if (c == '\\') {
			v->p++;
			if (v->p >= v->end)
				break;
			switch (*v->p) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				v->p++;
				break;
			case 'u':
				if (v->end - v->p < 5 || hex_value(v->p[1]) < 0 ||
				    hex_value(v->p[2]) < 0 || hex_value(v->p[3]) < 0 ||
				    hex_value(v->p[4]) < 0) {
					v->why = "bad \\u escape";
					return -1;
				}
				v->p += 5;
				break;
			default:
				v->why = "bad escape in string";
				return -1;
			}
			continue;
		}
		if (c < 0x80) {
			v->p++;
			continue;
		}
		/* UTF-8 sequence */
		{
			int n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
			int i;

			if (c >= 0xf5)
				n = -1;
			if (n < 0 || v->end - v->p <= n) {
				v->why = "invalid UTF-8 in string";
				return -1;
			}
			for (i = 1; i <= n; i++)
				if (((unsigned char)v->p[i] & 0xc0) != 0x80) {
					v->why = "invalid UTF-8 in string";
					return -1;
				}
			v->p += n + 1;
		}
	}
	v->why = "unterminated string";
	return -1;
}

static int digits(struct vstate *v)
{
	const char *b = v->p;

	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return v->p > b ? 0 : -1;
}

static int vnumber(struct vstate *v)
{
	if (*v->p == '-')
		v->p++;
	if (v->p < v->end && *v->p == '0')
		v->p++;
	else if (digits(v) < 0)
		goto bad;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (digits(v) < 0)
			goto bad;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (digits(v) < 0)
			goto bad;
	}
	return 0;
bad:
	v->why = "bad number";
	return -1;
}

static int vword(struct vstate *v, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, w, n) != 0) {
		v->why = "unexpected character";
		return -1;
	}
	v->p += n;
	return 0;
}

static int vcontainer(struct vstate *v, char close)
{
	int first = 1;

	if (++v->depth > JSON_DEPTH_MAX) {
		v->why = "nested too deeply";
		return -1;
	}
	v->p++;
	for (;;) {
		ws(v);
		if (v->p >= v->end)
			break;
		if (*v->p == close) {
			if (!first) {
				v->why = close == '}' ? "trailing comma in object" : "trailing comma in array";
				return -1;
			}
			v->p++;
			v->depth--;
			return 0;
		}
		if (close == '}') {
			if (*v->p != '"') {
				v->why = "expected a string key";
				return -1;
			}
			if (vstring(v) < 0)
				return -1;
			ws(v);
			if (v->p >= v->end || *v->p != ':') {
				v->why = "expected ':'";
				return -1;
			}
			v->p++;
		}
		if (vvalue(v) < 0)
			return -1;
		ws(v);
		if (v->p >= v->end)
			break;
		if (*v->p == ',') {
			v->p++;
			first = 0;
			/* a close right after a comma is caught above */
			ws(v);
			if (v->p < v->end && *v->p == close) {
				v->why = close == '}' ? "trailing comma in object" : "trailing comma in array";
				return -1;
			}
			continue;
		}
		if (*v->p == close) {
			v->p++;
			v->depth--;
			return 0;
		}
		v->why = close == '}' ? "expected ',' or '}'" : "expected ',' or ']'";
		return -1;
	}
	v->why = "unexpected end of text";
	return -1;
}

static int vvalue(struct vstate *v)
{
	ws(v);
	if (v->p >= v->end) {
		v->why = "unexpected end of text";
		return -1;
	}
	switch (*v->p) {
	case '{': return vcontainer(v, '}');
	case '[': return vcontainer(v, ']');
	case '"': return vstring(v);
	case 't': return vword(v, "true");
	case 'f': return vword(v, "false");
	case 'n': return vword(v, "null");
	default:
		if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9'))
			return vnumber(v);
		v->why = "unexpected character";
		return -1;
	}
}

int json_validate(const char *s, size_t len, char *err, size_t errlen)
{
	struct vstate v = { s, s + len, s, 0, NULL };

	if (vvalue(&v) == 0) {
		ws(&v);
		if (v.p == v.end)
			return 0;
		v.why = "text after the JSON value";
	}
	if (err && errlen)
		snprintf(err, errlen, "invalid JSON at byte %zu: %s",
			 (size_t)(v.p - s), v.why ? v.why : "error");
	return -EINVAL;
}

int json_parse(struct json *j, const char *s, size_t len, int maxtok,
	       char *err, size_t errlen)
{
	jsmn_parser p;
	int n, r;

	j->s = s;
	j->len = len;
	j->tok = NULL;
	j->ntok = 0;
	if ((r = json_validate(s, len, err, errlen)) < 0)
		return r;
	jsmn_init(&p);
	n = jsmn_parse(&p, s, len, NULL, 0);
	if (n < 0) {
		if (err && errlen)
			snprintf(err, errlen, "invalid JSON");
		return -EINVAL;
	}
	if (n > maxtok) {
		if (err && errlen)
			snprintf(err, errlen, "JSON has %d tokens, more than %d", n, maxtok);
		return -E2BIG;
	}
	j->tok = calloc((size_t)(n ? n : 1), sizeof(*j->tok));
	if (!j->tok)
		return -ENOMEM;
	jsmn_init(&p);
	j->ntok = jsmn_parse(&p, s, len, j->tok, (unsigned)n);
	if (j->ntok < 1) {
		json_release(j);
		if (err && errlen)
			snprintf(err, errlen, "invalid JSON");
		return -EINVAL;
	}
	return 0;
}

void json_release(struct json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

int json_skip(const struct json *j, int i)
{
	int n = 1;	/* tokens still to pass over */

	while (n > 0 && i < j->ntok) {
		const jsmntok_t *t = &j->tok[i];

		n--;
		if (t->type == JSMN_OBJECT)
			n += t->size * 2;
		else if (t->type == JSMN_ARRAY)
			n += t->size;
		i++;
	}
	return i;
}

int json_eq(const struct json *j, int i, const char *s)
{
	const jsmntok_t *t;
	size_t n = strlen(s);

	if (i < 0 || i >= j->ntok)
		return 0;
	t = &j->tok[i];
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
	       memcmp(j->s + t->start, s, n) == 0;
}

int json_get(const struct json *j, int obj, const char *key)
{
	int i, k, n;

	if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSMN_OBJECT)
		return -1;
	n = j->tok[obj].size;
	i = obj + 1;
	for (k = 0; k < n; k++) {
		if (json_eq(j, i, key))
			return i + 1;
		i = json_skip(j, i + 1);
	}
	return -1;
}

/* Append a code point as UTF-8. */
static size_t utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static unsigned hex4(const char *p)
{
	return (unsigned)(hex_value(p[0]) << 12 | hex_value(p[1]) << 8 |
			  hex_value(p[2]) << 4 | hex_value(p[3]));
}

int json_str(const struct json *j, int i, char *out, size_t cap)
{
	const jsmntok_t *t;
	const char *p, *e;
	size_t o = 0;

	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_STRING || cap == 0)
		return -EINVAL;
	t = &j->tok[i];
	p = j->s + t->start;
	e = j->s + t->end;
	while (p < e) {
		char tmp[4];
		size_t n = 1;

		if (*p != '\\') {
			tmp[0] = *p++;
		} else {
			p++;
			switch (*p) {
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case 'n': tmp[0] = '\n'; break;
			case 'r': tmp[0] = '\r'; break;
			case 't': tmp[0] = '\t'; break;
			case 'u': {
				unsigned cp = hex4(p + 1);

				p += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 7 &&
				    p[1] == '\\' && p[2] == 'u') {
					unsigned lo = hex4(p + 3);

					if (lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						p += 6;
					}
				}
				if (cp == 0)
					return -EINVAL;
				n = utf8_put(cp, tmp);
				break;
			}
			default: tmp[0] = *p; break;
			}
			p++;
		}
		if (o + n >= cap)
			return -E2BIG;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

const char *json_raw(const struct json *j, int i, size_t *len)
{
	if (i < 0 || i >= j->ntok) {
		*len = 0;
		return "";
	}
	*len = (size_t)(j->tok[i].end - j->tok[i].start);
	return j->s + j->tok[i].start;
}

int json_int(const struct json *j, int i, int64_t *out)
{
	double d;
	int r = json_num(j, i, &d);

	if (r < 0)
		return r;
	if (d != floor(d))
		return -EINVAL;
	if (d < -9.2e18 || d > 9.2e18)
		return -ERANGE;
	*out = (int64_t)d;
	return 0;
}

int json_num(const struct json *j, int i, double *out)
{
	char tmp[64];
	size_t n;
	const char *p = json_raw(j, i, &n);
	char *end;

	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_PRIMITIVE)
		return -EINVAL;
	if (n == 0 || n >= sizeof(tmp) || !(*p == '-' || (*p >= '0' && *p <= '9')))
		return -EINVAL;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtod(tmp, &end);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || !isfinite(*out))
		return -ERANGE;
	return 0;
}

int json_bool(const struct json *j, int i)
{
	size_t n;
	const char *p = json_raw(j, i, &n);

	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_PRIMITIVE)
		return -EINVAL;
	if (n == 4 && memcmp(p, "true", 4) == 0)
		return 1;
	if (n == 5 && memcmp(p, "false", 5) == 0)
		return 0;
	return -EINVAL;
}

int json_append_raw(const struct json *j, int i, struct buf *b)
{
	size_t n;
	const char *p = json_raw(j, i, &n);

	if (i < 0 || i >= j->ntok)
		return -EINVAL;
	if (j->tok[i].type == JSMN_STRING)
		return buf_add(b, p - 1, n + 2);
	return buf_add(b, p, n);
}

struct member {
	const char *k;
	size_t klen;
	int key;	/* token index of the key */
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->k, y->k, n);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

int json_canon(const struct json *j, int i, struct buf *b)
{
	const jsmntok_t *t;
	int r, k, n, c;

	if (i < 0 || i >= j->ntok)
		return -EINVAL;
	t = &j->tok[i];
	if (t->type == JSMN_ARRAY) {
		if ((r = buf_puts(b, "[")) < 0)
			return r;
		for (k = 0, c = i + 1; k < t->size; k++, c = json_skip(j, c))
			if ((k && (r = buf_puts(b, ",")) < 0) || (r = json_canon(j, c, b)) < 0)
				return r;
		return buf_puts(b, "]");
	}
	if (t->type == JSMN_OBJECT) {
		struct member *m;

		n = t->size;
		m = calloc((size_t)(n ? n : 1), sizeof(*m));
		if (!m)
			return -ENOMEM;
		for (k = 0, c = i + 1; k < n; k++, c = json_skip(j, c + 1)) {
			m[k].key = c;
			m[k].k = json_raw(j, c, &m[k].klen);
		}
		qsort(m, (size_t)n, sizeof(*m), cmp_member);
		r = buf_puts(b, "{");
		for (k = 0; r == 0 && k < n; k++) {
			if (k)
				r = buf_puts(b, ",");
			if (r == 0)
				r = json_append_raw(j, m[k].key, b);
			if (r == 0)
				r = buf_puts(b, ":");
			if (r == 0)
				r = json_canon(j, m[k].key + 1, b);
		}
		free(m);
		return r < 0 ? r : buf_puts(b, "}");
	}
	return json_append_raw(j, i, b);
}
