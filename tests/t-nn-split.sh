#!/usr/bin/env bash
# nn.py's train / validation / test split, from real runs: the parts are
# disjoint and fixed by splitSeed alone (another weights' seed trains other
# weights on the same rows); loss is the validation MSE and the test rows
# change nothing but the test figures; k-fold cross-validation gives k fold
# figures on folds of the non-test rows. The rows are read from the log.
source "$TOP/tests/lib.sh"

NN=${NN:-$TOP/runner/scripts/nn.py}
mkdir data
cp "$TOP/data/wine_data.csv" data/
export SPOOL_DATA_DIR=$TESTDIR/data

# nn NAME JOB: run the script; stdout in NAME.out, the outcome in NAME.json.
nn() {
	set +e
	python3 "$NN" "$2" >"$1.out" 2>"$1.err"
	local rc=$?
	set -e
	[ "$rc" = 0 ] || fail "$1: exit $rc: $(tail -n 3 "$1.err") $(tail -n 1 "$1.out")"
	tail -n 1 "$1.out" >"$1.json"
}
# job EXTRA [DATAFILE]: a small job on the wine data (or DATAFILE's).
job() {
	printf '{"_id": "s", "dataFileName": "%s", "dependentVariable": "alcohol",
	  "hiddenLayers": [{"activation": "tanh", "widthModifier": 0.5}],
	  "epochs": 15, "batchSize": 16 %s}' "${2:-wine_data.csv}" "$1"
}

# --- the parts: disjoint, all rows, fixed by splitSeed, not by seed
nn a "$(job ', "seed": 3, "splitSeed": 7')"
nn b "$(job ', "seed": 4, "splitSeed": 7')"
nn c "$(job ', "seed": 3, "splitSeed": 8')"
python3 - <<'EOF' || fail "split check"
import json
def parts(name):
    test = val = None
    for line in open(name + ".out"):
        if line.startswith("split (splitSeed "):
            test = [int(v) for v in line.split(": test rows ")[1].split()]
        elif line.startswith("validation rows "):
            val = [int(v) for v in line.split("validation rows ")[1].split()]
    o = json.loads(open(name + ".json").read())
    return set(test), set(val), o
ta, va, a = parts("a")
tb, vb, b = parts("b")
tc, vc, c = parts("c")
n = 178
assert not ta & va, "test and validation rows overlap"
assert len(ta) == a["testRows"] == round(0.2 * n), (len(ta), a["testRows"])
assert len(va) == a["validationRows"] == round(0.2 * n), (len(va), a["validationRows"])
assert a["trainRows"] == n - len(ta) - len(va), a["trainRows"]
assert ta | va <= set(range(1, n + 1))
# another weights' seed: the same rows, other weights
assert (ta, va) == (tb, vb), "seed changed the split"
assert a["splitDigest"] == b["splitDigest"]
assert a["loss"] != b["loss"] and a["trainLoss"] != b["trainLoss"], "seed 3 and 4 trained the same weights"
# the baselines see only the rows, not the weights: equal for a and b
for k in ("baselineMeanLoss", "baselineMeanTestLoss", "baselineRidgeLoss", "baselineRidgeTestLoss"):
    assert a[k] == b[k], (k, a[k], b[k])
# another split seed: other rows
assert ta != tc and va != vc and a["splitDigest"] != c["splitDigest"]
EOF

# --- the mean predictor's figures, recomputed here from the logged rows
python3 - <<'EOF' || fail "the logged rows are not the ones scored"
import csv, json
rows = list(csv.reader(open("data/wine_data.csv")))[1:]
y = {i + 1: float(r[0]) for i, r in enumerate(rows)}
test = val = None
for line in open("a.out"):
    if line.startswith("split (splitSeed "):
        test = [int(v) for v in line.split(": test rows ")[1].split()]
    elif line.startswith("validation rows "):
        val = [int(v) for v in line.split("validation rows ")[1].split()]
train = [i for i in y if i not in test and i not in val]
m = sum(y[i] for i in train) / len(train)
def mse(idx): return sum((y[i] - m) ** 2 for i in idx) / len(idx)
o = json.loads(open("a.json").read())
for key, want in (("baselineMeanLoss", mse(val)), ("baselineMeanTestLoss", mse(test))):
    assert abs(o[key] - want) <= 1e-5 * want, (key, o[key], want)
