#!/usr/bin/env bash
# The page's sweep filter takes any name (?sweep=NAME on /v1/orders and
# /v1/results), but a name asked for makes no sweep: only jobs do. Before,
# each name asked took one of the table's 4096 sweep slots for the daemon's
# life, so that after enough of them a real sweep's jobs were counted as
# "no sweep" and its name never listed.
. "$TOP/tests/lib.sh"

SC="$BIN/spoolctl --spool $TESTDIR/spool"
$SC init
echo '{"name": "before", "base": {"scriptName": "x.py"}, "grid": {"lr": [1, 2]}}' >before.json
$SC sweep before.json >/dev/null 2>&1
start_spoold "$TESTDIR/spool" --no-sync --quiet
curl -sS -o /dev/null "$URL/v1/sweeps"

# 4100 names asked for, over a few keep-alive connections
for i in $(seq 1 4100); do
	echo "url = \"$URL/v1/orders?state=new&limit=1&sweep=junk-$i\""
	echo "output = /dev/null"
done >junk.cfg
curl -sS --no-progress-meter --parallel --parallel-max 4 -K junk.cfg
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/results?sweep=junk-9")" "a results page of a name asked"

# a sweep submitted now is told apart and listed by its name
echo '{"name": "after", "base": {"scriptName": "x.py"}, "grid": {"lr": [1, 2, 3]}}' >after.json
$SC sweep after.json >/dev/null 2>&1
listed() {
	curl -sS "$URL/v1/sweeps" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = {w["name"]: w["total"] for w in d["sweeps"]}
sys.exit(0 if s.get("after") == 3 and s.get("before") == 2 and None not in s else 1)'
}
WAIT_S=60 wait_for listed
assert_eq 0 "$(curl -sS "$URL/v1/sweeps" | python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["sweeps"] if (w["name"] or "").startswith("junk")))')" "no sweep made by a name asked"
