#!/usr/bin/env bash
# A diverged run is reported as such (issue 11, defect 7): Python's default
# json.dumps prints NaN and Infinity, which JSON has not. The runner reads
# the line with them as null, the job is done (not retried for "no JSON
# object on stdout"), and the outcome's _run record and the log say so. A
# "NaN" inside a string is left alone.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/diverge.py <<'S'
import json
print(json.dumps({"loss": float("nan"), "best": float("-inf"), "grad": [1.0, float("inf")], "note": "NaN, Infinity"}))
S
$SC init
j=$(echo '{"scriptName":"diverge.py"}' | $SC submit -)
"$BIN/runner" --spool spool --scripts scripts --drain --poll-ms 50 --workdir "$TESTDIR/w" 2>runner.log ||
	fail "runner exited $?: $(cat runner.log)"
out=$($SC show "$j" --json)
python3 - "$out" <<'P' || fail "outcome: $out"
import json, sys
d = json.loads(sys.argv[1])
o = d["outcome"]
assert d["order"]["state"] == "done", d["order"]
assert d["order"]["attempt"] == 1, d["order"]
assert o["loss"] is None and o["best"] is None and o["grad"] == [1.0, None], o
assert o["note"] == "NaN, Infinity", o
assert o["_run"]["nonFiniteAsNull"] == 3, o["_run"]
P
assert_match "$j attempt 1: done .*NaN or Infinity, read as null" "$(cat runner.log)" "log line"
assert_match "3 NaN or Infinity in the outcome read as null" "$($SC log "$j")" "run log"
