/*
 * worker: the records workers leave in workers/NAME.json. A record is
 * replaced whole (tmp/ then rename), never edited in place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

int spool_worker_put(struct spool *sp, const char *name, const char *doc,
		     size_t len)
{
	struct json j;
	struct buf b;
	char err[200], dest[SP_PATH_MAX], tmp[96], stamp[SPOOL_ID_LEN + 1], iso[32];
	int r, i, k, n;

	if (!worker_valid(name))
		return sp_fail(sp, -EINVAL, "bad worker name '%.70s' (letters, digits, _ . -; at most %d)", name, SPOOL_WORKER_MAX);
	if (len > SPOOL_WORKER_DOC_MAX)
		return sp_fail(sp, -EINVAL, "worker record is %zu bytes, more than %d", len, SPOOL_WORKER_DOC_MAX);
	if (json_parse(&j, doc, len, 4096, err, sizeof(err)) < 0)
		return sp_fail(sp, -EINVAL, "worker record: %s", err);
	if (j.tok[0].type != JSMN_OBJECT) {
		json_release(&j);
		return sp_fail(sp, -EINVAL, "a worker record must be a JSON object");
	}
	iso_time(now_ms(), iso);
	buf_init(&b, SPOOL_WORKER_DOC_MAX + 256);
	r = buf_printf(&b, "{\"name\":\"%s\",\"lastSeen\":\"%s\"", name, iso);
	n = j.tok[0].size;
	for (i = 1, k = 0; r == 0 && k < n; k++, i = json_skip(&j, i + 1)) {
		if (json_eq(&j, i, "name") || json_eq(&j, i, "lastSeen"))
			continue;
		if ((r = buf_puts(&b, ",")) == 0 && (r = json_append_raw(&j, i, &b)) == 0 &&
		    (r = buf_puts(&b, ":")) == 0)
			r = json_append_raw(&j, i + 1, &b);
	}
	if (r == 0)
		r = buf_puts(&b, "}\n");
	json_release(&j);
	if (r == 0) {
		id_new(stamp);
		snprintf(tmp, sizeof(tmp), "%s.worker", stamp);
		snprintf(dest, sizeof(dest), "workers/%s.json", name);
		r = sp_stage(sp, tmp, b.data, b.len, dest, PUB_RENAME, 0, 0);
	}
	buf_release(&b);
	return sp_end(sp, r);
}

int spool_workers_json(struct spool *sp, struct buf *b)
{
	DIR *d;
	struct dirent *e;
	struct buf one;
	int fd, r = 0, first = 1;

	if ((r = buf_puts(b, "[")) < 0)
		return r;
	fd = openat(sp->root, "workers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return buf_puts(b, "]");
	}
	buf_init(&one, SPOOL_WORKER_DOC_MAX + 256);
	while ((e = readdir(d))) {
		char path[SP_PATH_MAX];
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "workers/%s", e->d_name);
		if (buf_read_file(&one, sp->root, path) < 0 ||
		    json_validate(one.data, one.len, NULL, 0) < 0)
			continue;
		while (one.len && one.data[one.len - 1] == '\n')
			one.data[--one.len] = '\0';
		if ((r = buf_puts(b, first ? "" : ",")) < 0 || (r = buf_add(b, one.data, one.len)) < 0)
			break;
		first = 0;
	}
	closedir(d);
	buf_release(&one);
	return r < 0 ? r : buf_puts(b, "]");
}
