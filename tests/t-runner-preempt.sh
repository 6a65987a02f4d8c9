#!/usr/bin/env bash
# A preemption is not a failure (issue 11, defect 1). Under Slurm, scancel,
# a time limit or a preemption sends SIGTERM to every process of the step:
# the runner and its script get it at once, the script dies of it. The
# order is released with no attempt spent, and the runner exits 128+15.
# Shown in local and remote mode, with a shell script (dies of the signal)
# and a Python script that catches it and exits 143.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/long.sh <<'S'
#!/bin/sh
echo $$ >"$SPOOL_WORKDIR/../../pid-$SPOOL_JOB_ID"
sleep 60
echo '{"loss": 1}'
S
cat >scripts/long.py <<'S'
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
open(os.environ["SPOOL_WORKDIR"] + "/../../pid-" + os.environ["SPOOL_JOB_ID"], "w").write(str(os.getpid()))
time.sleep(60)
print('{"loss": 1}')
S
chmod +x scripts/long.sh
$SC init
sub() { echo "$1" | $SC submit -; }
field() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else d)" "$2"; }

# preempt NAME JOB RUNNER-ARGS...: start a runner, wait for the script, then
# SIGTERM both at once as slurmstepd does; the runner's exit status in $rc
preempt() {
	local name=$1 job=$2; shift 2
	"$BIN/runner" --scripts scripts --name "$name" --workdir "$TESTDIR/work" \
		--drain-timeout 30 "$@" 2>"$name.log" &
	local R=$!; PIDS+=($R)
	wait_for test -s "pid-$job"
	kill -TERM "$(cat "pid-$job")" $R
	set +e; wait $R; rc=$?; set -e
	rm -f "pid-$job"
}

for s in long.sh long.py; do
	j=$(sub "{\"scriptName\":\"$s\",\"spool\":{\"maxAttempts\":1}}")
	preempt "loc-${s/./-}" "$j" --spool spool --poll-ms 50 --drain
	assert_eq 143 "$rc" "local runner stopped by SIGTERM ($s)"
	assert_eq new "$(field "$j" order.state)" "local $s: released, not failed"
	assert_eq 0 "$(field "$j" order.attempt)" "local $s: no attempt spent"
	assert_match "$j attempt 1: released" "$(cat "loc-${s/./-}.log")" "local $s: release logged"
	$SC cancel "$j" >/dev/null
done

start_spoold "$TESTDIR/spool"
j=$(sub '{"scriptName":"long.sh","spool":{"maxAttempts":1}}')
preempt rem "$j" --boss "$URL" --outbox "$TESTDIR/ob" --drain
assert_eq 143 "$rc" "remote runner stopped by SIGTERM"
assert_eq new "$(field "$j" order.state)" "remote: released, not failed"
assert_eq 0 "$(field "$j" order.attempt)" "remote: no attempt spent"
assert_match "$j attempt 1: released" "$(cat rem.log)" "remote: release logged"
$SC cancel "$j" >/dev/null

# a runner stopped with nothing running exits 128+N too, and 130 for SIGINT
"$BIN/runner" --scripts scripts --spool spool --name idle --workdir "$TESTDIR/work" --tag none 2>idle.log &
I=$!; PIDS+=($I)
wait_for grep -q 'local mode' idle.log
kill -INT $I
set +e; wait $I; rc=$?; set -e
assert_eq 130 "$rc" "idle runner stopped by SIGINT"
