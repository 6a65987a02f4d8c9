#!/usr/bin/env bash
# A claim's fsyncs never stop spoold's event loop, and by default a claim
# does not wait for them at all (issue 10). On a file system whose every
# fsync is slow (tests/nfsfs, "fsync delay"):
# 1. --sync always (the default): a claim is answered at once, and its fsync
#    of assigned/ follows its answer (a machine crash before it may undo
#    the claim: the job runs again, spool-layout.md "Claims that are not
#    synced"). Before, the claim waited for the writer's round of fsyncs.
# 2. --sync strict: the writer syncs the claim before it is answered; while
#    it does, /healthz and a read of the job are answered, and the claim is
#    not; once the syncs end, the claim gets its 200 and the order is in
#    assigned/. (Before that design, the claim synced on the loop thread:
#    nothing was answered for those 30 s.)
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back
: >ctl
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
"$BIN/spoolctl" --spool m/s init
fired_n() { sed -n 's/^fsync delay always fired \([0-9]*\)$/\1/p' stats; }

# 1. the default: the claim does not wait for a 10 s fsync
start_spoold m/s
code=$(curl -s -o job -w '%{http_code}' -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')
assert_eq 201 "$code" "submit"
id=$(python3 -c 'import json,sys; print(json.load(open("job"))["ids"][0])')
echo "fsync delay always 10000" >ctl.tmp
mv ctl.tmp ctl
code=$(curl -s -o claim -w '%{http_code}' --max-time 8 -X POST "$URL/v1/claim?worker=w&wait=0") || true
assert_eq 200 "$code" "a claim while every fsync takes 10 s (--sync always)"
grep -q "\"$id\"" claim || fail "the claim's answer names another order: $(cat claim)"
ls back/s/assigned | grep -q "$id" || fail "the claimed order is not in assigned/"
# its fsync of assigned/ comes after the answer
WAIT_S=60 wait_for test "$(fired_n)" -gt 0
: >ctl.tmp
mv ctl.tmp ctl
kill "$SPOOLD_PID"
wait "$SPOOLD_PID" || true
echo "ok: --sync always answered a claim at once, and synced it after"

# 2. --sync strict
start_spoold m/s --sync strict
code=$(curl -s -o job -w '%{http_code}' -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')
assert_eq 201 "$code" "submit"
id=$(python3 -c 'import json,sys; print(json.load(open("job"))["ids"][0])')

# from now on every fsync takes 30 s
echo "fsync delay always 30000" >ctl.tmp
mv ctl.tmp ctl
fired() { [ "$(fired_n)" -gt 0 ]; }	# (a new rule counts from 0)
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
echo "ok: --sync strict: the loop answered while a claim synced; the claim answered after"
