/*
 * log: the stdout and stderr of each attempt, kept as logs/FF/ID.AAA.log.
 * A log is capped at SPOOL_LOG_MAX; what is cut is marked, never silent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int spool_log_put(struct spool *sp, const char *id, int attempt,
		  const void *data, size_t len)
{
	char dest[SP_PATH_MAX], tmp[96], fan[3], stamp[SPOOL_ID_LEN + 1];
	char mark[96];
	struct buf b;
	int r;

	if (!id_valid(id) || attempt < 0 || attempt > SPOOL_ATTEMPTS_MAX)
		return sp_fail(sp, -EINVAL, "bad order id or attempt for a log");
	sp_fan(id, fan);
	snprintf(dest, sizeof(dest), "logs/%s/%s.%03d.log", fan, id, attempt);
	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "%s.log", stamp);
	if (len <= SPOOL_LOG_MAX)
		return sp_end(sp, sp_stage(sp, tmp, data, len, dest, PUB_RENAME, 0, 0));
	buf_init(&b, SPOOL_LOG_MAX + sizeof(mark));
	snprintf(mark, sizeof(mark), "\n[spool: log truncated at %d bytes]\n", SPOOL_LOG_MAX);
	r = buf_add(&b, data, SPOOL_LOG_MAX);
	if (r == 0)
		r = buf_puts(&b, mark);
	if (r == 0)
		r = sp_stage(sp, tmp, b.data, b.len, dest, PUB_RENAME, 0, 0);
	buf_release(&b);
	return sp_end(sp, r);
}

int spool_log_read(struct spool *sp, const char *id, struct buf *b)
{
	char path[SP_PATH_MAX], fan[3];
	struct buf one;
	int a, found = 0, r = 0;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s'", id);
	sp_fan(id, fan);
	buf_init(&one, SPOOL_LOG_MAX + 128);
	for (a = 0; a <= SPOOL_ATTEMPTS_MAX; a++) {
		snprintf(path, sizeof(path), "logs/%s/%s.%03d.log", fan, id, a);
		r = buf_read_file(&one, sp->root, path);
		if (r == -ENOENT) {
			r = 0;
			/* attempts run 1, 2, 3...: the first gap after a log ends them */
			if (found || a > 1)
				break;
			continue;
		}
		if (r < 0)
			break;
		found++;
		if ((r = buf_printf(b, "=== attempt %d ===\n", a)) < 0 ||
		    (r = buf_add(b, one.data, one.len)) < 0)
			break;
		if (one.len && one.data[one.len - 1] != '\n' && (r = buf_puts(b, "\n")) < 0)
			break;
	}
	buf_release(&one);
	if (r < 0)
		return sp_fail(sp, r, "cannot read logs of '%s': %s", id, strerror(-r));
	return found ? 0 : sp_fail(sp, -ENOENT, "no logs for order '%s'", id);
}
