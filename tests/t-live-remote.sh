#!/usr/bin/env bash
# Live logs and series with a remote runner: a script that prints progress
# and metrics lines, then waits for a file the test makes only after it has
# seen those lines, is followed by `spoolctl log -f --boss` and by
# GET /v1/orders/ID/metrics while it runs; GET .../log?offset= polls with
# X-Spool-Log-Size and X-Spool-Log-Done; a metrics line whose step is not a
# number is left out of the series with a note in the log, nothing else
# lost; the plain GET .../log answers as before. Then a runner SIGKILLed
# mid-run leaves the log and series so far on the boss.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl"
mkdir scripts
cat >scripts/live.py <<'S'
import json, os, sys, time
job = json.loads(sys.argv[1])
for i in range(3):
    print(json.dumps({"epoch": i, "loss": 1.0 / (i + 1)}), flush=True)
    print("progress %d" % i, flush=True)
print(json.dumps({"step": "three", "loss": 9}), flush=True)
print("waiting for", job["go"], flush=True)
while not os.path.exists(job["go"]):
    time.sleep(0.05)
print(json.dumps({"epoch": 3, "loss": 0.2}), flush=True)
print(json.dumps({"status": 200, "loss": 0.2}))
S
start_spoold "$TESTDIR/spool"
submit() { curl -sf -XPOST "$URL/v1/jobs" -d "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
hdr() { curl -s -o /dev/null -D - "$1" | tr -d '\r' | sed -n "s/^$2: //Ip"; }

id=$(submit "{\"scriptName\":\"live.py\",\"go\":\"$TESTDIR/go1\",\"spool\":{\"maxAttempts\":1}}")
"$BIN/runner" --boss "$URL" --scripts scripts --name r1 --outbox ob1 --workdir "$TESTDIR/w1" \
	--drain >r1.log 2>&1 &
R1=$!
PIDS+=("$R1")
"$SC" log -f "$id" --boss "$URL" >follow.out 2>follow.err &
F=$!
PIDS+=("$F")

# the lines arrive while the script waits for go1 (it cannot end before)
WAIT_S=60 wait_for grep -q '^progress 2$' follow.out
assert_match '^waiting for' "$(cat follow.out)" "follower, before the end"
kill -0 "$F" || fail "the follower ended while the run lasts"
m=$(curl -sf "$URL/v1/orders/$id/metrics")
n=$(python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d['id'] == sys.argv[2] and d['attempt'] == 1 and d['truncated'] is False, d
print(','.join(str(p['epoch']) for p in d['points']))" "$m" "$id")
assert_eq "0,1,2" "$n" "metrics while the run lasts: the epochs so far"
t=$("$SC" metrics "$id" --boss "$URL")
assert_match '^epoch +loss' "$t" "spoolctl metrics: the header"
assert_match '^2 +0\.333' "$t" "spoolctl metrics: a row"

# offset polling: the size so far, not done; from the end nothing new
size=$(hdr "$URL/v1/orders/$id/log?offset=0" X-Spool-Log-Size)
[ "$size" -gt 0 ] || fail "X-Spool-Log-Size while running: '$size'"
assert_eq 0 "$(hdr "$URL/v1/orders/$id/log?offset=0" X-Spool-Log-Done)" "done while running"
assert_eq "" "$(curl -sf "$URL/v1/orders/$id/log?offset=$size")" "nothing past the size"
assert_eq "progress 0" "$(curl -sf "$URL/v1/orders/$id/log?offset=0" | sed -n 2p)" "from 0"
assert_match '^=== attempt 1 ===' "$(curl -sf "$URL/v1/orders/$id/log")" "plain GET while running"

touch go1
wait "$F" || fail "log -f exited $?: $(cat follow.err)"
f=$(cat follow.out)
assert_match '"epoch": 3' "$f" "the follower saw the end"
assert_match '^\[runner: exit code 0 after' "$f" "the follower saw the trailer"
assert_match '1 metrics line with a step or epoch that is not a number was not kept in the series; the first: \{"step": "three"' \
	"$f" "the note on the bad step"
wait "$R1" || fail "runner exited $?: $(cat r1.log)"
assert_match 'not a number, not kept in the series' "$(cat r1.log)" "the runner says so"
assert_eq 1 "$(grep -c 'not a number, not kept' r1.log)" "the runner says so once"
# the whole log as the follower saw it, and as before
whole=$(curl -sf "$URL/v1/orders/$id/log?attempt=1")
assert_eq "$f" "$whole" "followed = the final log"
assert_eq 1 "$(hdr "$URL/v1/orders/$id/log?offset=0" X-Spool-Log-Done)" "done at the end"
assert_eq "=== attempt 1 ===
$whole" "$(curl -sf "$URL/v1/orders/$id/log")" "GET log without offset as before"
n=$(curl -sf "$URL/v1/orders/$id/metrics" | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(','.join('%s:%s' % (p['epoch'], p['loss']) for p in d['points']))")
assert_eq "0:1.0,1:0.5,2:0.3333333333333333,3:0.2" "$n" "metrics at the end: the bad line only is left out"
assert_eq 200 "$(curl -sf "$URL/v1/outcomes/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
	"the outcome is the last JSON line"

# --- a runner SIGKILLed mid-run: what it sent stays on the boss ---------------------
id2=$(submit "{\"scriptName\":\"live.py\",\"go\":\"$TESTDIR/never\",\"spool\":{\"maxAttempts\":1}}")
"$BIN/runner" --boss "$URL" --scripts scripts --name r2 --outbox ob2 --workdir "$TESTDIR/w2" \
	>r2.log 2>&1 &
R2=$!
PIDS+=("$R2")
WAIT_S=60 wait_for sh -c "curl -sf '$URL/v1/orders/$id2/log?offset=0' | grep -q '^waiting for'"
WAIT_S=60 wait_for sh -c "curl -sf '$URL/v1/orders/$id2/metrics' | grep -q '\"epoch\": 2'"
kill -9 "$R2"
wait "$R2" 2>/dev/null || true
l=$(curl -sf "$URL/v1/orders/$id2/log")
assert_match '^progress 2$' "$l" "the log so far after the SIGKILL"
assert_match '"epoch": 2' "$(curl -sf "$URL/v1/orders/$id2/metrics")" "the series after the SIGKILL"
assert_eq assigned "$(curl -sf "$URL/v1/orders/$id2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" \
	"still assigned to the dead runner (its lease runs out later)"
echo ok
