/*
 * url: the one rule for a boss's base URL as a user gives it (runner
 * --boss, spoolctl --boss, $SPOOL_BOSS), and for joining it with an API
 * path, so that "http://h:8080" and "http://h:8080/" reach the same boss
 * from every program. Pure string work: no allocation, no I/O.
 */
#ifndef SPOOL_URL_H
#define SPOOL_URL_H

#include <stddef.h>

#define URL_BASE_MAX 1024	/* bytes of a base URL */

/*
 * Normalize the base URL in into out (cap bytes): it must begin with
 * http:// or https://, name a host, and hold no blank, control or non-ASCII
 * byte; trailing '/'s are dropped. 0; -EINVAL with err (errlen bytes)
 * saying why, the URL quoted; -ENAMETOOLONG (longer than URL_BASE_MAX or
 * cap - 1).
 */
int url_base(const char *in, char *out, size_t cap, char *err, size_t errlen);

/*
 * base followed by path (which begins with '/') into out (cap bytes), with
 * one '/' between them even when base ends in one. 0 or -ENAMETOOLONG.
 */
int url_join(const char *base, const char *path, char *out, size_t cap);

#endif
