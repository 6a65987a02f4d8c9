/*
 * token: reading a bearer token from a token file, by one rule for every
 * program (spoold --token-file, runner --token-file, spoolctl, and the
 * Python client's read_token_file).
 *
 * The rule: trailing white space (a final newline, a blank line or a space
 * an editor left) is not part of the token; what is left must be 1 to
 * TOKEN_FILE_MAX bytes of printable ASCII with no blank (0x21 to 0x7e).
 * Anything else is refused with a message, never silently cut, so that a
 * token that works for one program works for all of them.
 */
#ifndef SPOOL_TOKEN_H
#define SPOOL_TOKEN_H

#include <stddef.h>

#define TOKEN_FILE_MAX 1024	/* bytes of a token */

/*
 * Read the token in file path into out (cap bytes, at least
 * TOKEN_FILE_MAX + 1), NUL-terminated. 0; or a negative errno with err
 * (errlen bytes) saying why in words that name the file: -ENOENT and the
 * like (cannot read), -EINVAL (empty, a blank, a control character or a
 * non-ASCII byte inside: the message says which byte), -E2BIG (too long).
 */
int token_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen);

#endif
