/*
 * cli: what every spoolctl command shares: exit codes, the command table's
 * shape, option parsing, messages, opening the spool, reading input.
 *
 * Messages go to standard error as "spoolctl: ...", lower-case, the subject
 * quoted; standard output carries only results. The command functions
 * (ctl_*.c) return an exit code; only main() exits.
 */
#ifndef SPOOLCTL_CLI_H
#define SPOOLCTL_CLI_H

#include <stddef.h>

#include "boss.h"
#include "spool.h"

/* Exit codes, the same for every command (spoolctl.c says what each means). */
enum {
	EX_OK = 0,
	EX_ERR = 1,
	EX_USAGE = 2,
	EX_NONE = 3,
	EX_CONFLICT = 4,
	EX_FSCK = 5,
};

#define INPUT_MAX	(256u << 20)	/* one input file (may hold many jobs) */
#define SUBMIT_BATCH	512		/* submits made durable by one commit */
#define LEASE_MAX_S	(7 * 24 * 3600)
#define CTL_BOSS_TIMEOUT_S 120L		/* one request to a boss, answer included */

#define CLI_MULTI_MAX	64		/* values of a repeatable option */

/* One option a command takes. */
struct opt {
	const char *name;	/* without the leading "--" */
	int arg;		/* takes a value */
};

/* What was parsed: values by option index, positional arguments in order. */
struct args {
	const char *val[16];	/* the value (or "" for flags) of option i, NULL if absent */
	const char *multi[CLI_MULTI_MAX];	/* every value of the repeatable option (tag, set) */
	int nmulti;
	const char **pos;
	int npos;
	int dashdash;		/* pos[dashdash...] came after "--"; -1: no "--" */
};

struct cmd {
	const char *name;
	int (*run)(const struct cmd *c, struct args *a);
	const char *synopsis;	/* after "spoolctl NAME " */
	const char *summary;	/* one line for `spoolctl --help` */
	const char *help;	/* the body of `spoolctl NAME --help` */
	struct opt opts[12];	/* terminated by name NULL; "tag" and "set" are repeatable */
	int min_pos, max_pos;	/* positional arguments; max -1: any number */
};

/* --spool and --nosync, which every command takes before or after its name. */
extern const char *cli_spool_dir;
extern int cli_nosync;

/* Print "spoolctl: <message>" to standard error. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Why a library call failed: the library's own words, else strerror(-rc). */
const char *cli_why(const struct spool *sp, int rc);

/* The exit code for a negative errno from the library. */
int cli_exit_code(int rc);

/*
 * Report a failed library call (the library's words, or fmt and strerror
 * when it recorded none) and return its exit code. sp may be NULL.
 */
int cli_failed(const struct spool *sp, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The usage line and a hint, to standard error. */
void cli_usage_hint(const struct cmd *c);

/* `spoolctl NAME --help`, to standard output. */
void cli_help(const struct cmd *c);

/*
 * Parse a command's arguments (after its name) into a; a->pos is allocated
 * (free it). 0; -1 after printing help (exit 0); -2 after a usage error
 * (said; exit 2).
 */
int cli_parse(const struct cmd *c, int argc, char **argv, struct args *a);

/* The value of option name ("" for a flag), or NULL when it was not given. */
const char *cli_opt(const struct cmd *c, const struct args *a, const char *name);

/* Parse a decimal integer in [lo, hi] given to option what. 0 or -1 (said). */
int cli_num(const char *s, long lo, long hi, const char *what, long *out);

/* 0 if s is a well-formed id / claim token, else -1 (said). */
int cli_check_id(const char *s);
int cli_check_token(const char *s);

/*
 * Open the spool (--spool, else $SPOOL_DIR, else ./spool), creating it with
 * create; applies --nosync (spool_open reads $SPOOL_SETTLE_MS and
 * $SPOOL_REAP_GRACE_MS).
 * 0, or -1 (said; the spool is closed).
 */
int cli_open(struct spool *sp, int create);

/*
 * Where a command that can talk to a boss sends its work, by the rule the
 * runner follows too (client/boss.h's boss_where_get): --boss URL (the
 * command's option, may be NULL), else $SPOOL_BOSS unless --spool was
 * given; the token from --token-file F, else $SPOOL_TOKEN_FILE. 1: talk to
 * the boss at w->url; 0: use the spool; -1: a bad URL or a token file that
 * cannot be used (said; exit 2).
 */
int cli_boss(const char *opt_url, const char *opt_tokfile, struct boss_where *w);

/*
 * Judge request r (boss_request's return) on b, made to the boss of w: EX_OK
 * when a 2xx answer came; else say "cannot WHAT: WHY" (WHY names the boss
 * and gives its message) and return the exit code: EX_USAGE for a token
 * the boss refused (401, 403, said as the runner says it), EX_CONFLICT for
 * 409, EX_ERR otherwise.
 */
int cli_boss_check(struct boss *b, const struct boss_where *w, int r, const char *what);

/* Read a whole file ("-": standard input) into b, up to b->max. 0 or -1 (said). */
int cli_read(const char *path, struct buf *b);

/* Write b to standard output. */
void cli_print_buf(const struct buf *b);

/* Print n ids, one a line, and flush. */
void cli_flush_ids(char (*ids)[SPOOL_ID_LEN + 1], size_t n);

/* The commands: ctl_jobs.c, ctl_claims.c, ctl_admin.c. */
int cmd_init(const struct cmd *c, struct args *a);
int cmd_submit(const struct cmd *c, struct args *a);
int cmd_ls(const struct cmd *c, struct args *a);
int cmd_show(const struct cmd *c, struct args *a);
int cmd_sweep(const struct cmd *c, struct args *a);
int cmd_top(const struct cmd *c, struct args *a);
int cmd_workers(const struct cmd *c, struct args *a);
int cmd_log(const struct cmd *c, struct args *a);
int cmd_log_live(const struct cmd *c, struct args *a);
int cmd_metrics(const struct cmd *c, struct args *a);
int cmd_claim(const struct cmd *c, struct args *a);
int cmd_drain(const struct cmd *c, struct args *a);
int cmd_complete(const struct cmd *c, struct args *a);
int cmd_fail(const struct cmd *c, struct args *a);
int cmd_release(const struct cmd *c, struct args *a);
int cmd_renew(const struct cmd *c, struct args *a);
int cmd_hold(const struct cmd *c, struct args *a);
int cmd_cancel(const struct cmd *c, struct args *a);
int cmd_requeue(const struct cmd *c, struct args *a);
int cmd_reap(const struct cmd *c, struct args *a);
int cmd_fsck(const struct cmd *c, struct args *a);
int cmd_ingest(const struct cmd *c, struct args *a);
int cmd_export(const struct cmd *c, struct args *a);
int cmd_artifacts(const struct cmd *c, struct args *a);	/* ctl_artifacts.c */

/*
 * Hints when a board or an export comes out empty (ctl_export.c), to
 * standard error: that no job is in sweep, and which sweeps exist; that no
 * done outcome has key, and which numeric keys they have.
 */
void cli_hint_sweeps(struct spool *sp, const char *sweep);
void cli_hint_keys(struct spool *sp, const char *key, const char *sweep);

#endif
