/*
 * boss: spoolctl's HTTP client for a spoold (submit and sweep --boss), over
 * libcurl. The token comes from lib/token.h's token_file_read (cli_boss).
 */
#ifndef SPOOLCTL_BOSS_H
#define SPOOLCTL_BOSS_H

#include <stddef.h>

#include "buf.h"

/*
 * One request to the boss at url (e.g. http://127.0.0.1:8080) for path
 * (e.g. /v1/jobs). body may be NULL for a GET. token (may be NULL) is sent
 * as a bearer token. The answer's body goes to resp (its ceiling applies),
 * its status to *status. 0, or -EIO when no answer came (err says why).
 */
int boss_request(const char *url, const char *method, const char *path,
		 const char *body, size_t len, const char *token,
		 struct buf *resp, long *status, char *err, size_t errlen);

#endif
