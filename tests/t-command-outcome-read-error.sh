#!/usr/bin/env bash
# A command job's outcome file ($SPOOL_OUTCOME) that the runner cannot read
# for a reason of its own (ESTALE from a work directory on NFS, EIO, EMFILE)
# is the runner's trouble, not the program's: the order is given back, no
# attempt spent, and runs again. Before, the read error was taken for "the
# file holds no JSON object" and the attempt failed (with maxAttempts 1:
# failed for good), and a failed lstat for "no outcome file", so that exit 0
# was filed done as {"status":200,"exitCode":0} without the program's
# outcome. The faults come from tests/nfsfs: the work directory on its
# mount, every read answered ESTALE once the program has written its file.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back scripts
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
nfs_arm
cat >scripts/prog <<S
#!/bin/sh
echo '{"status":200,"v":1}' >"\$SPOOL_OUTCOME"
touch "$TESTDIR/running"
while [ ! -e "$TESTDIR/GO" ]; do sleep 0.05; done
exit 0
S
chmod +x scripts/prog
SC="$BIN/spoolctl --spool $TESTDIR/spool"
$SC init
state() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'])"; }
j=$(echo '{"command":["prog"],"spool":{"maxAttempts":1}}' | $SC submit -)

"$BIN/runner" --spool spool --scripts scripts --workdir "$TESTDIR/m/work" --name r1 \
	--poll-ms 50 2>r1.log &
R1=$!; PIDS+=($R1)
wait_for test -e running
nfs_arm 'read estale always'
touch GO
ended() { grep -q "$j attempt 1: \(.*giving the order back\|failed\|done\)" r1.log; }
wait_for ended
[ "$(nfs_fired 'read estale always')" -ge 1 ] || fail "the read faults did not fire: $(cat stats)"
rm GO
kill -TERM $R1; wait $R1 2>/dev/null || true
grep -q "$j attempt 1: failed" r1.log && fail "the runner failed the job for its own read error: $(cat r1.log)"
grep -q "$j attempt 1: done" r1.log && fail "the runner filed the job done without its outcome: $(cat r1.log)"
assert_match "$j attempt 1: cannot read the outcome .*Stale file handle: giving the order back" \
	"$(cat r1.log)" "the runner says why it gives the order back"
assert_eq "new 0" "$(state "$j")" "the order is back in line, no attempt spent"

# the file cannot even be looked at (lstat): not "no outcome file"
$SC hold "$j" >/dev/null
k=$(echo '{"command":["prog"],"spool":{"maxAttempts":1}}' | $SC submit -)
rm -f running
"$BIN/runner" --spool spool --scripts scripts --workdir "$TESTDIR/m/work" --name r3 \
	--poll-ms 50 2>r3.log &
R3=$!; PIDS+=($R3)
wait_for test -e running
nfs_arm 'getattr estale always'
touch GO
ended() { grep -q "$k attempt 1: \(.*giving the order back\|failed\|done\)" r3.log; }
wait_for ended
rm GO
nfs_arm
kill -TERM $R3; wait $R3 2>/dev/null || true
grep -q "$k attempt 1: done" r3.log && fail "exit 0 filed done without the program's outcome: $(cat r3.log)"
assert_match "$k attempt 1: cannot read the outcome .*Stale file handle: giving the order back" \
	"$(cat r3.log)" "the runner says why it gives the order back (lstat)"
assert_eq "new 0" "$(state "$k")" "lstat: the order is back in line, no attempt spent"

# healthy again: both run, and their outcome is the program's
$SC release "$j" >/dev/null
touch GO
"$BIN/runner" --spool spool --scripts scripts --workdir "$TESTDIR/m/work" --name r2 \
	--drain 2>r2.log || fail "r2 exited $?: $(cat r2.log)"
for o in "$j" "$k"; do
	assert_eq "done 1" "$(state "$o")" "done once the disk is well"
	assert_eq 1 "$($SC show "$o" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["outcome"]["v"])')" \
		"the program's own outcome"
done
echo ok
