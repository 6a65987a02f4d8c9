/*
 * ctl_artifacts: spoolctl artifacts ID [NAME] [-o FILE]: the files a job's
 * runs kept, listed (name, size, sha256) or one fetched, from the spool or
 * from a boss (--boss, $SPOOL_BOSS) by GET /v1/jobs/ID/artifacts[/NAME].
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "artifact.h"
#include "boss.h"
#include "cli.h"
#include "json.h"
#include "token.h"

/* Write b to path ("-" or NULL: standard output), whole or not at all. */
static int write_out(const char *path, const struct buf *b)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (!path || !strcmp(path, "-")) {
		ok = fwrite(b->data ? b->data : "", 1, b->len, stdout) == b->len;
		return fflush(stdout) == 0 && ok ? 0 : -1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -1;
	if (!(f = fopen(tmp, "wbx")))
		return -1;
	ok = fwrite(b->data ? b->data : "", 1, b->len, f) == b->len;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The list as lines: SIZE SHA256 NAME. */
static int print_list(const struct buf *b, int json)
{
	struct json j;
	int i, end;

	if (json) {
		cli_print_buf(b);
		return EX_OK;
	}
	if (json_parse(&j, b->data, b->len, JSON_TOKENS_MAX, NULL, 0) < 0 ||
	    j.tok[0].type != JSMN_ARRAY) {
		cli_warn("the list of artifacts does not parse");
		return EX_ERR;
	}
	end = json_skip(&j, 0);
	for (i = 1; i < end; i = json_skip(&j, i)) {
		char name[ARTIFACT_NAME_MAX + 1] = "", sha[65] = "";
		int64_t size = 0;
		int k;

		if ((k = json_get(&j, i, "name")) >= 0)
			json_str(&j, k, name, sizeof(name));
		if ((k = json_get(&j, i, "sha256")) >= 0)
			json_str(&j, k, sha, sizeof(sha));
		if ((k = json_get(&j, i, "size")) >= 0)
			json_int(&j, k, &size);
		printf("%12lld  %s  %s\n", (long long)size, sha, name);
	}
	json_release(&j);
	return EX_OK;
}

int cmd_artifacts(const struct cmd *c, struct args *a)
{
	const char *id = a->pos[0], *name = a->npos > 1 ? a->pos[1] : NULL;
	const char *out = cli_opt(c, a, "o");
	char why[96];
	struct boss_where w;
	struct spool sp;
	struct buf b;
	int remote, rc, ex = EX_OK;

	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (name && artifact_name_check(name, why, sizeof(why)) < 0) {
		cli_warn("bad artifact name '%s': %s", name, why);
		return EX_USAGE;
	}
	if (out && !name) {
		cli_warn("-o is for one artifact: name it");
		return EX_USAGE;
	}
	if ((remote = cli_boss(cli_opt(c, a, "boss"), cli_opt(c, a, "token-file"), &w)) < 0)
		return EX_USAGE;
	buf_init(&b, (size_t)ARTIFACT_TOTAL_MAX);
	if (remote) {
		char path[256];
		struct boss bs;

		snprintf(path, sizeof(path), "/v1/jobs/%s/artifacts%s%s", id, name ? "/" : "",
			 name ? name : "");
		if (boss_init(&bs, w.url, w.token[0] ? w.token : NULL, NULL, NULL) < 0) {
			cli_warn("out of memory");
			ex = EX_ERR;
			goto out;
		}
		bs.reply.max = b.max;	/* an artifact may be above a reply's usual ceiling */
		ex = cli_boss_check(&bs, &w, boss_request(&bs, "GET", path, NULL, 0,
							  CTL_BOSS_TIMEOUT_S, 0),
				    "read the artifacts");
		if (ex == EX_OK && bs.reply.len && buf_add(&b, bs.reply.data, bs.reply.len) < 0) {
			cli_warn("out of memory");
			ex = EX_ERR;
		} else if (ex != EX_OK && (bs.status == 404 || bs.status == 400)) {
			ex = bs.status == 404 ? EX_NONE : EX_USAGE;
		}
		boss_release(&bs);
		if (ex != EX_OK)
			goto out;
	} else {
		if (cli_open(&sp, 0) < 0) {
			ex = EX_ERR;
			goto out;
		}
		rc = name ? spool_artifact_read(&sp, id, name, &b) : spool_artifact_list(&sp, id, &b);
		if (rc == 0 && !name)
			buf_puts(&b, "\n");
		if (rc < 0)
			ex = cli_failed(&sp, rc, "cannot read the artifacts of '%s'", id);
		spool_close(&sp);
		if (rc < 0)
			goto out;
	}
	if (!name)
		ex = print_list(&b, cli_opt(c, a, "json") != NULL);
	else if (write_out(out, &b) < 0) {
		cli_warn("cannot write '%s': %s", out ? out : "-", strerror(errno));
		ex = EX_ERR;
	}
out:
	buf_release(&b);
	return ex;
}
