#!/usr/bin/env bash
# When the outbox cannot take an outcome (its disk full, ESTALE on a shared
# home), the runner sends it to the boss directly, once: only an answer the
# outbox's own rule calls settled (2xx, 409) counts as taken; any other
# (5xx, and 401, 403, 408, 429 that the outbox would try again) says
# "OUTCOME LOST", for nothing holds the outcome any more. Before, that send
# had its own copy of the rule (transport error or 5xx), so a 401 from a
# boss whose token changed meanwhile was taken for delivered: the outcome
# was lost without a word.
# The outbox's writes go through plain write/fsync, not the library's fault
# seam: the outbox is on tests/nfsfs (fsync estale), and the boss restarts
# with another token while the script runs.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/hold.sh <<S
#!/bin/sh
while [ ! -e "$TESTDIR/go" ]; do sleep 0.05; done
echo '{"status":200,"ran":1}'
S
chmod +x scripts/hold.sh
nfs_mount obb obm --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
nfs_arm
echo token-one-1234 >t1
echo token-two-5678 >t2
$SC init
j=$(echo '{"scriptName":"hold.sh","spool":{"maxAttempts":1}}' | $SC submit -)
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/t1"
"$BIN/runner" --boss "$URL" --token-file t1 --scripts scripts --name r \
	--outbox "$TESTDIR/obm/ob" --workdir "$TESTDIR/w" 2>r.log &
rpid=$!; PIDS+=("$rpid")
wait_for grep -q "$j attempt 1: running hold.sh" r.log
# the outbox can take nothing; the boss now wants another token
nfs_arm 'fsync estale always'
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/t2" --listen "127.0.0.1:$PORT"
touch go
wait_for grep -q "$j: cannot keep the outcome in the outbox (Stale file handle): sending it directly" r.log
# (the slot claims again once the send is over: 401 too)
wait_for grep -q "cannot claim: .*HTTP 401" r.log
kill "$rpid"; wait "$rpid" 2>/dev/null || true
assert_match "$j: OUTCOME LOST: the boss did not take it \(the boss at .* answered HTTP 401" "$(cat r.log)" \
	"a direct send answered 401 is said lost"
echo ok
