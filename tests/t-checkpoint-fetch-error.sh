#!/usr/bin/env bash
# A job that has a checkpoint the runner cannot have (the boss answers 500,
# the spool's read fails) is not run from nothing: the order is given back,
# no attempt spent, and the checkpoint stays. Before, the run started from an
# empty $SPOOL_CHECKPOINT_DIR with only a note in its log; when that attempt
# failed or was preempted, its save became the job's checkpoint and pruned
# the good one (hours of training gone), and a job with maxAttempts 1 failed
# for good. Only "no checkpoint" (404, ENOENT) starts fresh.
# The read error comes from the library's fault seam in spoold (remote) or
# the local runner: SPOOL_FAULT=read:N:EIO fails every whole-file read from
# the Nth on; spoold's claim reads two files (the order, the job), a local
# runner's three, then the checkpoint's first file is read (3, 4). The test
# checks that the failure it waits for is the checkpoint's.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
# resumes from its checkpoint; with none it starts from nothing, saves
# step 0 and fails (the attempt a lost checkpoint would cost)
cat >scripts/resume.sh <<S
#!/bin/sh
echo "\$SPOOL_ATTEMPT" >>"$TESTDIR/ran.\$SPOOL_JOB_ID"
C=\${SPOOL_CHECKPOINT_DIR:?}/step
if [ -f "\$C" ]; then echo "{\"status\":200,\"step\":\$(cat "\$C")}"; exit 0; fi
echo 0 >"\$C"
exit 1
S
chmod +x scripts/resume.sh
$SC init
state() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'])"; }
ckpt() { cat spool/checkpoints/"${1: -2}"/"$1"/*/step; }

# a job with a good checkpoint (step 41), saved through the API by a claim
# then given back
start_spoold "$TESTDIR/spool"
j=$(echo '{"scriptName":"resume.sh","spool":{"maxAttempts":1}}' | $SC submit -)
http POST "/v1/claim?worker=probe&wait=0"
assert_eq 200 "$CODE" "claim"
tok=$(js 'd["token"]')
printf 'spool-checkpoint 1\nF 3 step\n41\nE\n' >good.pack
http POST "/v1/jobs/$j/checkpoint?token=$tok" --data-binary @good.pack
assert_eq 200 "$CODE" "checkpoint saved: $BODY"
http POST "/v1/orders/$j/release?token=$tok"
assert_eq 200 "$CODE" "release: $BODY"
wait_for eval '[ "$(state "$j")" = "new 0" ]'
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
assert_eq 41 "$(ckpt "$j")" "the checkpoint in the spool"

# --- a remote runner: spoold cannot read the checkpoint (500) -----------------------------
# (a fresh spoold: the job is not in its memory, its file is read at the claim)
SPOOL_FAULT=read:3:EIO start_spoold "$TESTDIR/spool"
"$BIN/runner" --boss "$URL" --scripts scripts --name rr --poll-ms 50 \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/w1" 2>rr.log &
rpid=$!; PIDS+=("$rpid")
wait_for grep -Eq "$j attempt 1: (.*giving the order back|running)" rr.log
kill "$rpid"; wait "$rpid" 2>/dev/null || true
assert_match "$j attempt 1: cannot fetch the checkpoint: .*Input/output error.*giving the order back" \
	"$(cat rr.log)" "remote: the checkpoint's fetch failed, the order is given back"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
[ ! -e "ran.$j" ] || fail "remote: the job ran from nothing ($(cat "ran.$j")): $(cat rr.log)"
assert_eq "new 0" "$(state "$j")" "remote: the order is back in line, no attempt spent"
assert_eq 41 "$(ckpt "$j")" "remote: the checkpoint is kept"

# --- a local runner: its read of the checkpoint fails ---------------------------------------
SPOOL_FAULT=read:4:EIO "$BIN/runner" --spool spool --scripts scripts --name lr --poll-ms 50 \
	--workdir "$TESTDIR/w2" 2>lr.log &
rpid=$!; PIDS+=("$rpid")
wait_for grep -Eq "$j attempt 1: (.*giving the order back|running)" lr.log
kill "$rpid"; wait "$rpid" 2>/dev/null || true
assert_match "$j attempt 1: cannot read the checkpoint: .*Input/output error.*giving the order back" \
	"$(cat lr.log)" "local: the checkpoint's read failed, the order is given back"
[ ! -e "ran.$j" ] || fail "local: the job ran from nothing ($(cat "ran.$j")): $(cat lr.log)"
assert_eq "new 0" "$(state "$j")" "local: the order is back in line, no attempt spent"
assert_eq 41 "$(ckpt "$j")" "local: the checkpoint is kept"

# --- healthy again: the one attempt resumes from step 41 ----------------------------------
start_spoold "$TESTDIR/spool"
"$BIN/runner" --boss "$URL" --scripts scripts --name well --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/w3" 2>well.log || fail "runner exited $?: $(cat well.log)"
assert_eq "done 1" "$(state "$j")" "the job ran once the boss was well"
assert_eq 41 "$($SC show "$j" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["outcome"]["step"])')" \
	"it resumed from its checkpoint"

# --- no checkpoint (404) still starts from nothing ------------------------------------------
k=$(echo '{"scriptName":"resume.sh","spool":{"maxAttempts":2}}' | $SC submit -)
"$BIN/runner" --boss "$URL" --scripts scripts --name fresh --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/w4" 2>fresh.log || [ $? = 1 ] || fail "runner exited $?: $(cat fresh.log)"
assert_eq "done 2" "$(state "$k")" "a job without a checkpoint: run from nothing, then resumed"
echo ok
