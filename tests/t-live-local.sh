#!/usr/bin/env bash
# Live logs and series with a local runner (straight on the spool): the
# script's lines reach logs/FF/ID.1.log and .series while it waits for a
# file the test makes only after seeing them; `spoolctl log -f` (the spool
# directly) follows it and ends with the attempt; `spoolctl metrics` shows
# the series then and at the end, without the line whose step is not a
# number (noted in the log). A runner SIGKILLed mid-run leaves the log so
# far in the spool. A series with a torn last line (a kill mid-append) is
# read without it, and fsck --repair cuts it.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/live.py <<'S'
import json, os, sys, time
job = json.loads(sys.argv[1])
for i in range(3):
    print(json.dumps({"step": i * 10, "loss": 1.0 / (i + 1), "acc": i / 4}), flush=True)
    print("progress %d" % i, flush=True)
    print("warning %d" % i, file=sys.stderr, flush=True)
print(json.dumps({"step": [1], "loss": 9}), flush=True)
print("waiting for", job["go"], flush=True)
while not os.path.exists(job["go"]):
    time.sleep(0.05)
print(json.dumps({"step": 30, "loss": 0.2}), flush=True)
print(json.dumps({"loss": 0.2}))
S
$SC init
id=$(echo "{\"scriptName\":\"live.py\",\"go\":\"$TESTDIR/go1\",\"spool\":{\"maxAttempts\":1}}" | $SC submit)
fan=${id: -2}
"$BIN/runner" --spool "$TESTDIR/spool" --scripts scripts --name l1 --workdir "$TESTDIR/w1" \
	--drain >l1.log 2>&1 &
R1=$!
PIDS+=("$R1")
$SC log -f "$id" >follow.out 2>follow.err &
F=$!
PIDS+=("$F")

WAIT_S=60 wait_for grep -q '^waiting for' follow.out
assert_match '^warning 2$' "$(cat follow.out)" "stderr too, live"
assert_match '^progress 2$' "$(cat spool/logs/$fan/$id.001.log)" "the log file, live"
kill -0 "$F" || fail "the follower ended while the run lasts"
t=$($SC metrics "$id")
assert_match '^step +loss +acc' "$t" "metrics while running: header"
assert_match '^20 +0\.333[0-9]* +0\.5' "$t" "metrics while running: a row"
assert_eq 3 "$(wc -l <"spool/logs/$fan/$id.001.series")" "the series file, live"

touch go1
wait "$F" || fail "log -f exited $?: $(cat follow.err)"
assert_match '^\[runner: exit code 0 after' "$(cat follow.out)" "the follower saw the end"
wait "$R1" || fail "runner exited $?: $(cat l1.log)"
assert_eq "$(cat follow.out)" "$($SC log "$id" --attempt 1)" "followed = the final log"
assert_match 'with a step or epoch that is not a number was not kept in the series; the first: \{"step": \[1\]' \
	"$(cat follow.out)" "the note on the bad step"
j=$($SC metrics "$id" --json)
assert_eq "0,10,20,30 False" "$(python3 -c "
import json, sys
d = json.loads(sys.argv[1])
print(','.join(str(p['step']) for p in d['points']), d['truncated'])" "$j")" "the series at the end"
assert_match '"loss": ?0.2' "$($SC show "$id")" "the outcome as before"

# --- a torn last line (a SIGKILL mid-append) ---------------------------------------
printf '{"step": 40, "loss": 0.1' >>"spool/logs/$fan/$id.001.series"
assert_eq 4 "$($SC metrics "$id" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')" \
	"a torn last line is skipped"
set +e
fo=$($SC fsck 2>&1)
set -e
assert_match "logs/$fan/$id.001.series: its last line is torn .* \(would be fixed by --repair\)" "$fo" "fsck reports it"
$SC fsck --repair >/dev/null 2>&1 || true
assert_eq "$(tail -c 1 "spool/logs/$fan/$id.001.series" | od -An -c | tr -d ' ')" '\n' "repaired: ends in a newline"
$SC fsck >/dev/null 2>&1 || fail "fsck after the repair: $($SC fsck 2>&1)"

# --- a local runner SIGKILLed mid-run: the log so far stays in the spool ------------
id2=$(echo "{\"scriptName\":\"live.py\",\"go\":\"$TESTDIR/never\",\"spool\":{\"maxAttempts\":1}}" | $SC submit)
"$BIN/runner" --spool "$TESTDIR/spool" --scripts scripts --name l2 --workdir "$TESTDIR/w2" \
	>l2.log 2>&1 &
R2=$!
PIDS+=("$R2")
WAIT_S=60 wait_for sh -c "$SC log $id2 --attempt 1 | grep -q '^waiting for'"
WAIT_S=60 wait_for sh -c "$SC metrics $id2 | grep -q '^20 '"
kill -9 "$R2"
wait "$R2" 2>/dev/null || true
assert_match '^progress 2$' "$($SC log "$id2")" "the log so far after the SIGKILL"
assert_match '^20 ' "$($SC metrics "$id2")" "the series after the SIGKILL"
echo ok
