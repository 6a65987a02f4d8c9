/*
 * series: the metrics a run prints while it lasts, kept as
 * logs/FF/ID.AAA.series: one JSON object per line, as the script printed it
 * on stdout (those with a numeric "step" or "epoch"; the runner picks them),
 * appended by offset like a live log, capped with one last line
 * {"truncated": true}. Readers skip a torn last line: a crash mid-append
 * leaves one, and the next append or fsck --repair does not need to mend it
 * for a reader to be right.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "json.h"

static void series_path(const char *id, int attempt, char *out, size_t cap)
{
	char fan[3];

	sp_fan(id, fan);
	snprintf(out, cap, "logs/%s/%s.%03d.series", fan, id, attempt);
}

int spool_series_append(struct spool *sp, const char *id, int attempt, int64_t off,
			const void *data, size_t len, int64_t *size)
{
	char path[SP_PATH_MAX];
	int r;

	if (!id_valid(id) || attempt < 1 || attempt > SPOOL_ATTEMPTS_MAX || off < -1)
		return sp_fail(sp, -EINVAL, "bad order id, attempt or offset for a series");
	if (len && ((const char *)data)[len - 1] != '\n')
		return sp_fail(sp, -EINVAL, "a series is appended whole lines (ending in a newline)");
	series_path(id, attempt, path, sizeof(path));
	r = sp_append_capped(sp, path, off, data, len, SPOOL_SERIES_MAX,
			     SPOOL_SERIES_MARK "\n", size);
	if (r < 0 && r != -ESPIPE)
		return sp_fail(sp, r, "cannot append to '%s': %s", path, strerror(-r));
	return r;
}

int spool_series_put(struct spool *sp, const char *id, int attempt, const void *data,
		     size_t len)
{
	char dest[SP_PATH_MAX], tmp[96], stamp[SPOOL_ID_LEN + 1];
	const char *p = data;
	struct buf b;
	int r;

	if (!id_valid(id) || attempt < 1 || attempt > SPOOL_ATTEMPTS_MAX)
		return sp_fail(sp, -EINVAL, "bad order id or attempt for a series");
	if (len && p[len - 1] != '\n')
		return sp_fail(sp, -EINVAL, "a series is put whole lines (ending in a newline)");
	series_path(id, attempt, dest, sizeof(dest));
	id_new(stamp);
	snprintf(tmp, sizeof(tmp), "%s.series", stamp);
	if (len <= SPOOL_SERIES_MAX)
		return sp_end(sp, sp_stage(sp, tmp, data, len, dest, PUB_RENAME, 0, 0));
	/* whole lines up to the cap, then the mark */
	for (len = SPOOL_SERIES_MAX; len && p[len - 1] != '\n'; len--)
		;
	buf_init(&b, len + sizeof(SPOOL_SERIES_MARK) + 1);
	r = buf_add(&b, p, len);
	if (r == 0)
		r = buf_puts(&b, SPOOL_SERIES_MARK "\n");
	if (r == 0)
		r = sp_stage(sp, tmp, b.data, b.len, dest, PUB_RENAME, 0, 0);
	buf_release(&b);
	return sp_end(sp, r);
}

int spool_series_read(struct spool *sp, const char *id, int attempt, struct buf *out,
		      int *truncated)
{
	char path[SP_PATH_MAX];
	struct buf f;
	size_t i = 0;
	int r, lines = 0;

	*truncated = 0;
	if (!id_valid(id) || attempt < 1 || attempt > SPOOL_ATTEMPTS_MAX)
		return sp_fail(sp, -EINVAL, "bad order id or attempt for a series");
	series_path(id, attempt, path, sizeof(path));
	buf_init(&f, SPOOL_SERIES_MAX + 64);
	r = sys_read_file(&f, sp->root, path);
	if (r == -EFBIG) {
		/* not ours (we cap at SPOOL_SERIES_MAX): read what fits */
		*truncated = 1;
		r = 0;
	}
	if (r == -ENOENT)
		r = 0;
	while (r == 0 && i < f.len) {
		const char *s = f.data + i, *nl = memchr(s, '\n', f.len - i);
		size_t n;

		if (!nl)
			break;		/* torn: a crash mid-append */
		n = (size_t)(nl - s);
		i += n + 1;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
			n--;
		if (!n)
			continue;
		if (n == strlen(SPOOL_SERIES_MARK) && !memcmp(s, SPOOL_SERIES_MARK, n)) {
			*truncated = 1;
			break;
		}
		if (s[0] != '{' || json_validate(s, n, NULL, 0) < 0)
			continue;	/* torn in the middle (a crash, then appends) */
		if (lines >= SPOOL_SERIES_LINES || out->len + n + 1 > SPOOL_SERIES_MAX) {
			*truncated = 1;
			break;
		}
		if ((r = buf_add(out, s, n)) < 0 || (r = buf_puts(out, "\n")) < 0)
			break;
		lines++;
	}
	buf_release(&f);
	if (r < 0)
		return sp_fail(sp, r, "cannot read '%s': %s", path, strerror(-r));
	return 0;
}

int spool_metrics_json(struct spool *sp, const char *id, int attempt, struct buf *out)
{
	struct buf pts;
	size_t i;
	int r, trunc = 0, first = 1;

	if (!id_valid(id) || attempt < 0 || attempt > SPOOL_ATTEMPTS_MAX)
		return sp_fail(sp, -EINVAL, "bad order id or attempt");
	if (!attempt && !(attempt = spool_log_last_attempt(sp, id)))
		return sp_fail(sp, -ENOENT, "no attempt of order '%s' has a log or a series", id);
	buf_init(&pts, SPOOL_SERIES_MAX + 64);
	if ((r = spool_series_read(sp, id, attempt, &pts, &trunc)) < 0)
		goto out;
	if ((r = buf_printf(out, "{\"id\": \"%s\", \"attempt\": %d, \"points\": [", id,
			    attempt)) < 0)
		goto out;
	for (i = 0; i < pts.len && r == 0; ) {
		const char *nl = memchr(pts.data + i, '\n', pts.len - i);
		size_t n = (size_t)(nl - (pts.data + i));

		r = buf_puts(out, first ? "\n  " : ",\n  ");
		if (r == 0)
			r = buf_add(out, pts.data + i, n);
		first = 0;
		i += n + 1;
	}
	if (r == 0)
		r = buf_printf(out, "%s], \"truncated\": %s}\n", first ? "" : "\n",
			       trunc ? "true" : "false");
out:
	buf_release(&pts);
	if (r < 0 && r != -EINVAL)
		return sp_fail(sp, r, "cannot render the series of '%s': %s", id, strerror(-r));
	return r;
}
