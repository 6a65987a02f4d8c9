#!/usr/bin/env bash
# Leases in remote mode, with spoold reaping:
# - heartbeats keep a run that outlasts its lease;
# - kill -9 of a runner mid-script: its script dies with it, the boss reaps
#   the lease, another runner completes the order (attempt 2);
# - a runner frozen past its lease: the order goes to another runner; when
#   the frozen one wakes its claim is gone (409) and the real outcome stays;
# - SIGTERM with a script that outlasts --drain-timeout: it is stopped and
#   its order released to the boss without counting an attempt.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
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
start_spoold "$TESTDIR/spool" --reap-interval 1
# a stopped runner would never see cleanup's SIGTERM
trap 'kill -CONT "${PIDS[@]}" 2>/dev/null; cleanup' EXIT

until_() { local n=$1 i; shift; for i in $(seq 1 $((n * 20))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; fail "timed out ($n s) waiting for: $*"; }
submit() { curl -sf -XPOST "$URL/v1/jobs" -d "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
state() { $SC show "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['order']['state'])"; }
outcome() { $SC show "$1" --json | python3 -c "import json,sys; o=json.load(sys.stdin)['outcome'] or {}; print(o.get('by'), o.get('attempt'))"; }
is_state() { [ "$(state "$1")" = "$2" ]; }
runner() { local name=$1; shift; "$BIN/runner" --boss "$URL" --scripts scripts --name "$name" \
	--lease 1 --outbox "$TESTDIR/ob-$name" --workdir "$TESTDIR/work-$name" "$@" 2>"$name.log" & }

# --- heartbeats -------------------------------------------------------------------------
hb=$(submit '{"scriptName":"slow1.sh","spool":{"maxAttempts":1}}')
runner h --drain; H=$!; PIDS+=($H)
# three lease lengths past the start: only heartbeats keep the claim that long
until_ 10 test -e "started-$hb"; sleep 3; touch "go-$hb"
wait $H || fail "runner h exited $?"
assert_eq done "$(state "$hb")" "3 s run with a 1 s lease"
assert_eq "h 1" "$(outcome "$hb")" "first attempt kept by heartbeats"

# --- kill -9 ----------------------------------------------------------------------------
j1=$(submit '{"scriptName":"hang1.sh"}')
runner a; A=$!; PIDS+=($A)
until_ 10 test -s pid-a
kill -9 $A; wait $A 2>/dev/null || true
until_ 5 bash -c "! kill -0 $(cat pid-a)"
runner b; B=$!; PIDS+=($B)
until_ 20 is_state "$j1" done
assert_eq "b 2" "$(outcome "$j1")" "outcome after kill -9 comes from runner b, attempt 2"

kill -TERM $B; assert_exit 143 wait $B

# --- frozen runner ------------------------------------------------------------------------
j2=$(submit '{"scriptName":"slow1.sh"}')
runner c; C=$!; PIDS+=($C)
until_ 10 test -e "started-$j2"
kill -STOP $C
runner d; D=$!; PIDS+=($D)
until_ 20 is_state "$j2" done
assert_eq "d 2" "$(outcome "$j2")" "outcome from runner d, attempt 2"
touch "go-$j2"
until_ 10 test -e "finished-$j2"	# c's first attempt ends while c is frozen
kill -CONT $C
until_ 10 grep -Eq "$j2 attempt 1: claim lost|$j2 attempt 1 is stale" c.log
assert_eq "d 2" "$(outcome "$j2")" "c's late result did not overwrite d's"
kill -TERM $C $D
assert_exit 143 wait $C
assert_exit 143 wait $D

# --- SIGTERM: released to the boss ------------------------------------------------------
j3=$(submit '{"scriptName":"hang1.sh"}')
runner e --drain-timeout 1 --grace 1; E=$!; PIDS+=($E)
until_ 10 test -s pid-e
kill -TERM $E
assert_exit 143 wait $E
assert_eq new "$(state "$j3")" "released order is back in new"
assert_eq 0 "$($SC show "$j3" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['order']['attempt'])")" "no attempt counted"
grep -q "$j3 attempt 1: released" e.log || fail "no release in e.log: $(cat e.log)"
