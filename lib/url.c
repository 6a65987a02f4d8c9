/*
 * url: a boss's base URL, by one rule for every program. See url.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

int url_base(const char *in, char *out, size_t cap, char *err, size_t errlen)
{
	size_t n = strlen(in), skip, i;

	while (n && in[n - 1] == '/')
		n--;
	if (n > URL_BASE_MAX || n >= cap) {
		snprintf(err, errlen, "the boss URL is longer than %d bytes",
			 URL_BASE_MAX);
		return -ENAMETOOLONG;
	}
	skip = !strncmp(in, "http://", 7) ? 7 : !strncmp(in, "https://", 8) ? 8 : 0;
	if (!skip) {
		snprintf(err, errlen, "the boss URL must be http://HOST[:PORT] or "
			 "https://..., not '%s'", in);
		return -EINVAL;
	}
	if (n <= skip || in[skip] == '/' || in[skip] == ':') {
		snprintf(err, errlen, "the boss URL '%s' names no host", in);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		/* what would end or split a request line, or be read two ways */
		if (c <= 0x20 || c >= 0x7f) {
			snprintf(err, errlen, "the boss URL '%s': byte %zu is a blank, "
				 "a control character or not ASCII", in, i);
			return -EINVAL;
		}
	}
	memcpy(out, in, n);
	out[n] = '\0';
	return 0;
}

int url_join(const char *base, const char *path, char *out, size_t cap)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	if ((size_t)snprintf(out, cap, "%.*s/%s", (int)n, base,
			     path + (*path == '/')) >= cap)
		return -ENAMETOOLONG;
	return 0;
}
