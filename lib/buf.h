/*
 * buf: a growable byte buffer with a ceiling.
 *
 * Every buffer in spool has a maximum size (style rule 5): appending past it
 * fails with -E2BIG instead of growing without bound. The data is always kept
 * NUL-terminated so it can be handed to string functions.
 */
#ifndef SPOOL_BUF_H
#define SPOOL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NUL-terminated; NULL until the first append */
	size_t len;	/* bytes used, not counting the NUL */
	size_t cap;	/* bytes allocated */
	size_t max;	/* ceiling on len */
};

/* Prepare an empty buffer that may hold up to max bytes. */
void buf_init(struct buf *b, size_t max);

/* Free the storage; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);

/* Forget the contents but keep the storage. */
void buf_reset(struct buf *b);

/* Append n bytes. 0, -E2BIG past the ceiling, -ENOMEM. */
int buf_add(struct buf *b, const void *p, size_t n);

/* Append a C string. Same returns as buf_add. */
int buf_puts(struct buf *b, const char *s);

/* Append printf-formatted text. Same returns as buf_add. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Append s as a JSON string literal, quotes included. */
int buf_json_str(struct buf *b, const char *s, size_t n);

/*
 * Read a whole file, relative to dirfd, into b (replacing its contents).
 * 0, -EFBIG when the file is larger than b->max, or a negative errno.
 */
int buf_read_file(struct buf *b, int dirfd, const char *path);

#endif
