#!/usr/bin/env bash
# tests/run: light 20
# --drain --wait-delayed waits for orders that are queued but not yet due
# (issue 11, defect 11); plain --drain leaves them (and says nothing is due).
# A delayed order needing a tag the runner lacks is not waited for. Local
# and remote mode.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
printf '#!/bin/sh\necho "{\\"loss\\": 1}"\n' >scripts/ok.sh
chmod +x scripts/ok.sh
$SC init
sub() { echo "$1" | $SC submit -; }
state() { $SC show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])'; }
$SC submit - <<<'{"scriptName":"ok.sh","spool":{"delay":3600,"tags":["elsewhere"]}}' >/dev/null

for mode in local remote; do
	if [ $mode = remote ]; then start_spoold "$TESTDIR/spool"; where=(--boss "$URL" --outbox "$TESTDIR/ob"); else where=(--spool spool --poll-ms 50); fi
	# due in 10 s: long enough that the plain drain below (slow under ASan on a
	# loaded machine) still finds it not due
	d=$(sub '{"scriptName":"ok.sh","spool":{"delay":10}}')
	"$BIN/runner" --scripts scripts "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"plain-$mode.log" ||
		fail "$mode: plain drain exited $?"
	assert_eq new "$(state "$d")" "$mode: plain --drain leaves the delayed order"
	"$BIN/runner" --scripts scripts "${where[@]}" --drain --wait-delayed --workdir "$TESTDIR/w" 2>"wait-$mode.log" ||
		fail "$mode: --wait-delayed exited $?: $(cat "wait-$mode.log")"
	assert_eq done "$(state "$d")" "$mode: --wait-delayed ran it once due"
	assert_match "waiting for delayed orders" "$(cat "wait-$mode.log")" "$mode: says why it waits"
done
