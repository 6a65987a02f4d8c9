#!/usr/bin/env bash
# make demo's script, as a new user runs it: spoold, a sweep over HTTP, a
# remote and a local runner, progress, the leaderboard; then everything it
# started is stopped and every job is done.
. "$TOP/tests/lib.sh"
export DEMO_DIR=$TESTDIR/demo

"$TOP/tools/demo.sh" >out 2>err || fail "demo exited $?: $(tail -5 err) $(tail -5 out)"
cat out
grep -q "24 jobs queued" out || fail "the demo did not queue its 24 jobs"
grep -q "all 24 jobs done" out || fail "not every job is done"
grep -Eq '^\[#+\] 24/24 done, 0 running, 0 queued, 0 failed' out || fail "no final progress line"
# a leaderboard: a header and ten ranked rows, best (lowest loss) first
grep -Eq '^rank +loss +id +job' out || fail "no leaderboard header"
rows=$(grep -Ec '^ +[0-9]+ +[0-9.e+-]+ +[0-9a-f]{24} ' out)
assert_eq 10 "$rows" "leaderboard rows"
grep -E '^ +[0-9]+ +[0-9.e+-]+ +[0-9a-f]{24} ' out | awk '{print $2}' >losses
sort -g losses | cmp -s - losses || fail "the leaderboard is not sorted by loss: $(cat losses)"
# both runners worked, one over HTTP and one on the spool
s=$DEMO_DIR/spool
grep -l '"worker"' -r "$s/done" >/dev/null 2>&1 || true
workers=$(ls "$s"/done/*/ | sed -n 's/.*\.\([^.]*\)$/\1/p' | sort -u | tr '\n' ' ')
assert_match 'demo-local' "$workers" "workers seen in done/"
assert_match 'demo-remote' "$workers" "workers seen in done/"
# nothing left running: no process still has the demo's spool in its arguments
if pgrep -f -- "$DEMO_DIR" >/dev/null; then
	fail "processes left running: $(pgrep -af -- "$DEMO_DIR")"
fi
# every outcome is a real training result
for f in "$s"/outcomes/*/*.json; do
	python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["status"]==200 and o["loss"]>0, o' "$f" ||
		fail "bad outcome $f"
done
echo ok
