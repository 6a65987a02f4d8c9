/*
 * ctl_admin: a person's changes and the spool's upkeep: hold, cancel,
 * requeue, reap, fsck, ingest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- hold, cancel, requeue ------------------------------------------------------- */

static int by_id(struct args *a, int (*fn)(struct spool *, const char *, struct order *),
		 const char *verb)
{
	const char *id = a->pos[0];
	struct spool sp;
	int rc, ex = EX_OK;

	if (cli_check_id(id) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	sp.err[0] = 0;
	rc = fn(&sp, id, NULL);
	if (rc == -ENOENT) {
		cli_warn("no order '%s'", id);
		ex = EX_NONE;
	} else if (rc < 0) {
		ex = cli_failed(&sp, rc, "cannot %s '%s'", verb, id);
	}
	spool_close(&sp);
	return ex;
}

int cmd_hold(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_hold, "hold");
}

int cmd_cancel(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_cancel, "cancel");
}

int cmd_requeue(const struct cmd *c, struct args *a)
{
	(void)c;
	return by_id(a, spool_requeue, "requeue");
}

/* ---- reap ------------------------------------------------------------------------- */

int cmd_reap(const struct cmd *c, struct args *a)
{
	const char *grace = cli_opt(c, a, "grace-ms");
	struct spool sp;
	long g = -1;
	int rc, n = 0, ex = EX_OK;

	if (grace && cli_num(grace, 0, LONG_MAX, "--grace-ms", &g) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	if (g >= 0)
		sp.reap_grace_ms = g;
	sp.err[0] = 0;
	rc = spool_reap(&sp, now_ms(), &n);
	if (rc < 0)
		ex = cli_failed(&sp, rc, "cannot reap (%d reaped)", n);
	else
		printf("%d\n", n);
	spool_close(&sp);
	return ex;
}

/* ---- fsck --------------------------------------------------------------------------- */

static void fsck_say(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int cmd_fsck(const struct cmd *c, struct args *a)
{
	const char *age = cli_opt(c, a, "tmp-age");
	struct fsck_opts fo = { 0 };
	struct spool sp;
	long s = 3600;
	int rc;

	if (age && cli_num(age, 0, LONG_MAX / 1000, "--tmp-age", &s) < 0)
		return EX_USAGE;
	fo.repair = cli_opt(c, a, "repair") != NULL;
	fo.tmp_age_ms = (int64_t)s * 1000;
	fo.say = fsck_say;
	/* Never create: `fsck --repair` of a mistyped path must not make a spool. */
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	sp.err[0] = 0;
	rc = spool_fsck(&sp, &fo);
	spool_close(&sp);
	if (rc < 0)
		return cli_failed(NULL, rc, "cannot check the spool");
	if (rc > 0) {
		cli_warn("%d problem%s %s", rc, rc == 1 ? "" : "s",
		      fo.repair ? "found (what was done with each is said above)"
				 : "found (run with --repair to mend)");
		return EX_FSCK;
	}
	printf("clean: no problems found\n");
	return EX_OK;
}

/* ---- ingest ------------------------------------------------------------------------ */

/* Why a drop was rejected, without the library's "dropped file 'x' rejected: ". */
static const char *drop_why(const struct spool *sp, const char *name)
{
	const char *e = spool_error(sp), *p = strstr(e, " rejected: ");

	if (p && strncmp(e, "dropped file '", 14) == 0 &&
	    strncmp(e + 14, name, strlen(name)) == 0)
		return p + strlen(" rejected: ");
	return e;
}

int cmd_ingest(const struct cmd *c, struct args *a)
{
	const char *settle = cli_opt(c, a, "settle-ms");
	struct spool sp;
	struct dirent *de;
	DIR *d;
	long ms;
	int fd, rc, ex = EX_OK, nin = 0, nrej = 0, nwait = 0;
	char id[SPOOL_ID_LEN + 1];

	if (settle && cli_num(settle, 0, LONG_MAX, "--settle-ms", &ms) < 0)
		return EX_USAGE;
	if (cli_open(&sp, 0) < 0)
		return EX_ERR;
	if (settle)
		sp.settle_ms = ms;
	/*
	 * spool_ingest_all would do, but a person wants to hear about each
	 * file: which became which id, which was rejected and why.
	 */
	fd = openat(sp.root, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ex = cli_failed(NULL, -errno, "cannot read new/");
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		struct order_name n;

		if (de->d_name[0] == '.' || name_parse(de->d_name, &n) == 0)
			continue;
		sp.err[0] = 0;
		rc = spool_ingest(&sp, de->d_name, id);
		switch (rc) {
		case 0:
			printf("ingested %s %s\n", de->d_name, id);
			nin++;
			break;
		case 1:
			printf("waiting %s\n", de->d_name);
			nwait++;
			break;
		case 2:
			printf("rejected %s: %s\n", de->d_name, drop_why(&sp, de->d_name));
			nrej++;
			break;
		case -ENOENT:
			break;
		default:
			ex = cli_failed(&sp, rc, "cannot ingest 'new/%s'", de->d_name);
			break;
		}
	}
	if (errno && ex == EX_OK)
		ex = cli_failed(NULL, -errno, "cannot read new/");
	closedir(d);
	if (nin + nrej + nwait > 1)
		cli_warn("%d ingested, %d rejected, %d waiting", nin, nrej, nwait);
out:
	spool_close(&sp);
	return ex;
}

