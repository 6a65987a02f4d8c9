/*
 * token: the token-file rule (token.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "token.h"

static int trailing_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

int token_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	struct buf b;
	size_t n, i;
	int r;

	out[0] = '\0';
	/* room for the longest token and a generous tail of blank lines */
	buf_init(&b, TOKEN_FILE_MAX + 4096);
	r = buf_read_file(&b, AT_FDCWD, path);
	if (r == -EFBIG) {
		snprintf(err, errlen, "token file '%s': the token is longer than %d bytes", path, TOKEN_FILE_MAX);
		r = -E2BIG;
		goto out;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read token file '%s': %s", path, strerror(-r));
		goto out;
	}
	n = b.len;
	while (n && trailing_space(b.data[n - 1]))
		n--;
	r = -EINVAL;
	if (n == 0) {
		snprintf(err, errlen, "token file '%s' is empty", path);
		goto out;
	}
	if (n > TOKEN_FILE_MAX || n >= cap) {
		snprintf(err, errlen, "token file '%s': the token is longer than %d bytes", path, TOKEN_FILE_MAX);
		r = -E2BIG;
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b.data[i];

		if (ch < 0x21 || ch > 0x7e) {
			snprintf(err, errlen, "token file '%s': byte %zu is a blank, a control character or not ASCII (0x%02x)",
				 path, i, ch);
			goto out;
		}
	}
	memcpy(out, b.data, n);
	out[n] = '\0';
	r = 0;
out:
	buf_release(&b);
	return r;
}
