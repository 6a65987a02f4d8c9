/*
 * json: strict validation on top of jsmn, and lookups in its tokens.
 *
 * jsmn tokenizes without allocating but accepts things RFC 8259 does not
 * (trailing commas, as in the seed article's sample job; bare words). We run a
 * strict validator first, then jsmn for the token tree, with a ceiling on the
 * number of tokens. Nothing here allocates except json_parse's token array,
 * json_canon's member list, and the validator's list of open keys when a
 * document has more than a few dozen (one entry per key: bounded by len).
 *
 * Keys and strings compare by what they decode to, never as written.
 */
#ifndef SPOOL_JSON_H
#define SPOOL_JSON_H

#define JSMN_HEADER
#include <jsmn.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define JSON_TOKENS_MAX 65536	/* ceiling on tokens in one document */
#define JSON_DEPTH_MAX 64	/* ceiling on nesting */

struct json {
	const char *s;		/* the text (not owned) */
	size_t len;
	jsmntok_t *tok;		/* owned */
	int ntok;
};

/*
 * Check that s[0..len) is exactly one strict JSON value (surrounding white
 * space allowed): RFC 8259, strings in UTF-8 exactly as RFC 3629 section 4
 * has it, \u escapes of surrogates only as a high-low pair, and no object
 * with two keys that decode the same (the message names the key). Returns
 * 0, or -EINVAL (-ENOMEM) with a message in err (errlen bytes) saying what
 * is wrong and at which byte.
 */
int json_validate(const char *s, size_t len, char *err, size_t errlen);

/*
 * Validate s and tokenize it into j (which must be released with
 * json_release). 0, -EINVAL (err says why), -E2BIG (more than maxtok tokens),
 * -ENOMEM. j->tok[0] is the root.
 */
int json_parse(struct json *j, const char *s, size_t len, int maxtok,
	       char *err, size_t errlen);

void json_release(struct json *j);

/* The value of hex digit c (either case), or -1. */
int hex_value(int c);

/* Index of the token after the whole subtree rooted at token i. */
int json_skip(const struct json *j, int i);

/* In the object at token obj, the value token of key (decoded), or -1. */
int json_get(const struct json *j, int obj, const char *key);

/* 1 if token i is a string that decodes to exactly the bytes of s, else 0. */
int json_eq(const struct json *j, int i, const char *s);

/*
 * Copy the string token i, unescaped, into out (cap bytes, NUL-terminated).
 * 0, -EINVAL (not a string, or contains \u0000), -E2BIG (too long).
 */
int json_str(const struct json *j, int i, char *out, size_t cap);

/* The number token i as int64 (integral) or double. 0, -EINVAL, -ERANGE. */
int json_int(const struct json *j, int i, int64_t *out);
int json_num(const struct json *j, int i, double *out);

/* 1 for true, 0 for false, -EINVAL otherwise. */
int json_bool(const struct json *j, int i);

/*
 * String token i, decoded, as a short form for a message (no surrounding
 * quotes): '"', '\' and control characters escaped, cut on a character
 * boundary with "..." to fit cap bytes. Returns out ("" if i is no string).
 */
const char *json_quote(const struct json *j, int i, char *out, size_t cap);

/* Pointer to and length of token i's raw text (strings: without quotes). */
const char *json_raw(const struct json *j, int i, size_t *len);

/* Append token i's complete raw JSON text (strings keep their quotes). */
int json_append_raw(const struct json *j, int i, struct buf *b);

/*
 * Append the canonical form of token i to b: objects with their members
 * sorted by key (bytewise, decoded), no white space; strings and numbers
 * as written. Two documents that differ only in member order or spacing
 * have the same canonical form. 0 or a negative errno.
 */
int json_canon(const struct json *j, int i, struct buf *b);

#endif
