/*
 * attempts.h: the history of an order's attempts (attempts.c), from the
 * outcomes filed for it (outcomes/FF/ID.AAA.TOKEN.json, one per claim that
 * ended: completed, failed, or expired).
 */
#ifndef SPOOL_ATTEMPTS_H
#define SPOOL_ATTEMPTS_H

#include "spool.h"

#define SPOOL_ATTEMPTS_TOLD 100		/* attempts told, the latest */

/*
 * Append a JSON array to b, one object per outcome filed for order id,
 * oldest first (by attempt, then time filed), the last SPOOL_ATTEMPTS_TOLD:
 * {"attempt": A, "filedAt": ISO, "status": S|null, "error": first line|null,
 *  "run": the outcome's "_run" object|null}. 0, -EINVAL (bad id), errno.
 */
int spool_attempts_json(struct spool *sp, const char *id, struct buf *b);

#endif
