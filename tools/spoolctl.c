/*
 * spoolctl: the spool from the command line.
 *
 * This file is the command table and main(); cli.c the plumbing the
 * commands share; ctl_jobs.c, ctl_claims.c and ctl_admin.c the commands;
 * sweep.c the expansion of sweep specs.
 *
 * Every command is one or a few calls of the spool library (lib/spool.h), so a
 * person, a shell script or a test drives exactly the rules spoold and the
 * runner use. spoolctl owns only the presentation: reading job and outcome
 * files, printing ids, listings and JSON, and turning the library's errors
 * into messages ("spoolctl: cannot open spool 'x': No such file or
 * directory") and exit codes.
 *
 * A shell script can be a worker:
 *
 *	out=$(spoolctl claim --worker w1) || exit	# 3: nothing to claim
 *	read -r id token attempt <<<"${out%%$'\n'*}"
 *	printf '%s\n' "${out#*$'\n'}" | ./train > outcome.json
 *	spoolctl complete "$id" "$token" outcome.json	# 4: the claim was lost
 *
 * Exit codes (the same for every command, and in `spoolctl --help`):
 *	0  success
 *	1  error: I/O, a bad job or outcome document, a full disk, ...
 *	2  usage: unknown command or option, a malformed id, token or value
 *	3  nothing there: nothing eligible to claim, no such order or job
 *	4  conflict: the claim is no longer held (stale token, lease expired,
 *	   cancelled), the order's state does not allow the change, the id
 *	   is taken
 *	5  fsck found problems (with --repair: found and mended them)
 *
 * Standard output carries only results (ids, listings, JSON); messages go to
 * standard error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "version.h"

/* ---- the table ------------------------------------------------------------------------ */

