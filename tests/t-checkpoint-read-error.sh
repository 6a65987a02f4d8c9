#!/usr/bin/env bash
# A job's checkpoint that cannot be read whole is never served as part of
# itself, nor as none. Before, a file of the newest generation whose read
# failed (ESTALE from NFS, EIO, EMFILE) was left out without a word, and
# GET /v1/jobs/ID/checkpoint answered 200 with the rest (or with an empty
# pack): the next attempt resumed from half a state, and the save at its end
# pruned the whole generation. Likewise a failed stat of the job read as
# "no job" (404: no checkpoint). Now a stale handle is opened again (the
# spool's one whole-file read), and an error that stays is the answer (500,
# with the reason); only a job that is not there is "no job".
# The read errors come from tests/nfsfs (ESTALE on FUSE reads), the stat
# error from the library's fault seam (SPOOL_FAULT=stat:1:EIO).
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
nfs_arm
SC="$BIN/spoolctl --spool m/s"
$SC init
start_spoold m/s

# a claim saves a checkpoint of two files through the API
j=$(echo '{"scriptName":"s.sh"}' | $SC submit -)
http POST "/v1/claim?worker=w&wait=0"
assert_eq 200 "$CODE" "claim"
tok=$(js 'd["token"]')
printf 'spool-checkpoint 1\nF 7 model.bin\nweightsF 4 step\n1000E\n' >whole.pack
http POST "/v1/jobs/$j/checkpoint?token=$tok" --data-binary @whole.pack
assert_eq 200 "$CODE" "checkpoint saved: $BODY"
get() { curl -s -o got.pack -w '%{http_code}' "$URL/v1/jobs/$j/checkpoint"; }
assert_eq 200 "$(get)" "the checkpoint, healthy"
cmp -s whole.pack got.pack || fail "the checkpoint, healthy: $(cat -A got.pack)"

# one read answered ESTALE: the file is opened again, the checkpoint is whole
nfs_arm 'read estale #1'
c=$(get)
assert_eq 1 "$(nfs_fired 'read estale #1')" "the stale read fired"
assert_eq 200 "$c" "a checkpoint read through a stale handle"
cmp -s whole.pack got.pack || fail "a stale read left a file out of the checkpoint: $(cat -A got.pack)"

# every read fails: an error with its reason, never a part of it as 200
nfs_arm 'read estale always'
c=$(get)
[ "$(nfs_fired 'read estale always')" -ge 1 ] || fail "the read faults did not fire: $(cat stats)"
[ "$c" != 200 ] || fail "a checkpoint that cannot be read was served as 200: $(cat -A got.pack)"
assert_eq 500 "$c" "a checkpoint that cannot be read"
assert_match "cannot read the checkpoint.*Input/output error" "$(cat got.pack)" "the answer says why"
nfs_arm
assert_eq 200 "$(get)" "healthy again: the checkpoint"
cmp -s whole.pack got.pack || fail "healthy again: $(cat -A got.pack)"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true

# the job's stat fails: not "no job" (which reads as "no checkpoint")
SPOOL_FAULT=stat:1:EIO $SC artifacts "$j" >art.out 2>&1 && fail "artifacts of a job whose stat failed: $(cat art.out)"
assert_match "cannot tell whether job '$j' exists: Input/output error" "$(cat art.out)" "spoolctl artifacts says why"
grep -q "no job" art.out && fail "a failed stat read as no job: $(cat art.out)"
$SC artifacts "$j" >art.out 2>&1 || fail "artifacts, healthy: $(cat art.out)"
echo ok