EOF

# --- the test rows change the test figures only: the same job on a copy of
# the data whose test rows' target is moved by 5 (early stopping on, so
# stopping is shown not to look at them either)
python3 - <<'EOF'
import csv
test = [int(v) for v in next(l for l in open("a.out") if l.startswith("split (")).split(": test rows ")[1].split()]
val = [int(v) for v in next(l for l in open("a.out") if l.startswith("validation rows ")).split("rows ")[1].split()]
for name, rows_to_move in (("test-moved.csv", test), ("val-moved.csv", val)):
    rows = list(csv.reader(open("data/wine_data.csv")))
    for i in rows_to_move:
        rows[i][0] = "%.6g" % (float(rows[i][0]) + 5)
    csv.writer(open("data/" + name, "w", newline="")).writerows(rows)
EOF
early=', "seed": 3, "splitSeed": 7, "epochs": 40, "patienceRate": 0.02, "patience": 3'
nn e "$(job "$early")"
nn et "$(job "$early" test-moved.csv)"
noearly=', "seed": 3, "splitSeed": 7'
nn ev "$(job "$noearly" val-moved.csv)"
python3 - <<'EOF' || fail "test rows leak into training or ranking"
import json
load = lambda n: json.loads(open(n + ".json").read())
e, et, a, ev = load("e"), load("et"), load("a"), load("ev")
# moving the test rows: every training and validation figure the same
for k in ("loss", "metric", "trainLoss", "epochs", "stoppedEarly", "baselineMeanLoss",
          "baselineRidgeLoss", "baselineRidgeAlpha", "splitDigest"):
    assert e[k] == et[k], ("moving the test rows changed " + k, e[k], et[k])
assert et["testLoss"] > e["testLoss"] + 10, ("test rows moved by 5, testLoss barely moved", e["testLoss"], et["testLoss"])
assert et["baselineMeanTestLoss"] > e["baselineMeanTestLoss"] + 10
# moving the validation rows (no early stopping): loss moves, the network and its test figure do not
assert ev["loss"] > a["loss"] + 10, ("loss is not the validation MSE", a["loss"], ev["loss"])
for k in ("testLoss", "testMetric", "trainLoss"):
    assert ev[k] == a[k], ("moving the validation rows changed " + k, a[k], ev[k])
EOF

# --- k-fold: k fold figures, folds of the non-test rows, the same test rows
nn k "$(job ', "seed": 3, "splitSeed": 7, "epochs": 5, "crossValidateOnly": true, "crossValidationFolds": 3, "crossValidationCrossingType": "neg_mean_squared_error"')"
python3 - <<'EOF' || fail "k-fold outcome: $(cat k.json)"
import json
o = json.loads(open("k.json").read())
test = folds = None
folds = []
for line in open("k.out"):
    if line.startswith("split (splitSeed "):
        test = set(int(v) for v in line.split(": test rows ")[1].split())
    elif line.startswith("fold ") and " validation rows " in line:
        folds.append(set(int(v) for v in line.split("validation rows ")[1].split()))
a_test = set(int(v) for v in next(l for l in open("a.out") if l.startswith("split (")).split(": test rows ")[1].split())
assert test == a_test, "cross-validation tests on other rows than the holdout"
assert len(folds) == 3 == o["folds"]
assert not (folds[0] & folds[1] or folds[0] & folds[2] or folds[1] & folds[2] or test & set().union(*folds))
assert test | set().union(*folds) == set(range(1, 179)), "folds and test do not cover the rows"
for k in ("foldLosses", "foldMetrics", "foldTestLosses", "foldTrainLosses", "foldEpochs"):
    assert len(o[k]) == 3, (k, o[k])
for k, folds_k in (("loss", "foldLosses"), ("testLoss", "foldTestLosses")):
    mean = sum(o[folds_k]) / 3
    assert abs(o[k] - mean) <= 1e-4 * mean, (k, o[k], mean)
assert len(set(o["foldLosses"])) == 3, "three folds, one figure"
assert o["testRows"] == len(test) and o["validationRows"] == len(folds[0])
EOF
assert_match 'fold 3/3: validation mse' "$(cat k.out)" "per-fold progress"
echo ok