static const struct cmd cmds[] = {
	{ "init", cmd_init, "", "Create the spool (its directories) if missing.",
	  "", { { NULL, 0 } }, 0, 0 },
	{ "submit", cmd_submit, "[--id ID] [FILE...|-]  or  [--set K=V]... -- PROGRAM [ARG...]",
	  "Submit jobs, or one command job; print one id per line.",
	  "Each FILE (- or none: standard input) holds one job object or an array of\n"
	  "jobs. Everything is checked before anything is submitted. Ids are printed\n"
	  "once the jobs are durable.\n"
	  "After --, the job is {\"command\": [PROGRAM, ARG...]}: run by the runner with\n"
	  "execve (no shell), PROGRAM found in its --scripts directory. An ARG may hold\n"
	  "{KEY} placeholders, filled from the job's fields ({{ and }} for braces).\n"
	  "  --id ID          submit the one job under this id (exit 4 if it exists)\n"
	  "  --set K=V        with --: the job's field K is V (JSON if V parses as\n"
	  "                   JSON, else a string; repeatable), e.g. --set lr=0.1\n"
	  "  --boss URL       submit to the spoold at URL (default $SPOOL_BOSS when no\n"
	  "                   --spool is given)\n"
	  "  --token-file F   the boss's bearer token (default $SPOOL_TOKEN_FILE)\n",
	  { { "id", 1 }, { "set", 1 }, { "boss", 1 }, { "token-file", 1 }, { NULL, 0 } }, 0, -1 },
	{ "ls", cmd_ls, "[STATE|all] [--json] [--limit N]",
	  "Count orders per state, or list the orders of a state.",
	  "Without STATE: one line per state with its count, and the total.\n"
	  "With STATE: one line per order (new/ in claim order):\n"
	  "  ID STATE ATTEMPT PRIORITY DUE WORKER LEASE-DEADLINE   (- when unclaimed)\n"
	  "  --json     a JSON object of counts, or an array of orders\n"
	  "  --limit N  at most N orders\n",
	  { { "json", 0 }, { "limit", 1 }, { NULL, 0 } }, 0, 1 },
	{ "show", cmd_show, "ID [--json] [--log]",
	  "Show an order, its job and its outcome.",
	  "  --json  one object {\"order\", \"job\", \"outcome\" (null if none)}\n"
	  "  --log   also the run logs of every attempt\n",
	  { { "json", 0 }, { "log", 0 }, { NULL, 0 } }, 1, 1 },
	{ "claim", cmd_claim,
	  "--worker NAME [--tag TAG]... [--lease S] [--wait S] [--json]",
	  "Claim the first eligible order and print its job and claim token.",
	  "Prints \"ID TOKEN ATTEMPT\" on the first line, then the job JSON; with\n"
	  "--json one object {\"id\",\"token\",\"attempt\",\"worker\",\"leaseDeadline\",\n"
	  "\"order\",\"job\"}. Exit 3 when nothing is eligible.\n"
	  "  --worker NAME  who claims ([A-Za-z0-9_.-])\n"
	  "  --tag TAG      a capability this worker has (repeatable)\n"
	  "  --lease S      lease in seconds when the job sets none\n"
	  "  --wait S       poll up to S seconds for an eligible order\n",
	  { { "worker", 1 }, { "tag", 1 }, { "lease", 1 }, { "wait", 1 }, { "json", 0 },
	    { NULL, 0 } }, 0, 0 },
	{ "complete", cmd_complete, "ID TOKEN [OUTCOME-FILE|-]",
	  "Complete a claim with an outcome (a JSON object).",
	  "Without OUTCOME-FILE the outcome is {}. Exit 4 when the claim is no\n"
	  "longer held: the outcome is then kept as late, never overwriting.\n"
	  "Completing the same claim again changes nothing and exits 0.\n",
	  { { NULL, 0 } }, 2, 3 },
	{ "fail", cmd_fail, "ID TOKEN [OUTCOME-FILE|-]",
	  "Fail a claim: retry it, or move it to failed/ when attempts are used up.",
	  "Prints \"ID new\" (will be retried) or \"ID failed\". Exit 4 as complete.\n",
	  { { NULL, 0 } }, 2, 3 },
	{ "release", cmd_release, "ID [TOKEN]",
	  "Give a claim back (with TOKEN), or release a held order (without).",
	  "With TOKEN the order returns to new/ in its old place, no attempt counted.\n",
	  { { NULL, 0 } }, 1, 2 },
	{ "renew", cmd_renew, "ID TOKEN [--lease S]",
	  "Renew the lease of a claim; print the new deadline.",
	  "  --lease S  the new lease from now (default: the order's lease)\n",
	  { { "lease", 1 }, { NULL, 0 } }, 2, 2 },
	{ "requeue", cmd_requeue, "ID", "Put an order back in new/ with no attempts used.",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "hold", cmd_hold, "ID", "Hold a waiting order (new/ -> held/).",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "cancel", cmd_cancel, "ID", "Cancel an order (a running claim is fenced).",
	  "", { { NULL, 0 } }, 1, 1 },
	{ "reap", cmd_reap, "[--grace-ms MS]",
	  "Return claims whose lease ran out; print how many.",
	  "  --grace-ms MS  clock-skew allowance past the deadline (default 2000,\n"
	  "                 or $SPOOL_REAP_GRACE_MS)\n",
	  { { "grace-ms", 1 }, { NULL, 0 } }, 0, 0 },
	{ "fsck", cmd_fsck, "[--repair] [--tmp-age S]",
	  "Check the spool; with --repair, mend it.",
	  "Prints one line per finding. Exit 0 when clean, 5 when problems were\n"
	  "found (with --repair: found and mended; run again to confirm).\n"
	  "  --repair     mend what is found\n"
	  "  --tmp-age S  tmp/ files older than S seconds are stale (default 3600)\n",
	  { { "repair", 0 }, { "tmp-age", 1 }, { NULL, 0 } }, 0, 0 },
	{ "ingest", cmd_ingest, "[--settle-ms MS]",
	  "Ingest the job files dropped into new/.",
	  "Prints \"ingested FILE ID\", \"rejected FILE: WHY\" (moved to rejected/) or\n"
	  "\"waiting FILE\" (still being written) per file.\n"
	  "  --settle-ms MS  how long an unparsable file must be unchanged before it\n"
	  "                  is rejected (default 2000, or $SPOOL_SETTLE_MS)\n",
	  { { "settle-ms", 1 }, { NULL, 0 } }, 0, 0 },
	{ "sweep", cmd_sweep, "SPEC [--requeue-failed] [--dry-run] [--boss URL [--token-file F]]",
	  "Submit the jobs of a sweep spec (a grid and/or random samples).",
	  "SPEC (a file, or -) is {\"name\", \"base\": job, \"grid\": {param: [values]},\n"
	  "\"random\": {\"count\", \"seed\", \"params\": {param: dist}}} (tools/sweep.h).\n"
	  "A job's id comes from its content, so a sweep submitted again adds only\n"
	  "what is missing. Prints every job's id.\n"
	  "\"stop\": {\"rule\": \"median\"|\"threshold\", \"key\", ...} prunes bad runs early (README).\n"
	  "  --requeue-failed  also requeue the sweep's jobs that are in failed/\n"
	  "  --dry-run         print \"ID JOB\" per job, submit nothing\n"
	  "  --boss URL        submit over HTTP to the spoold at URL instead of\n"
	  "                    writing the spool (e.g. http://127.0.0.1:8080; default\n"
	  "                    $SPOOL_BOSS when no --spool is given)\n"
	  "  --token-file F    the boss's bearer token (default $SPOOL_TOKEN_FILE;\n"
	  "                    trailing white space is not part of it)\n"
	  "Without --boss the spool is created if missing (as spoold does).\n",
	  { { "requeue-failed", 0 }, { "dry-run", 0 }, { "boss", 1 }, { "token-file", 1 },
	    { NULL, 0 } }, 1, 1 },
	{ "top", cmd_top, "[--key K] [--order asc|desc] [--limit N] [--sweep NAME] [--json] [--watch [--every S] [--until-done]]",
	  "The leaderboard: the best outcomes of done jobs, and progress.",
	  "The first line counts orders per state; then one row per done job, best\n"
	  "first: rank, the outcome's value of K, the id, and the job parameters that\n"
	  "differ between the rows.\n"
	  "  --key K       the outcome member to rank by (default loss)\n"
	  "  --order O     asc (default: lower is better, as a loss) or desc\n"
	  "  --desc        the same as --order desc (e.g. for an accuracy)\n"
	  "  --limit N     rows shown (default 10, 0: all)\n"
	  "  --sweep NAME  only the jobs of that sweep\n"
	  "  --json        the board as one JSON object\n"
	  "  --watch       refresh in place with a progress bar (Ctrl-C stops)\n"
	  "  --every S     seconds between refreshes (default 2)\n"
	  "  --until-done  with --watch: stop once nothing is queued or running\n"
	  "  --pruned      also rank runs stopped early (counted, not ranked, by default)\n",
	  { { "key", 1 }, { "desc", 0 }, { "order", 1 }, { "limit", 1 }, { "sweep", 1 },
	    { "json", 0 }, { "watch", 0 }, { "every", 1 }, { "until-done", 0 }, { "pruned", 0 },
	    { NULL, 0 } }, 0, 0 },
	{ "export", cmd_export, "[--sweep NAME] [--format csv|jsonl]",
	  "A sweep's results as a table: parameters and outcomes per job.",
	  "One row per job (by id): id, state, attempt, then one column per job\n"
	  "parameter that varies between the rows, then one per outcome member (named\n"
	  "outcome.K where a parameter is K too). CSV as RFC 4180 (strings unquoted\n"
	  "unless needed, other values as JSON, empty when absent); jsonl: one JSON\n"
	  "object per row with the same members. Exit 3 when no job matches.\n"
	  "  --sweep NAME       only the jobs of that sweep (default: every job)\n"
	  "  --format csv|jsonl the output (default csv)\n",
	  { { "sweep", 1 }, { "format", 1 }, { NULL, 0 } }, 0, 0 },
	{ "log", cmd_log_live, "ID [--attempt N] [-f|--follow] [--boss URL [--token-file F]]",
	  "Print the stdout and stderr kept of each attempt of an order.",
	  "Each attempt's log (capped by the runner; a cut is marked) follows a line\n"
	  "\"=== attempt N ===\". Exit 3 when the order has no logs.\n"
	  "  --attempt N     that attempt's log only (no header line)\n"
	  "  -f, --follow    follow the running attempt (or --attempt N) like tail -f:\n"
	  "                  print what arrives, waiting for the order to start; exit\n"
	  "                  when the attempt has ended\n"
	  "  --boss URL      read from a boss over HTTP (else $SPOOL_BOSS, else the spool)\n"
	  "  --token-file F  its bearer token (else $SPOOL_TOKEN_FILE)\n",
	  { { "attempt", 1 }, { "f", 0 }, { "follow", 0 }, { "boss", 1 }, { "token-file", 1 },
	    { NULL, 0 } }, 1, 1 },
	{ "metrics", cmd_metrics, "ID [--attempt N] [--json] [--boss URL [--token-file F]]",
	  "Print the metrics series a run printed (step, epoch and numeric keys).",
	  "The JSON object lines with a numeric step or epoch the script printed on\n"
	  "stdout, as a table (one row per line; - where a key is absent), of the\n"
	  "last attempt that has a log or a series. Exit 3 when there is none.\n"
	  "  --attempt N     that attempt's\n"
	  "  --json          the document of GET /v1/orders/ID/metrics\n"
	  "  --boss URL      read from a boss over HTTP (else $SPOOL_BOSS, else the spool)\n"
	  "  --token-file F  its bearer token (else $SPOOL_TOKEN_FILE)\n",
	  { { "attempt", 1 }, { "json", 0 }, { "boss", 1 }, { "token-file", 1 }, { NULL, 0 } },
	  1, 1 },
	{ "artifacts", cmd_artifacts, "ID [NAME] [-o FILE] [--json] [--boss URL [--token-file F]]",
	  "List the files a job's runs kept, or print (-o: write) one.",
	  "Without NAME: one line per artifact, SIZE SHA256 NAME (--json: the list as\n"
	  "JSON). With NAME: its bytes to standard output, or to FILE (-o). From the\n"
	  "spool, or from the boss with --boss. Exit 3 when the job or the file is\n"
	  "not there.\n",
	  { { "o", 1 }, { "json", 0 }, { "boss", 1 }, { "token-file", 1 }, { NULL, 0 } }, 1, 2 },
	{ "workers", cmd_workers, "[--json]",
	  "List the workers that have reported: name and when last seen.",
	  "  --json  every worker record, as stored (an array)\n",
	  { { "json", 0 }, { NULL, 0 } }, 0, 0 },
	{ "drain", cmd_drain, "--worker NAME [--tag TAG]... [--lease S] [--max N] [--wait S]",
	  "Claim and complete orders until none is eligible (tests, benchmarks).",
	  "Each order is completed with {\"worker\",\"pid\",\"token\",\"attempt\"}.\n"
	  "Prints \"claimed ID TOKEN ATTEMPT\" and \"done ID TOKEN\" (or \"late ID\n"
	  "TOKEN\") per order, line by line.\n"
	  "  --max N   stop after N completions\n"
	  "  --wait S  keep polling S seconds for more work before stopping\n",
	  { { "worker", 1 }, { "tag", 1 }, { "lease", 1 }, { "max", 1 }, { "wait", 1 },
	    { NULL, 0 } }, 0, 0 },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static void main_help(FILE *f)
{
	size_t i;

	fputs("usage: spoolctl [--spool DIR] [--nosync] COMMAND [ARGS...]\n"
	      "       spoolctl --version\n\n"
	      "The spool is DIR, else $SPOOL_DIR, else ./spool. submit and sweep go to\n"
	      "the boss at $SPOOL_BOSS instead when it is set and --spool is not given\n"
	      "(with the bearer token in the file $SPOOL_TOKEN_FILE).\n"
	      "  --nosync   skip every fsync (benchmarks; not crash-safe)\n"
	      "  --version  print the version\n\n"
	      "Commands:\n", f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n'spoolctl COMMAND --help' tells more.\n\n"
	      "Exit codes:\n"
	      "  0  success\n"
	      "  1  error (I/O, bad job or outcome, disk full, ...)\n"
	      "  2  usage (unknown command or option, malformed id, token or value;\n"
	      "     a boss URL or token file that cannot be used, a token the boss refused)\n"
	      "  3  nothing there (nothing eligible to claim, no such order)\n"
	      "  4  conflict (claim no longer held, state does not allow it, id taken)\n"
	      "  5  fsck found problems\n", f);
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct args a;
	size_t k;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--spool") == 0) {
			if (i + 1 >= argc) {
				cli_warn("option '--spool' needs a directory");
				return EX_USAGE;
			}
			cli_spool_dir = argv[++i];
		} else if (strncmp(s, "--spool=", 8) == 0) {
			cli_spool_dir = s + 8;
		} else if (strcmp(s, "--nosync") == 0) {
			cli_nosync = 1;
		} else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			main_help(stdout);
			return EX_OK;
		} else if (strcmp(s, "--version") == 0) {
			printf("spoolctl (spool) %s\n", SPOOL_VERSION);
			return EX_OK;
		} else if (s[0] == '-') {
			cli_warn("unknown option '%s'", s);
			fputs("Try 'spoolctl --help'.\n", stderr);
			return EX_USAGE;
		} else {
			break;
		}
	}
	if (cli_spool_dir && !cli_spool_dir[0]) {
		cli_warn("option '--spool' needs a directory");
		return EX_USAGE;
	}
	if (i >= argc) {
		main_help(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc) {
			for (k = 0; k < NCMDS; k++)
				if (strcmp(cmds[k].name, argv[i + 1]) == 0) {
					cli_help(&cmds[k]);
					return EX_OK;
				}
		}
		main_help(stdout);
		return EX_OK;
	}
	for (k = 0; k < NCMDS; k++)
		if (strcmp(cmds[k].name, argv[i]) == 0)
			c = &cmds[k];
	if (!c) {
		cli_warn("'%s' is not a command. See 'spoolctl --help'.", argv[i]);
		return EX_USAGE;
	}
	rc = cli_parse(c, argc - i - 1, argv + i + 1, &a);
	if (rc == 0) {
		rc = c->run(c, &a);
	} else {
		rc = rc == -1 ? EX_OK : EX_USAGE;
	}
	free(a.pos);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_warn("cannot write to standard output: %s", strerror(errno));
		if (rc == EX_OK)
			rc = EX_ERR;
	}
	return rc;
}
