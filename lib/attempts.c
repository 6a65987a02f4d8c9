/*
 * attempts: the history of an order's attempts, read from the outcomes
 * filed for it. Each claim that ended filed one (written once, never
 * replaced: spool-layout.md, "Outcome"), so the directory's names are the
 * history; a requeued order's earlier attempts stay in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attempts.h"
#include "internal.h"
#include "json.h"

struct filed {
	int attempt;
	int64_t mtime_ns;
	char name[SPOOL_NAME_MAX];
};

struct walk {
	struct spool *sp;
	const char *id, *dir;
	struct filed *f;
	size_t n, cap;
	int err;
};

static int one(void *arg, const char *name)
{
	struct walk *w = arg;
	char path[SP_PATH_MAX];
	struct stat st;

	if (strlen(name) != SPOOL_ID_LEN + 1 + 3 + 1 + SPOOL_TOKEN_LEN + 5 ||
	    memcmp(name, w->id, SPOOL_ID_LEN) != 0 || name[SPOOL_ID_LEN] != '.' ||
	    strcmp(name + strlen(name) - 5, ".json"))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	if (fstatat(w->sp->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if (sp_reserve(&w->f, &w->cap, w->n + 1, sizeof(*w->f)) < 0) {
		w->err = -ENOMEM;
		return 1;
	}
	w->f[w->n].attempt = atoi(name + SPOOL_ID_LEN + 1);
	w->f[w->n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			      st.st_mtim.tv_nsec;
	snprintf(w->f[w->n].name, sizeof(w->f[0].name), "%s", name);
	w->n++;
	return 0;
}

static int filed_cmp(const void *a, const void *b)
{
	const struct filed *x = a, *y = b;
	if (x->attempt != y->attempt)
		return x->attempt < y->attempt ? -1 : 1;
	return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

/* The outcome's status, error's first line and _run, summed up into b. */
static int summary(const struct buf *doc, struct buf *b)
{
	struct json j;
	char line[240];
	int t, r = 0;

	if (!doc->data || json_parse(&j, doc->data, doc->len, JSON_TOKENS_MAX,
				     NULL, 0) < 0)
		return buf_puts(b, ", \"status\": null, \"error\": null, \"run\": null");
	if (j.tok[0].type != JSMN_OBJECT) {
		json_release(&j);
		return buf_puts(b, ", \"status\": null, \"error\": null, \"run\": null");
	}
	buf_puts(b, ", \"status\": ");
	t = json_get(&j, 0, "status");
	if (t >= 0 && j.tok[t].type == JSMN_PRIMITIVE)
		json_append_raw(&j, t, b);
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"error\": ");
	t = json_get(&j, 0, "error");
	line[0] = '\0';
	if (t >= 0 && j.tok[t].type == JSMN_STRING &&
	    json_str(&j, t, line, sizeof(line)) < 0) {
		/* longer than a line shown: its raw head */
		size_t n;
		const char *raw = json_raw(&j, t, &n);
		snprintf(line, sizeof(line), "%.*s", (int)(n < 200 ? n : 200), raw);
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (t >= 0 && j.tok[t].type == JSMN_STRING)
		buf_json_str(b, line, strlen(line));
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"run\": ");
	t = json_get(&j, 0, "_run");
	if (t >= 0 && j.tok[t].type == JSMN_OBJECT)
		json_append_raw(&j, t, b);
	else
		buf_puts(b, "null");
	json_release(&j);
	return r;
}

int spool_attempts_json(struct spool *sp, const char *id, struct buf *b)
{
	char dir[32], fan[3], path[SP_PATH_MAX], when[32];
	struct walk w;
	struct buf doc;
	size_t i, first;
	int r;

	if (!id_valid(id))
		return sp_fail(sp, -EINVAL, "bad order id '%.40s'", id);
	sp_fan(id, fan);
	snprintf(dir, sizeof(dir), "outcomes/%s", fan);
	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.id = id;
	w.dir = dir;
	if ((r = sp_dir_walk(sp, dir, one, &w)) < 0 && r != -ENOENT) {
		free(w.f);
		return sp_fail(sp, r, "cannot read '%s': %s", dir, strerror(-r));
	}
	if (w.err) {
		free(w.f);
		return sp_fail(sp, w.err, "out of memory");
	}
	if (w.n)
		qsort(w.f, w.n, sizeof(*w.f), filed_cmp);
	first = w.n > SPOOL_ATTEMPTS_TOLD ? w.n - SPOOL_ATTEMPTS_TOLD : 0;
	buf_init(&doc, SPOOL_OUTCOME_MAX + 2);
	buf_puts(b, "[");
	for (i = first; i < w.n; i++) {
		buf_reset(&doc);
		snprintf(path, sizeof(path), "%s/%s", dir, w.f[i].name);
		if (sys_read_file(&doc, sp->root, path) < 0)
			buf_reset(&doc);	/* (a torn one: its summary is null) */
		iso_time(w.f[i].mtime_ns / 1000000, when);
		buf_printf(b, "%s\n {\"attempt\": %d, \"filedAt\": \"%s\"",
			   i > first ? "," : "", w.f[i].attempt, when);
		summary(&doc, b);
		buf_puts(b, "}");
	}
	r = buf_puts(b, "]");
	buf_release(&doc);
	free(w.f);
	return r < 0 ? sp_fail(sp, r, "the answer is too long") : 0;
}
