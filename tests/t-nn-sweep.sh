#!/usr/bin/env bash
# A small sweep of nn.py, end to end: spoolctl sweep submits it, a real
# runner on the spool trains every job, and the leaderboard (spoolctl top,
# sorted by loss) puts first the run with the lowest validation MSE; that
# run beats the mean predictor on the test rows, which every run of the
# sweep shares (one split: one splitDigest).
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/sp
SCRIPTS=${SCRIPTS:-$TOP/runner/scripts}

cat >spec.json <<'J'
{"name": "nn-small",
 "base": {"scriptName": "nn.py", "dataFileName": "wine_data.csv", "dependentVariable": "alcohol",
          "hiddenLayers": [{"activation": "tanh", "widthModifier": 0.5}],
          "epochs": 20, "batchSize": 16, "splitSeed": 3, "spool": {"maxAttempts": 1}},
 "grid": {"learningRate": [0.003, 0.03], "seed": [1, 2]}}
J
$SC init
$SC sweep spec.json >ids 2>/dev/null
assert_eq 4 "$(wc -l <ids)" "jobs submitted"
bad=$(echo '{"scriptName": "nn.py", "dataFileName": "wine_data.csv", "dependentVariable": "alcohol",
  "epochs": 2, "slowLearningRate": 0.001, "spool": {"maxAttempts": 3}}' | $SC submit)
"$BIN/runner" --spool "$SPOOL_DIR" --scripts "$SCRIPTS" --name t-nn --slots 2 --drain \
	--workdir "$TESTDIR/work" 2>runner.log || fail "runner exited $?: $(tail -n 5 runner.log)"
$SC top --sweep nn-small --limit 0 --json >board.json
python3 - <<'EOF' || fail "leaderboard: $(head -c 3000 board.json)"
import json
b = json.load(open("board.json"))
assert b["counts"]["done"] == 4, b["counts"]
rows = b["rows"]
assert len(rows) == 4
outs = [r["outcome"] for r in rows]
for o in outs:
    assert o["status"] == 200, o
# ranked by loss, which is the validation MSE, lowest first
assert [r["value"] for r in rows] == [o["loss"] for o in outs] == sorted(o["loss"] for o in outs)
# one split for the whole sweep: the same test rows, the same baselines
assert len({o["splitDigest"] for o in outs}) == 1, [o["splitDigest"] for o in outs]
assert len({o["baselineMeanTestLoss"] for o in outs}) == 1
best = outs[0]
assert best["testLoss"] < best["baselineMeanTestLoss"], \
    ("the best run by validation does not beat the mean predictor on test", best)
print("best by validation: loss %g testLoss %g; mean predictor %g, ridge %g on test"
      % (best["loss"], best["testLoss"], best["baselineMeanTestLoss"], best["baselineRidgeTestLoss"]))
EOF
$SC show "$bad" --json >bad.json
python3 - <<'EOF' || fail "the refused job: $(head -c 2000 bad.json)"
import json
d = json.load(open("bad.json"))
assert d["order"]["state"] == "failed", d["order"]
assert d["outcome"]["output"]["status"] == 400, d["outcome"]
assert d["outcome"]["output"]["error"].startswith("slowLearningRate is 0.001"), d["outcome"]
assert d["outcome"]["_run"]["attempt"] == 1, "a 400 was retried"
EOF
echo ok
