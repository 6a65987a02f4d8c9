#!/usr/bin/env bash
# A claim's fsyncs do not stop spoold's event loop (issue 10): they are made
# by the writer, and the claim is answered only once they are done. On a
# file system whose every fsync takes 30 s (tests/nfsfs, "fsync delay"),
# while a claim waits for its syncs: /healthz and a read of the job are
# answered, and the claim is not; once the syncs end, the claim gets its
# 200 and the order is in assigned/. (Before, the claim synced on the loop
# thread: nothing was answered for those 30 s.)
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back
: >ctl
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
"$BIN/spoolctl" --spool m/s init
start_spoold m/s
code=$(curl -s -o job -w '%{http_code}' -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')
assert_eq 201 "$code" "submit"
id=$(python3 -c 'import json,sys; print(json.load(open("job"))["ids"][0])')

# from now on every fsync takes 30 s
echo "fsync delay always 30000" >ctl.tmp
mv ctl.tmp ctl
fired() { grep -q '^fsync delay always fired [1-9]' stats; }
curl -sS -o claim -w '%{http_code}' -X POST "$URL/v1/claim?worker=w&wait=0" >claim.code &
CLAIM=$!
PIDS+=("$CLAIM")
wait_for fired
# the claim is in its fsyncs now: the loop still answers
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$URL/healthz") || true
assert_eq 200 "$code" "/healthz while a claim syncs"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$URL/v1/jobs/$id") || true
assert_eq 200 "$code" "a read of the job while a claim syncs"
# and the claim is not answered before its syncs end
kill -0 "$CLAIM" 2>/dev/null || fail "the claim was answered before its fsyncs ended: $(cat claim.code) $(cat claim)"
: >ctl.tmp
mv ctl.tmp ctl
WAIT_S=120 wait_for test -s claim.code
wait "$CLAIM" || true
assert_eq 200 "$(cat claim.code)" "the claim, once synced"
grep -q "\"$id\"" claim || fail "the claim's answer names another order: $(cat claim)"
ls back/s/assigned | grep -q "$id" || fail "the claimed order is not in assigned/"
echo "ok: the loop answered while a claim synced; the claim answered after"
