#!/usr/bin/env bash
# An outbox that cannot be listed (a listing cut short by ESTALE: an outbox
# on a shared NFS home) is not an empty outbox. Before, the outbox thread
# took the failed listing for "nothing left": a remote runner whose outcome
# was still in its outbox said nothing of it and exited 0 after --drain
# ("every job this runner finished was done") while the boss still had the
# order assigned. Now the flush fails with the reason and counts the outcome
# as left: the runner retries, then says what it kept and exits 2; a runner
# started later on the same outbox delivers it, once.
# The faults come from tests/nfsfs (the outbox on its mount): every read
# (the slot's own send) and every listing answered ESTALE.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back scripts
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
nfs_arm
cat >scripts/w.sh <<S
#!/bin/sh
touch "$TESTDIR/running"
while [ ! -e "$TESTDIR/GO" ]; do sleep 0.05; done
echo '{"status":200,"w":1}'
S
chmod +x scripts/w.sh
SC="$BIN/spoolctl --spool $TESTDIR/spool"
start_spoold "$TESTDIR/spool"
state() { $SC show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])'; }
j=$(echo '{"scriptName":"w.sh"}' | $SC submit -)

"$BIN/runner" --boss "$URL" --scripts scripts --name r1 --drain --drain-timeout 0 \
	--outbox m/ob --workdir "$TESTDIR/work" 2>r1.log &
R1=$!; PIDS+=($R1)
wait_for test -e running
nfs_arm 'read estale always' 'readdir estale always'
touch GO
wait_for bash -c "ls back/ob | grep -q '^$j\\.1\\.[0-9a-f]*\\.complete$'"
set +e; wait $R1; rc=$?; set -e
[ "$(nfs_fired 'readdir estale always')" -ge 1 ] || fail "the listing faults did not fire: $(cat stats)"
assert_eq assigned "$(state "$j")" "the boss never got the outcome"
[ "$rc" != 0 ] || fail "the runner exited 0 with its outcome undelivered: $(cat r1.log)"
assert_eq 2 "$rc" "the runner's exit with an outcome left in its outbox"
assert_match "1 outcome file still in the outbox" "$(cat r1.log)" "the runner says what it kept"
assert_match "cannot list the outbox m/ob: Stale file handle" "$(cat r1.log)" "the runner says why"
grep -q "outbox delivered" r1.log && fail "the runner said it delivered: $(cat r1.log)"

# healthy again: the next runner on the outbox delivers it, once
nfs_arm
"$BIN/runner" --boss "$URL" --scripts scripts --name r2 --drain --drain-timeout 0 \
	--outbox m/ob --workdir "$TESTDIR/work" 2>r2.log || fail "r2 exited $?: $(cat r2.log)"
assert_eq done "$(state "$j")" "delivered by the next runner"
assert_eq 1 "$(grep -c "delivered complete of $j" r2.log)" "delivered once"
assert_eq "" "$(ls back/ob | grep -v -e '^tmp$' -e '^dead$' || true)" "the outbox is empty"
echo ok
