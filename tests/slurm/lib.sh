# Helpers for the Slurm tests (sourced after tests/lib.sh): a private cluster
# (tests/slurm/start) for the test, stopped when it ends, and ways to ask
# Slurm about jobs. The example sbatch script runs $BIN's runner.

SLURM_DIR=$TESTDIR/slurm
SBATCH_EXAMPLE=$TOP/examples/runner-array.sbatch
export SPOOL_RUNNER=$BIN/runner

# slurm_start: start the cluster, or skip the test (exit 77) when Slurm cannot
# be had here (not installed, not root). A cluster that is installed but does
# not start fails the test.
slurm_start() {
	local rc=0
	"$TOP/tests/slurm/start" "$SLURM_DIR" >/dev/null 2>"$TESTDIR/slurm-start.err" || rc=$?
	if [ "$rc" = 77 ]; then
		echo "SKIP: no Slurm here: $(tail -n 1 "$TESTDIR/slurm-start.err")"
		exit 77
	fi
	[ "$rc" = 0 ] || fail "the Slurm cluster did not start: $(cat "$TESTDIR/slurm-start.err")"
	for v in $(compgen -e | grep '^SLURM_' || true); do unset "$v"; done
	. "$SLURM_DIR/env"
	trap slurm_cleanup EXIT
}

# slurm_logs: the end of each daemon's log (a failed test shows them)
slurm_logs() {
	local f
	for f in "$SLURM_DIR"/log/slurmctld.log "$SLURM_DIR"/log/slurmd.log "$SLURM_DIR"/log/munged.out; do
		[ -f "$f" ] || continue
		echo "--- $f (end)"
		tail -n 12 "$f"
	done
	echo "--- squeue"
	squeue 2>&1 | tail -n 10 || true
}

# On exit: logs when the test failed; the cluster stopped by PID, and the
# test failed if anything of it was left running; then tests/lib.sh's cleanup.
slurm_cleanup() {
	local rc=$?
	trap - EXIT
	if [ "$rc" != 0 ]; then slurm_logs >&2; fi
	if ! "$TOP/tests/slurm/stop" "$SLURM_DIR"; then
		echo "FAIL: stopping the Slurm cluster left something behind" >&2
		[ "$rc" != 0 ] || rc=1
	fi
	cleanup
	exit "$rc"
}

# sbatch_array ARGS...: submit the example with sbatch ARGS, print the job id
sbatch_array() { sbatch --parsable "$@" "$SBATCH_EXAMPLE" | cut -d';' -f1; }

# slurm_gone JOBID: no task of JOBID is pending, running or completing
slurm_gone() { [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; }

# slurm_wait_gone JOBID [SECONDS]: wait until every task of JOBID has ended
slurm_wait_gone() { WAIT_S=${2:-180} wait_for slurm_gone "$1"; }

# slurm_tasks JOBID: one line per array task of JOBID that has run or runs,
# "TASK STATE EXIT:SIGNAL" (e.g. "3 COMPLETED 0:0", "1 FAILED 143:0"), by task
slurm_tasks() {
	scontrol -o show job "$1" | sed -n \
		's/.*ArrayTaskId=\([0-9][0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9]*:[0-9]*\).*/\1 \2 \3/p' |
		sort -n
}

# slurm_task_state JOBID TASK: the state of one array task (PENDING, RUNNING, ...)
slurm_task_state() { scontrol -o show job "${1}_$2" | sed -n 's/.*JobState=\([A-Z_]*\) .*/\1/p'; }

# slurm_task_ended JOBID TASK: the task is in a final state (COMPLETED,
# FAILED, TIMEOUT, ...: not RUNNING, SIGNALING, COMPLETING, REQUEUED, ...)
slurm_task_ended() {
	case "$(slurm_task_state "$1" "$2")" in
	BOOT_FAIL|CANCELLED|COMPLETED|DEADLINE|FAILED|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|TIMEOUT) return 0;;
	*) return 1;;
	esac
}

# --- the spool the tasks work on -------------------------------------------------------
export SPOOL_DIR=$TESTDIR/spool
SC="$BIN/spoolctl --spool $SPOOL_DIR"

# field ID KEY.KEY...: a field of `spoolctl show ID --json` ("null" if absent)
field() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else d if isinstance(d, str) else json.dumps(d))" "$2"; }

# runs ID: how many times a runner of the array started a script for order ID
# (their output files: the example's spool-runner-%A_%a.out in $TESTDIR)
runs() { cat "$TESTDIR"/spool-runner-*.out 2>/dev/null | grep -c " $1 attempt [0-9]*: running " || true; }

# task_of ID: the array task whose runner ran the last attempt of order ID
# (the example names its runner slurm-ARRAY-TASK-rRESTARTS)
task_of() { field "$1" outcome._run.worker | sed -n 's/^slurm-[0-9]*-\([0-9]*\)-r[0-9]*$/\1/p'; }

# nap_script DIR: DIR/nap.sh, a job that marks its start in $T_MARKS
# (started-ID-ATTEMPT), holds while $T_MARKS/hold exists (at most 5 minutes),
# then reports its attempt; T_MARKS reaches it through sbatch and the runner
nap_script() {
	mkdir -p "$1" "$TESTDIR/marks"
	export T_MARKS=$TESTDIR/marks
	cat >"$1/nap.sh" <<'S'
#!/bin/sh
touch "$T_MARKS/started-$SPOOL_JOB_ID-$SPOOL_ATTEMPT"
i=0
while [ -e "$T_MARKS/hold" ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i + 1)); done
echo "{\"loss\": 0, \"attempt\": $SPOOL_ATTEMPT}"
S
	chmod +x "$1/nap.sh"
}
# started N: N scripts have marked their start
started() { [ "$(ls "$T_MARKS" | grep -c '^started-')" -ge "$1" ]; }
