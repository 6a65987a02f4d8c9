/*
 * json: a strict RFC 8259 validator, then jsmn for the token tree.
 *
 * jsmn alone would take the seed article's sample job (a trailing comma) as
 * valid, so every document is validated first; jsmn then only has to
 * tokenize text we know is well formed.
 *
 * Strict means one reading for every reader (issue 9): UTF-8 exactly as
 * RFC 3629 has it, an escaped surrogate only as half of a pair, and no key
 * twice in an object, compared by what the keys decode to ("\u005fid" is
 * "_id"), since Python and JavaScript take the last of two and we the first.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jsmn.h>		/* the implementation: json.h includes it header-only */

#include "buf.h"
#include "json.h"

/*
 * A string's text between its quotes, as written. Keys are compared by what
 * they decode to, never as written: "\u005fid" is "_id" to every other reader.
 */
struct span {
	const char *p;
	size_t n;
};

#define VKEYS_SMALL 64

struct vstate {
	const char *s, *end, *p;
	int depth;
	int nomem;
	const char *why;
	char whybuf[96];
	/* the keys of every object still open, innermost last (duplicates) */
	struct span *keys;
	size_t nkeys, capkeys;
	struct span small[VKEYS_SMALL];
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

/* The four hex digits at p (before e) as a number, or -1. */
static long hex4(const char *p, const char *e)
{
	long v = 0;
	int i, d;

	if (e - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = hex_value((unsigned char)p[i])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

#define HI_SURROGATE(c) ((c) >= 0xd800 && (c) <= 0xdbff)
#define LO_SURROGATE(c) ((c) >= 0xdc00 && (c) <= 0xdfff)

/*
 * The length (1-4) of the UTF-8 character at p (before e), or 0 if it is not
 * one: exactly the table of RFC 3629 section 4, so no overlong form, no
 * surrogate (U+D800-DFFF) and nothing above U+10FFFF.
 */
static int utf8_len(const unsigned char *p, const unsigned char *e)
{
	unsigned lo = 0x80, hi = 0xbf;	/* range of the second byte */
	int n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (e - p < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A string, including UTF-8 checks: stored jobs are served as JSON text. */
static int vstring(struct vstate *v)
{
	v->p++;	/* opening quote */
	while (v->p < v->end) {
		unsigned char c = (unsigned char)*v->p;
		int n;

		if (c == '"') {
			v->p++;
			return 0;
		}
		if (c < 0x20) {
			v->why = "control character in string";
			return -1;
		}
		if (c == '\\') {
			const char *esc = v->p++;
			long cp;

			if (v->p >= v->end)
				break;
			switch (*v->p) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				v->p++;
				break;
			case 'u':
				if ((cp = hex4(v->p + 1, v->end)) < 0) {
					v->why = "bad \\u escape";
					return -1;
				}
				v->p += 5;
				/* one reading for all: a surrogate only as half of a pair */
				if (HI_SURROGATE(cp)) {
					long lo = v->end - v->p >= 6 && v->p[0] == '\\' &&
						  v->p[1] == 'u' ? hex4(v->p + 2, v->end) : -1;

					if (LO_SURROGATE(lo)) {
						v->p += 6;
						break;
					}
				}
				if (HI_SURROGATE(cp) || LO_SURROGATE(cp)) {
					v->p = esc;
					v->why = "lone surrogate in \\u escape";
					return -1;
				}
				break;
			default:
				v->why = "bad escape in string";
				return -1;
			}
			continue;
		}
		if (!(n = utf8_len((const unsigned char *)v->p, (const unsigned char *)v->end))) {
			v->why = "invalid UTF-8 in string";
			return -1;
		}
		v->p += n;
	}
	v->why = "unterminated string";
	return -1;
}

/* Append a code point as UTF-8. */
static size_t utf8_put(unsigned long cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The one decoder of string text: the bytes a string stands for, one at a
 * time, without allocating. It expects validated text but stays inside
 * [p, e) whatever it is given.
 */
struct unesc {
	const char *p, *e;
	unsigned char pend[4];	/* the rest of an escaped character's UTF-8 */
	int npend, ipend;
};

static void unesc_init(struct unesc *u, const struct span *t)
{
	u->p = t->p;
	u->e = t->p + t->n;
	u->npend = u->ipend = 0;
}

/* The next decoded byte, or -1 at the end. */
static int unesc_byte(struct unesc *u)
{
	long cp, lo;

	if (u->ipend < u->npend)
		return u->pend[u->ipend++];
	if (u->p >= u->e)
		return -1;
	if (*u->p != '\\' || u->e - u->p < 2)
		return (unsigned char)*u->p++;
	u->p += 2;
	switch (u->p[-1]) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u':
		if ((cp = hex4(u->p, u->e)) < 0)
			return 'u';
		u->p += 4;
		if (HI_SURROGATE(cp) && u->e - u->p >= 6 && u->p[0] == '\\' &&
		    u->p[1] == 'u' && LO_SURROGATE(lo = hex4(u->p + 2, u->e))) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			u->p += 6;
		}
		u->npend = (int)utf8_put((unsigned long)cp, u->pend);
		u->ipend = 1;
		return u->pend[0];
	default:
		return (unsigned char)u->p[-1];
	}
}

/* Compare two string texts by the bytes they stand for, as memcmp would. */
static int span_cmp(const struct span *a, const struct span *b)
{
	struct unesc x, y;
	int c, d;

	if (!memchr(a->p, '\\', a->n) && !memchr(b->p, '\\', b->n)) {
		c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
		return c ? c : (a->n > b->n) - (a->n < b->n);
	}
	unesc_init(&x, a);
	unesc_init(&y, b);
	do {
		c = unesc_byte(&x);
		d = unesc_byte(&y);
	} while (c == d && c >= 0);
	return c - d;
}

/* Equal spans in text order, so the second of a pair is a repeat. */
static int span_qcmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = span_cmp(x, y);

	return c ? c : (x->p > y->p) - (x->p < y->p);
}

/*
 * The decoded text of t for a message, without quotes: '"', '\' and control
 * characters escaped, cut on a character boundary (with "...") to fit cap
 * bytes, so the message stays UTF-8 and prints safely.
 */
static const char *span_quote(const struct span *t, char *out, size_t cap)
{
	struct unesc u;
	size_t o = 0;
	int c;

	if (cap == 0)
		return out;
	unesc_init(&u, t);
	while ((c = unesc_byte(&u)) >= 0) {
		char ch[8];
		size_t n = 1, k;

		ch[0] = (char)c;
		if (c == '"' || c == '\\') {
			ch[0] = '\\';
			ch[1] = (char)c;
			n = 2;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			ch[0] = '\\';
			ch[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			n = (size_t)snprintf(ch, sizeof(ch), "\\u%04x", (unsigned)c);
		} else if (c >= 0xc0) {
			int want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, d;

			for (; (int)n < want && (d = unesc_byte(&u)) >= 0; n++)
				ch[n] = (char)d;
		}
		if (o + n + 4 > cap) {	/* room for "..." and the NUL */
			for (k = 0; k < 3 && o + 1 < cap; k++)
				out[o++] = '.';
			break;
		}
		memcpy(out + o, ch, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

/* Note the key just read (its text between quotes) for the duplicate check. */
static int push_key(struct vstate *v, const char *p, size_t n)
{
	if (v->nkeys == v->capkeys) {
		size_t cap = v->capkeys * 2;
		struct span *k = v->keys == v->small ? malloc(cap * sizeof(*k))
						     : realloc(v->keys, cap * sizeof(*k));

		if (!k) {
			v->nomem = 1;
			v->why = "out of memory";
			return -1;
		}
		if (v->keys == v->small)
			memcpy(k, v->small, sizeof(v->small));
		v->keys = k;
		v->capkeys = cap;
	}
	v->keys[v->nkeys].p = p;
	v->keys[v->nkeys++].n = n;
	return 0;
}

/*
 * The object whose keys start at keys[base] is closed: refuse it if two
 * keys decode the same (readers disagree on which one counts), naming the
 * key at its second occurrence; then forget its keys.
 */
static int check_keys(struct vstate *v, size_t base)
{
	struct span *k = v->keys + base, *dup = NULL;
	size_t n = v->nkeys - base, i;

	v->nkeys = base;
	if (n < 2)
		return 0;
	qsort(k, n, sizeof(*k), span_qcmp);
	for (i = 1; i < n; i++)
		if (span_cmp(&k[i - 1], &k[i]) == 0 && (!dup || k[i].p < dup->p) &&
		    (i < 2 || span_cmp(&k[i - 2], &k[i]) != 0))
			dup = &k[i];
	if (!dup)
		return 0;
	{
		char q[48];

		snprintf(v->whybuf, sizeof(v->whybuf), "duplicate key \"%s\"",
			 span_quote(dup, q, sizeof(q)));
	}
	v->why = v->whybuf;
	v->p = dup->p - 1;
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
	size_t base = v->nkeys;
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
			return close == '}' ? check_keys(v, base) : 0;
		}
		if (close == '}') {
			const char *key = v->p;

			if (*v->p != '"') {
				v->why = "expected a string key";
				return -1;
			}
			if (vstring(v) < 0 ||
			    push_key(v, key + 1, (size_t)(v->p - key - 2)) < 0)
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
			return close == '}' ? check_keys(v, base) : 0;
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
	struct vstate v;
	int r;

	v.s = v.p = s;
	v.end = s + len;
	v.depth = 0;
	v.nomem = 0;
	v.why = NULL;
	v.keys = v.small;
	v.nkeys = 0;
	v.capkeys = VKEYS_SMALL;
	r = vvalue(&v);
	if (r == 0) {
		ws(&v);
		if (v.p != v.end) {
			v.why = "text after the JSON value";
			r = -1;
		}
	}
	if (v.keys != v.small)
		free(v.keys);
	if (r == 0)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "invalid JSON at byte %zu: %s",
			 (size_t)(v.p - s), v.why ? v.why : "error");
	return v.nomem ? -ENOMEM : -EINVAL;
}

/* Tokens tried in one pass before counting them (most documents fit). */
#define TOKENS_GUESS 256

int json_parse(struct json *j, const char *s, size_t len, int maxtok,
	       char *err, size_t errlen)
{
	jsmn_parser p;
	int n, r, guess = maxtok < TOKENS_GUESS ? maxtok : TOKENS_GUESS;

	j->s = s;
	j->len = len;
	j->tok = NULL;
	j->ntok = 0;
	if ((r = json_validate(s, len, err, errlen)) < 0)
		return r;
	/* one pass when the tokens fit the guess, else count them first */
	if (guess > 0) {
		j->tok = calloc((size_t)guess, sizeof(*j->tok));
		if (!j->tok)
			return -ENOMEM;
		jsmn_init(&p);
		n = jsmn_parse(&p, s, len, j->tok, (unsigned)guess);
		if (n >= 1) {
			j->ntok = n;
			return 0;
		}
		json_release(j);
		if (n != JSMN_ERROR_NOMEM) {
			if (err && errlen)
				snprintf(err, errlen, "invalid JSON");
			return -EINVAL;
		}
	}
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

/* Token i's text as a span, if it is a string. */
static int tok_span(const struct json *j, int i, struct span *t)
{
	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_STRING)
		return -1;
	t->p = j->s + j->tok[i].start;
	t->n = (size_t)(j->tok[i].end - j->tok[i].start);
	return 0;
}

int json_eq(const struct json *j, int i, const char *s)
{
	struct span t;
	struct unesc u;
	const unsigned char *w = (const unsigned char *)s;
	int c;

	if (tok_span(j, i, &t) < 0)
		return 0;
	unesc_init(&u, &t);
	while ((c = unesc_byte(&u)) >= 0 && *w && c == *w)
		w++;
	return c < 0 && !*w;
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

int json_str(const struct json *j, int i, char *out, size_t cap)
{
	struct span t;
	struct unesc u;
	size_t o = 0;
	int c;

	if (tok_span(j, i, &t) < 0 || cap == 0)
		return -EINVAL;
	unesc_init(&u, &t);
	while ((c = unesc_byte(&u)) >= 0) {
		if (c == 0)
			return -EINVAL;
		if (o + 1 >= cap)
			return -E2BIG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

const char *json_quote(const struct json *j, int i, char *out, size_t cap)
{
	struct span t;

	if (tok_span(j, i, &t) < 0) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	return span_quote(&t, out, cap);
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
	struct span k;
	int key;	/* token index of the key */
};

/* By decoded key, as the duplicate check compares them. */
static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = span_cmp(&x->k, &y->k);

	return c ? c : (x->key > y->key) - (x->key < y->key);
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
			m[k].k.p = json_raw(j, c, &m[k].k.n);
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
