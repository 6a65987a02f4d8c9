#!/usr/bin/env bash
# Live logs when the boss is away for a while: what the script prints while
# spoold is stopped is kept by the runner and reaches the boss once it is
# back, while the run still lasts (not only at the end), each line once; the
# series likewise; the final log is whole.
. "$TOP/tests/lib.sh"
mkdir scripts
cat >scripts/gap.py <<'S'
import json, os, sys, time
job = json.loads(sys.argv[1])
def wait(p):
    while not os.path.exists(p):
        time.sleep(0.05)
print("before", flush=True)
print(json.dumps({"step": 1, "loss": 1.0}), flush=True)
wait(job["go1"])
print("during the outage", flush=True)
print(json.dumps({"step": 2, "loss": 0.5}), flush=True)
open(job["printed"], "w").close()
wait(job["go2"])
print(json.dumps({"loss": 0.5}))
S
start_spoold "$TESTDIR/spool"
id=$(curl -sf -XPOST "$URL/v1/jobs" -d "{\"scriptName\":\"gap.py\",\"go1\":\"$TESTDIR/go1\",\"go2\":\"$TESTDIR/go2\",\"printed\":\"$TESTDIR/printed\",\"spool\":{\"maxAttempts\":1}}" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])")
"$BIN/runner" --boss "$URL" --scripts scripts --name r1 --outbox ob --workdir "$TESTDIR/w" \
	--drain >r1.log 2>&1 &
R=$!
PIDS+=("$R")
WAIT_S=60 wait_for sh -c "curl -sf '$URL/v1/orders/$id/log?offset=0' | grep -q '^before$'"

kill -TERM "$SPOOLD_PID"
wait "$SPOOLD_PID" || true
touch go1
WAIT_S=60 wait_for test -e printed
"$BIN/spoold" --spool "$TESTDIR/spool" --listen "127.0.0.1:$PORT" >spoold2.out 2>>spoold.log &
SPOOLD_PID=$!
PIDS+=("$SPOOLD_PID")
WAIT_S=60 wait_for grep -q '^listening on' spoold2.out
# back: the lines printed meanwhile arrive while the script still waits for go2
WAIT_S=60 wait_for sh -c "curl -sf '$URL/v1/orders/$id/log?offset=0' | grep -q '^during the outage$'"
WAIT_S=60 wait_for sh -c "curl -sf '$URL/v1/orders/$id/metrics' | grep -q '\"step\": 2'"
[ -e go2 ] && fail "the script was let go early"
assert_eq assigned "$(curl -sf "$URL/v1/orders/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" \
	"the run still lasts"
l=$(curl -sf "$URL/v1/orders/$id/log?offset=0")
assert_eq 1 "$(grep -c '^during the outage$' <<<"$l")" "each line once"
assert_eq 1 "$(grep -c '^before$' <<<"$l")" "each line once (before)"
touch go2
wait "$R" || fail "runner exited $?: $(cat r1.log)"
f=$(curl -sf "$URL/v1/orders/$id/log?attempt=1")
assert_eq "$l" "$(head -n "$(wc -l <<<"$l")" <<<"$f")" "the final log starts with what came live"
assert_match '^\[runner: exit code 0 after' "$f" "the final log is whole"
assert_eq "1,2" "$(curl -sf "$URL/v1/orders/$id/metrics" | python3 -c '
import json, sys
print(",".join(str(p["step"]) for p in json.load(sys.stdin)["points"]))')" "the series, each point once"
echo ok
