#!/usr/bin/env bash
# Local mode: SIGTERM drains (a script that finishes within --drain-timeout
# completes; one that does not is stopped and its order released without
# counting an attempt); heartbeats keep a run longer than its lease; a job
# that requires a tag goes only to a runner that has it; --gpus gives each
# slot its own CUDA_VISIBLE_DEVICES; --drain does not leave while an order
# of its own may come back as a retry.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/sleep.sh <<'S'
#!/bin/sh
# sleeps as long as the job says, then reports who ran it
secs=$(echo "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['secs'])")
touch "$SPOOL_WORKDIR/../../started-$SPOOL_JOB_ID"
sleep "$secs"
echo "{\"by\":\"$SPOOL_WORKER\",\"attempt\":$SPOOL_ATTEMPT,\"cuda\":\"${CUDA_VISIBLE_DEVICES-unset}\",\"slot\":$SPOOL_SLOT}"
S
cat >scripts/flaky.sh <<'S'
#!/bin/sh
# fails its first attempt after a while, succeeds the next
[ "$SPOOL_ATTEMPT" = 1 ] && sleep 1 && exit 3
echo "{\"attempt\":$SPOOL_ATTEMPT}"
S
chmod +x scripts/sleep.sh scripts/flaky.sh
$SC init
sub() { echo "$1" | $SC submit -; }
field() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else json.dumps(d) if not isinstance(d, str) else d)" "$2"; }
runner() { local name=$1; shift; env -u CUDA_VISIBLE_DEVICES "$BIN/runner" --spool spool --scripts scripts --name "$name" \
	--poll-ms 50 --workdir "$TESTDIR/work" "$@" 2>"$name.log" & }

# --- SIGTERM: a short script finishes, a long one is stopped and released -----------
quick=$(sub '{"scriptName":"sleep.sh","secs":1}')
long=$(sub '{"scriptName":"sleep.sh","secs":30}')
runner a --slots 2 --drain-timeout 2 --grace 1; A=$!; PIDS+=($A)
wait_for test -e "started-$quick"
wait_for test -e "started-$long"
t0=$(date +%s)
kill -TERM $A
assert_exit 143 wait $A
[ $(( $(date +%s) - t0 )) -le 6 ] || fail "drain took more than 6 s"
assert_eq done "$(field "$quick" order.state)" "quick job finished during the drain"
assert_eq new "$(field "$long" order.state)" "long job released"
assert_eq 0 "$(field "$long" order.attempt)" "release counts no attempt"
grep -q "$long attempt 1: released" a.log || fail "no release in the log: $(cat a.log)"
$SC cancel "$long" >/dev/null

# --- heartbeats keep a run that outlasts its lease -------------------------------------
hb=$(sub '{"scriptName":"sleep.sh","secs":3,"spool":{"maxAttempts":1}}')
runner b --lease 1 --drain; B=$!; PIDS+=($B)
wait $B || fail "runner b exited $?"
assert_eq done "$(field "$hb" order.state)" "3 s run with a 1 s lease"
assert_eq 1 "$(field "$hb" outcome.attempt)" "still the first attempt"

# --- --drain waits for its running orders: a failure may come back as a retry ------------
fl=$(sub '{"scriptName":"flaky.sh","spool":{"maxAttempts":2,"retryDelay":0}}')
runner f --slots 3 --drain; F=$!; PIDS+=($F)
assert_exit 1 wait $F	# its first attempt failed
assert_eq done "$(field "$fl" order.state)" "flaky job retried by the draining runner"
assert_eq 2 "$(field "$fl" outcome.attempt)" "flaky job's second attempt"

# --- tags and gpus ---------------------------------------------------------------------
tg=$(sub '{"scriptName":"sleep.sh","secs":0,"spool":{"tags":["gpu"]}}')
un=$(sub '{"scriptName":"sleep.sh","secs":0}')
runner plain --drain; P=$!; PIDS+=($P)
wait $P || fail "runner plain exited $?"
assert_eq done "$(field "$un" order.state)" "untagged job"
assert_eq new "$(field "$tg" order.state)" "tagged job left for a runner with the tag"
g1=$(sub '{"scriptName":"sleep.sh","secs":1}')
runner gpu --tag gpu --tag big --gpus 2,3 --drain; G=$!; PIDS+=($G)
wait $G || fail "runner gpu exited $?"
assert_eq gpu "$(field "$tg" outcome.by)" "tagged job ran on the tagged runner"
cuda=$(field "$tg" outcome.cuda)-$(field "$tg" outcome.slot),$(field "$g1" outcome.cuda)-$(field "$g1" outcome.slot)
case "$cuda" in "2-0,3-1"|"3-1,2-0") ;; *) fail "CUDA_VISIBLE_DEVICES per slot: got $cuda";; esac
assert_eq unset "$(field "$un" outcome.cuda)" "no --gpus: CUDA_VISIBLE_DEVICES left alone"
assert_match '"tags": ?\["gpu", ?"big"\].*"gpus": ?"2,3"' "$(cat spool/workers/gpu.json)" "worker record"
assert_match '"mode": ?"local"' "$(cat spool/workers/gpu.json)" "worker record mode"
