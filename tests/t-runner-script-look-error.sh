#!/usr/bin/env bash
# A runner that cannot look at a job's script (ESTALE from --scripts on NFS,
# EIO, EMFILE) gives the order back, no attempt spent: the job is not wrong,
# the runner's file system is. Only the job's own faults are refused (a
# script that is not executable, a link that ends outside --scripts), and a
# name that ends nowhere (no file, a dangling link, a loop of links) is left
# for a runner that has it. Before, any error of realpath() on a symlinked
# script (ESTALE, EIO, ELOOP) or of access() other than EACCES was refused
# with status 400: failed for good (the loop of links below shows it), and
# a failed lstat() or stat() (ESTALE) read as "not found".
# The ESTALE comes from tests/nfsfs (getattr estale) serving --scripts.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir sb
printf '#!/bin/sh\necho "{\\"by\\": \\"$SPOOL_WORKER\\"}"\n' >sb/real.sh
chmod +x sb/real.sh
ln -s real.sh sb/link.sh
ln -s loop2.sh sb/loop.sh
ln -s loop.sh sb/loop2.sh
nfs_mount sb m --attr-ms 600000 --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
nfs_arm
$SC init
state() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'])"; }

start_spoold "$TESTDIR/spool"
nfs_arm 'getattr estale always'
j=$(echo '{"scriptName":"link.sh","spool":{"maxAttempts":1}}' | $SC submit -)
"$BIN/runner" --boss "$URL" --scripts "$TESTDIR/m" --name sick --poll-ms 50 \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/w" 2>sick.log &
rpid=$!; PIDS+=("$rpid")
wait_for grep -Eq "$j attempt 1: .*(giving the order back|refused|running)|$j.*failed" sick.log
assert_match "$j attempt 1: cannot prepare the job: cannot look at script 'link.sh' .*Stale file handle: giving the order back" \
	"$(cat sick.log)" "the runner's trouble gives the order back"
assert_eq "new 0" "$(state "$j")" "the order is back in line, no attempt spent"
# healthy again: the same runner runs it, once
nfs_arm
wait_for eval '[ "$(state "$j")" = "done 1" ]'
kill "$rpid"; wait "$rpid" 2>/dev/null || true
grep -q "status.*400\|refused" sick.log && fail "the job was refused: $(cat sick.log)"

# a loop of links ends nowhere: left for a runner that has the script, not refused
k=$(echo '{"scriptName":"loop.sh","spool":{"maxAttempts":1}}' | $SC submit -)
"$BIN/runner" --boss "$URL" --scripts "$TESTDIR/sb" --name loops --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/w" 2>loops.log || fail "runner exited $?: $(cat loops.log)"
assert_eq "new 0" "$(state "$k")" "a loop of links: no attempt spent"
assert_match "$k: script 'loop.sh' not found .*left for a runner that has it" "$(cat loops.log)" \
	"a loop of links: left for a runner that has it"
echo ok
