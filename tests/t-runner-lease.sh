#!/usr/bin/env bash
# Leases in local mode (runners sharing one spool, no boss):
# - kill -9 of a runner mid-script: its script dies with it, the lease
#   expires, another runner reaps it and completes the order (attempt 2);
# - a runner frozen (SIGSTOP) past its lease while its script finishes: the
#   order is reaped and completed by another runner; when the frozen one
#   wakes, its result is fenced off and never overwrites the real one.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
# First attempt: hangs (as the sleep itself, so that it is the runner's child).
cat >scripts/hang1.sh <<'S'
#!/bin/sh
[ "$SPOOL_ATTEMPT" = 1 ] && echo $$ >"$SPOOL_WORKDIR/../../pid-$SPOOL_WORKER" && exec sleep 30
echo "{\"by\":\"$SPOOL_WORKER\",\"attempt\":$SPOOL_ATTEMPT}"
S
cat >scripts/slow1.sh <<'S'
#!/bin/sh
# the first attempt ends only when the test says (its runner frozen by then)
if [ "$SPOOL_ATTEMPT" = 1 ]; then
	touch "$SPOOL_WORKDIR/../../started-$SPOOL_JOB_ID"
	i=0; while [ ! -e "$SPOOL_WORKDIR/../../go-$SPOOL_JOB_ID" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
	touch "$SPOOL_WORKDIR/../../finished-$SPOOL_JOB_ID"
fi
echo "{\"by\":\"$SPOOL_WORKER\",\"attempt\":$SPOOL_ATTEMPT}"
S
chmod +x scripts/*.sh
$SC init

# until SECONDS CMD...: like wait_for, with a longer limit (leases take time)
until_() { local n=$1 i; shift; for i in $(seq 1 $((n * 20))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; fail "timed out ($n s) waiting for: $*"; }
state() { $SC show "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['order']['state'])"; }
outcome() { $SC show "$1" --json | python3 -c "import json,sys; o=json.load(sys.stdin)['outcome'] or {}; print(o.get('by'), o.get('attempt'))"; }
is_state() { [ "$(state "$1")" = "$2" ]; }
runner() { local name=$1; shift; "$BIN/runner" --spool spool --scripts scripts --name "$name" \
	--lease 1 --poll-ms 50 --workdir "$TESTDIR/work-$name" "$@" 2>"$name.log" & }

# --- kill -9 -------------------------------------------------------------------
j1=$(echo '{"scriptName":"hang1.sh"}' | $SC submit -)
runner a; A=$!; PIDS+=($A)
until_ 10 test -s pid-a
kill -9 $A; wait $A 2>/dev/null || true
# its script went with it (PR_SET_PDEATHSIG)
until_ 5 bash -c "! kill -0 $(cat pid-a)"
runner b; B=$!; PIDS+=($B)
until_ 20 is_state "$j1" done
assert_eq "b 2" "$(outcome "$j1")" "outcome after kill -9 comes from runner b, attempt 2"
kill -TERM $B; assert_exit 143 wait $B

# --- frozen runner: its late result is fenced off -------------------------------
j2=$(echo '{"scriptName":"slow1.sh"}' | $SC submit -)
runner c; C=$!; PIDS+=($C)
until_ 10 test -e "started-$j2"
kill -STOP $C
runner d; D=$!; PIDS+=($D)
until_ 20 is_state "$j2" done
assert_eq "d 2" "$(outcome "$j2")" "outcome comes from runner d, attempt 2"
touch "go-$j2"
until_ 10 test -e "finished-$j2"	# c's first attempt ends while c is frozen
kill -CONT $C
until_ 10 grep -Eq "$j2 attempt 1: (claim lost|the claim was lost)" c.log
assert_eq "d 2" "$(outcome "$j2")" "c's late result did not overwrite d's"
assert_eq done "$(state "$j2")" "state after c woke up"
kill -TERM $C $D
assert_exit 143 wait $C
assert_exit 143 wait $D
