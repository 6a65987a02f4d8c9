#!/usr/bin/env bash
# tests/run: light 10
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
	# due in 3 s; a plain drain that took that long (slow under ASan on a
	# loaded machine) proves nothing: again with 10 s, the verdict then
	for delay in 3 10; do
		d=$(sub '{"scriptName":"ok.sh","spool":{"delay":'$delay'}}')
		t0=$(date +%s)
		"$BIN/runner" --scripts scripts "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"plain-$mode.log" ||
			fail "$mode: plain drain exited $?"
		[ "$(state "$d")" = new ] || [ $(( $(date +%s) - t0 + 1 )) -lt "$delay" ] || [ "$delay" = 10 ] || continue
		assert_eq new "$(state "$d")" "$mode: plain --drain leaves the delayed order (due in $delay s)"
		break
	done
	"$BIN/runner" --scripts scripts "${where[@]}" --drain --wait-delayed --workdir "$TESTDIR/w" 2>"wait-$mode.log" ||
		fail "$mode: --wait-delayed exited $?: $(cat "wait-$mode.log")"
	assert_eq done "$(state "$d")" "$mode: --wait-delayed ran it once due"
	assert_match "waiting for delayed orders" "$(cat "wait-$mode.log")" "$mode: says why it waits"
done
