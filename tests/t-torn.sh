#!/usr/bin/env bash
# Torn documents. A commit publishes a job (or an outcome) before the one
# round of syncs that makes it durable, and answers only after it. A
# process killed at that sync (SPOOL_FAULT=fsync:1:KILL) leaves the
# document published and its order staged in tmp/ (or its claim still in
# assigned/); a machine crash at that instant may also leave the document
# torn (empty, as ext4's delayed allocation leaves it), which the test makes
# by truncating it. No answer acknowledged it, so whoever meets it removes
# it: fsck --repair and spoold's recovery, a retried submit, a retried
# complete, the reaper. Nothing torn is ever taken for a job or an outcome.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
$SC init
printf '{"scriptName":"nn.py","lr":0.1}' >job.json
printf '{"loss":0.25}' >outcome.json

killed() { set +e; SPOOL_FAULT=fsync:1:KILL "$@" >/dev/null 2>&1; rc=$?; set -e; [ "$rc" = 137 ] || fail "expected a SIGKILL at the first fsync, got exit $rc"; }
jobfile() { local id=$1; echo "$SPOOL_DIR/jobs/${id:22:2}/$id.json"; }

# 1. A submit killed at its sync: the job is published, its order staged.
id1=$($SC submit job.json | head -1)
id=$(python3 -c "print('$id1'[:20] + 'a1a1')")
killed $SC submit --id "$id" job.json
[ -f "$(jobfile "$id")" ] || fail "the job is published before the sync round"
ls "$SPOOL_DIR/tmp" | grep -q "\.order$" || fail "its order is staged in tmp/"
: >"$(jobfile "$id")"	# what a machine crash may leave
# a retried submit of the same id stores it afresh
$SC submit --id "$id" job.json >/dev/null
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['lr']==0.1" "$(jobfile "$id")" \
	|| fail "retried submit left the torn job"
[ "$($SC ls new | grep -c "$id")" = 1 ] || fail "one order for the retried job"
$SC fsck --repair >/dev/null 2>&1 || true
[ "$($SC ls new | grep -c "$id")" = 1 ] || fail "still one order after fsck"

# 2. The same, mended by fsck and by spoold's recovery at start.
id2=$(python3 -c "print('$id1'[:20] + 'b2b2')")
killed $SC submit --id "$id2" job.json
: >"$(jobfile "$id2")"
$SC fsck >fsck.out 2>&1 || true
grep -q "torn" fsck.out || fail "fsck names the torn job: $(cat fsck.out)"
id3=$(python3 -c "print('$id1'[:20] + 'c3c3')")
killed $SC submit --id "$id3" job.json
: >"$(jobfile "$id3")"
start_spoold "$SPOOL_DIR"
wait_for bash -c "! ls '$SPOOL_DIR/tmp' | grep -q -e '$id2.*\.order\$' -e '$id3.*\.order\$'"
for i in "$id2" "$id3"; do
	[ -e "$(jobfile "$i")" ] && fail "torn job $i still stored"
	$SC ls new | grep -q "$i" && fail "torn job $i was queued"
done
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
$SC fsck >/dev/null || fail "fsck clean after recovery"

# 3. A complete killed at its sync: the outcome is published, the claim
# stands. Torn, it does not decide how the claim ended: the retry does.
read -r cid tok att <<<"$($SC claim --worker w1 --lease 600 | head -1)"
[ -n "$tok" ] || fail "claimed nothing"
killed $SC complete "$cid" "$tok" outcome.json
out=$(ls "$SPOOL_DIR"/outcomes/*/"$cid".*."$tok".json)
[ -f "$out" ] || fail "the outcome is published before the sync round"
$SC ls assigned | grep -q "$cid" || fail "the claim stands until the sync"
: >"$out"
$SC complete "$cid" "$tok" outcome.json || fail "a retried complete over a torn outcome"
$SC ls done | grep -q "$cid" || fail "order done after the retry"
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['loss']==0.25" "$out" \
	|| fail "the outcome on file is the worker's"
ls "$SPOOL_DIR"/late/ | grep -q "$cid" && fail "the worker's outcome went to late/"

# 4. Torn and then the lease runs out: the reaper does not take it for the
# worker's outcome (which would end the claim as done); it files its 504.
read -r cid tok att <<<"$($SC claim --worker w2 --lease 1 | head -1)"
killed $SC complete "$cid" "$tok" outcome.json
out=$(ls "$SPOOL_DIR"/outcomes/*/"$cid".*."$tok".json)
: >"$out"
sleep 2
SPOOL_REAP_GRACE_MS=0 $SC reap >/dev/null
$SC ls done | grep -q "$cid" && fail "a torn outcome ended the claim as done"
$SC ls new | grep -q "$cid" || fail "the reaped order is queued again"
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['status']==504" "$out" \
	|| fail "the reaper's 504 is on file"
# 5. Torn, with the claim still running: recovery (fsck --repair here; spoold
# at start and with every reap) removes it, and nothing torn is left.
read -r cid tok att <<<"$($SC claim --worker w3 --lease 600 | head -1)"
killed $SC complete "$cid" "$tok" outcome.json
out=$(ls "$SPOOL_DIR"/outcomes/*/"$cid".*."$tok".json)
: >"$out"
$SC fsck >fsck5.out 2>&1 && fail "fsck does not see the torn outcome"
grep -q "torn" fsck5.out || fail "fsck names the torn outcome: $(cat fsck5.out)"
$SC fsck --repair >/dev/null 2>&1 || true
[ -e "$out" ] && fail "the torn outcome of a running claim is still there"
python3 "$TOP/tests/spoolcheck.py" "$SPOOL_DIR" --quiet || fail "something torn is left"
$SC ls assigned | grep -q "$cid" || fail "the claim still runs"
$SC complete "$cid" "$tok" outcome.json || fail "its worker completes it"
$SC fsck >/dev/null || fail "fsck clean at the end"
echo "torn documents: all mended"
