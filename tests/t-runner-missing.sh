#!/usr/bin/env bash
# A runner whose --scripts lacks a job's script does not fail the job for
# everyone (issue 11, defect 8): it leaves the job, with no attempt spent,
# for a runner that has the script, and goes on with the jobs behind it.
# Local and remote mode; --drain ends (0) with only such jobs left.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir a b
printf '#!/bin/sh\necho "{\\"by\\": \\"$SPOOL_WORKER\\"}"\n' >a/common.sh
cp a/common.sh b/common.sh
cp a/common.sh b/only-b.sh
chmod +x a/*.sh b/*.sh
$SC init
sub() { echo "$1" | $SC submit -; }
f() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'], (d.get('outcome') or {}).get('by', '-'))"; }

for mode in local remote; do
	if [ $mode = remote ]; then start_spoold "$TESTDIR/spool"; where=(--boss "$URL" --outbox "$TESTDIR/ob"); else where=(--spool spool --poll-ms 50); fi
	# the job only b can run comes first in line; a runs what is behind it
	x=$(sub '{"scriptName":"only-b.sh","spool":{"priority":5,"maxAttempts":1}}')
	y=$(sub '{"scriptName":"common.sh","spool":{"maxAttempts":1}}')
	"$BIN/runner" --scripts a --name "a-$mode" "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"a-$mode.log" ||
		fail "$mode: runner a exited $?: $(cat "a-$mode.log")"
	assert_eq "new 0 -" "$(f "$x")" "$mode: the job a cannot run is left, no attempt spent"
	assert_eq "done 1 a-$mode" "$(f "$y")" "$mode: a ran the job behind it"
	assert_match "$x: script 'only-b.sh' not found .*left for a runner that has it" "$(cat "a-$mode.log")" "$mode: a says so"
	"$BIN/runner" --scripts b --name "b-$mode" "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"b-$mode.log" ||
		fail "$mode: runner b exited $?: $(cat "b-$mode.log")"
	assert_eq "done 1 b-$mode" "$(f "$x")" "$mode: b ran it"
done
