#!/usr/bin/env bash
# End to end with the real example workload: spoold, a remote runner with
# two slots on runner/scripts, and the two example jobs of nn.py. The wine
# job trains and completes with its loss and metric; the seed article's job
# names a column the data lacks, fails with exit code 2, and its outcome
# carries nn.py's own 400 outcome and the reason from stderr. Logs are at
# the boss.
. "$TOP/tests/lib.sh"
EX=$TOP/runner/scripts/examples
start_spoold "$TESTDIR/spool"
one() { python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
j['spool'] = {'maxAttempts': 1}
print(json.dumps(j))" "$1"; }
submit() { curl -sf -XPOST "$URL/v1/jobs" --data-binary "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
wine=$(submit "$(one "$EX/wine-job.json")")
seed=$(submit "$(one "$EX/seed-job.json")")

"$BIN/runner" --boss "$URL" --scripts "$TOP/runner/scripts" --name nn --slots 2 --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/work" 2>runner.log &&
	fail "runner exited 0 with a failed job: $(cat runner.log)"
[ $? = 1 ] || fail "runner exited $?, not 1 (a job failed): $(cat runner.log)"

python3 - "$TESTDIR" "$wine" "$seed" <<'PY' || fail "outcomes: $(cat "$TESTDIR"/spool/outcomes/*/* | head -c 2000)"
import glob, json, os, sys
top, wine, seed = sys.argv[1:4]
def outcome(i):
    files = glob.glob(os.path.join(top, "spool/outcomes", "*", i + ".*.json"))
    assert len(files) == 1, (i, files)
    return json.load(open(files[0]))
w = outcome(wine)
assert w["status"] == 200 and isinstance(w["loss"], float) and isinstance(w["metric"], float), w
assert w["_run"]["worker"] == "nn" and w["_run"]["exit"] == 0, w["_run"]
s = outcome(seed)
assert s["error"] == "exit code 2", s
assert s["output"]["status"] == 400, s
assert "con_lot" in s["stderrTail"], s
PY
assert_match '"loss"' "$(curl -sf "$URL/v1/orders/$wine/log")" "wine log at the boss"
assert_match 'con_lot' "$(curl -sf "$URL/v1/orders/$seed/log")" "seed log at the boss"
