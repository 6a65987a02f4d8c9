#!/usr/bin/env bash
# The runner in remote mode against a real spoold, with a bearer token:
# scripts that succeed, exit 3, print no JSON, read the job from stdin, and
# scriptName ../x, each with its outcome and its log at the boss; the
# runner registers itself; --drain exits 0. Then the boss is stopped while a
# script runs and started again later: the outcome waits in the outbox and
# is delivered once.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/ok.sh <<'S'
#!/bin/sh
echo "hello from $SPOOL_WORKER"
echo '{"status":200,"loss":1.5}'
S
cat >scripts/exit3.sh <<'S'
#!/bin/sh
echo "bad things" >&2
exit 3
S
cat >scripts/nojson.sh <<'S'
#!/bin/sh
echo "no outcome here"
S
cat >scripts/stdin.py <<'S'
import json, sys
job = json.load(sys.stdin)
print(json.dumps({"loss": job["lr"], "same": job == json.loads(sys.argv[1])}))
S
cat >scripts/hang.sh <<'S'
#!/bin/sh
exec sleep 60
S
cat >scripts/slow.sh <<'S'
#!/bin/sh
echo $$ >"$SPOOL_WORKDIR/../../slow-$SPOOL_JOB_ID.pid"
sleep 2
echo '{"loss":0.5,"slow":true}'
S
chmod +x scripts/*.sh
echo "s3cret-token" >token

start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/token"
AUTH="Authorization: Bearer s3cret-token"
submit() { curl -sf -H "$AUTH" -XPOST "$URL/v1/jobs" -d "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
field() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else json.dumps(d) if not isinstance(d, str) else d)" "$2"; }
boss_log() { curl -sf -H "$AUTH" "$URL/v1/orders/$1/log"; }

ok=$(submit '{"scriptName":"ok.sh","spool":{"maxAttempts":1}}')
e3=$(submit '{"scriptName":"exit3.sh","spool":{"maxAttempts":1}}')
nj=$(submit '{"scriptName":"nojson.sh","spool":{"maxAttempts":1}}')
si=$(submit '{"scriptName":"stdin.py","lr":0.75,"spool":{"maxAttempts":1}}')
dx=$(submit '{"scriptName":"../x","spool":{"maxAttempts":1}}')
hg=$(submit '{"scriptName":"hang.sh","spool":{"maxAttempts":1,"timeout":1}}')

# without the token the runner gets nowhere (and says so)
"$BIN/runner" --boss "$URL" --scripts scripts --name nobody --outbox ob0 2>nobody.log &
NB=$!; PIDS+=($NB)
assert_exit 2 wait $NB
assert_match "the boss wants a token \(HTTP 401\)" "$(cat nobody.log)" "401 is fatal at once"
assert_eq 0 "$(ls spool/assigned | wc -l)" "nothing claimed without the token"

"$BIN/runner" --boss "$URL" --token-file token --scripts scripts --name r1 --slots 2 \
	--grace 1 --drain --outbox "$TESTDIR/ob" --workdir "$TESTDIR/work" 2>r1.log &&
	fail "runner exited 0 with failed jobs: $(cat r1.log)"
[ $? = 1 ] || fail "runner exited $?, not 1 (jobs failed): $(cat r1.log)"

assert_eq done "$(field "$ok" order.state)" "ok state"
assert_eq 1.5 "$(field "$ok" outcome.loss)" "ok loss"
assert_match "hello from r1" "$(boss_log "$ok")" "ok log at the boss"
assert_eq failed "$(field "$e3" order.state)" "exit3 state"
assert_eq "exit code 3" "$(field "$e3" outcome.error)" "exit3 error"
assert_match "bad things" "$(boss_log "$e3")" "exit3 log at the boss"
assert_eq "no JSON object on stdout" "$(field "$nj" outcome.error)" "nojson error"
assert_eq true "$(field "$si" outcome.same)" "stdin job == argv job"
assert_eq 0.75 "$(field "$si" outcome.loss)" "stdin loss"
assert_match "refused: it contains '/'" "$(field "$dx" outcome.error)" "../x refused"
assert_eq "timed out after 1 s" "$(field "$hg" outcome.error)" "the job's own timeout, from the claim"
assert_eq SIGTERM "$(field "$hg" outcome._run.signal)" "timeout signal"
assert_eq "" "$(ls ob | grep -v -e '^tmp$' -e '^dead$' || true)" "outbox empty after drain"
workers=$(curl -sf -H "$AUTH" "$URL/v1/workers")
assert_match '"name": ?"r1"' "$workers" "GET /v1/workers shows the runner"
assert_match '"mode": ?"remote"' "$workers" "worker mode"

# --- the boss goes away while a script runs ------------------------------------------
sl=$(submit '{"scriptName":"slow.sh"}')
"$BIN/runner" --boss "$URL" --token-file token --scripts scripts --name r2 \
	--outbox "$TESTDIR/ob2" --workdir "$TESTDIR/work" 2>r2.log &
R2=$!; PIDS+=($R2)
wait_for test -s "slow-$sl.pid"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || true
# the outcome is kept, durably, until the boss is back
wait_for bash -c "ls ob2 | grep -q '^$sl\\.1\\.[0-9a-f]*\\.complete$'"
grep -q "outbox: the boss did not take" r2.log || wait_for grep -q "outbox: the boss did not take" r2.log
"$BIN/spoold" --spool "$TESTDIR/spool" --listen "127.0.0.1:$PORT" --token-file "$TESTDIR/token" \
	>spoold2.out 2>>spoold.log &
SPOOLD_PID=$!; PIDS+=($SPOOLD_PID)
for i in $(seq 1 400); do [ "$(field "$sl" order.state)" = done ] && break; sleep 0.05; done
assert_eq done "$(field "$sl" order.state)" "slow job done after the boss came back"
assert_eq true "$(field "$sl" outcome.slow)" "slow outcome"
assert_eq 1 "$(grep -c "delivered complete of $sl" r2.log)" "outcome delivered once"
assert_eq 1 "$(find spool/outcomes -name "$sl.*" | wc -l)" "one outcome filed"
assert_eq "" "$(ls ob2 | grep -v -e '^tmp$' -e '^dead$' || true)" "outbox empty"
kill -TERM $R2; assert_exit 143 wait $R2

# --- a runner dies with its outcome in the outbox ------------------------------------
s2=$(submit '{"scriptName":"slow.sh"}')
"$BIN/runner" --boss "$URL" --token-file token --scripts scripts --name r3 \
	--outbox "$TESTDIR/ob3" --workdir "$TESTDIR/work" 2>r3.log &
R3=$!; PIDS+=($R3)
wait_for test -s "slow-$s2.pid"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || true
wait_for bash -c "ls ob3 | grep -q '^$s2\\.1\\.[0-9a-f]*\\.complete$'"
kill -9 $R3; wait $R3 2>/dev/null || true
f=$(cd ob3 && ls "$s2".1.*.complete)
cp "ob3/$f" saved.complete
"$BIN/spoold" --spool "$TESTDIR/spool" --listen "127.0.0.1:$PORT" --token-file "$TESTDIR/token" \
	>spoold3.out 2>>spoold.log &
SPOOLD_PID=$!; PIDS+=($SPOOLD_PID)
wait_for grep -q '^listening on' spoold3.out
assert_eq assigned "$(field "$s2" order.state)" "order still assigned while its outcome waits"
"$BIN/runner" --boss "$URL" --token-file token --scripts scripts --name r4 --drain \
	--outbox "$TESTDIR/ob3" --workdir "$TESTDIR/work" 2>r4.log || fail "runner r4 exited $?"
assert_eq done "$(field "$s2" order.state)" "the next runner delivered the dead one's outcome"
assert_eq true "$(field "$s2" outcome.slow)" "delivered outcome"
# the boss took it but the runner died before forgetting it: sent again, filed once
cp saved.complete "ob3/$f"
"$BIN/runner" --boss "$URL" --token-file token --scripts scripts --name r5 --drain \
	--outbox "$TESTDIR/ob3" --workdir "$TESTDIR/work" 2>r5.log || fail "runner r5 exited $?"
grep -q "delivered complete of $s2 attempt 1 (the boss already had it)" r5.log ||
	fail "no duplicate delivery in r5.log: $(cat r5.log)"
assert_eq 1 "$(find spool/outcomes -name "$s2.*" | wc -l)" "one outcome filed after a resend"
assert_eq 0 "$(find spool/late -type f 2>/dev/null | wc -l)" "nothing late"
[ ! -e "ob3/$f" ] || fail "resent outcome still in the outbox"
