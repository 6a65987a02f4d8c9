#!/usr/bin/env bash
# The seed's job keys nn.py used to ignore, from real runs: pcaComponents
# reduces the network's inputs to that many principal components (and on
# data made for it, the first component is the right one); the dependent
# variable's bounds clip every prediction; each key nn.py does not implement
# is refused with a 400 that names it, and the seed's "off" values pass.
source "$TOP/tests/lib.sh"

NN=${NN:-$TOP/runner/scripts/nn.py}
mkdir data
cp "$TOP/data/wine_data.csv" data/
export SPOOL_DATA_DIR=$TESTDIR/data

# nn JOB: run the script; stdout in out, stderr in err, exit status in RC.
nn() {
	set +e
	python3 "$NN" "$1" >out 2>err
	RC=$?
	set -e
}
field() {
	tail -n 1 out | python3 -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.read()).get(sys.argv[1])))' "$1" ||
		fail "last line is not a JSON outcome: $(tail -n 1 out)"
}
ok() { [ "$RC" = 0 ] || fail "$1: exit $RC: $(tail -n 2 err) $(tail -n 1 out)"; }
job() {
	printf '{"_id": "f", "dataFileName": "wine_data.csv", "dependentVariable": "alcohol",
	  "hiddenLayers": [{"activation": "tanh", "widthModifier": 2}],
	  "epochs": 5, "batchSize": 32 %s}' "$1"
}

# --- PCA: the network has as many inputs as components asked
nn "$(job ', "pcaComponents": 3')"
ok "pcaComponents 3"
assert_eq 3 "$(field networkInputs)" "network inputs with pcaComponents 3"
assert_match 'network 3-6-1 ' "$(head -n 1 out)" "the network's shape (hidden layer 2 x 3 inputs)"
python3 -c "import sys; v = $(field pcaExplainedVariance); sys.exit(not 0 < v < 1)" ||
	fail "explained variance of 3 of 13 components: $(field pcaExplainedVariance)"
nn "$(job ', "pcaComponents": -1')"
ok "pcaComponents -1"
assert_eq 13 "$(field networkInputs)" "pcaComponents -1 (the seed's) is no PCA"
nn "$(job ', "pcaComponents": 14')"
assert_eq 400 "$(field status)" "more components than inputs"
assert_match 'pcaComponents \(14\) must be at most the number of inputs \(13\)' "$(field error)" "error"

# On data made for it: y is a function of t, three inputs are noisy copies of
# t, a fourth is noise. One component, the first, carries t: a ridge
# regression on it alone nearly fits, where one on the noise would not.
python3 - <<'EOF'
import random
r = random.Random(2)
with open("data/pca.csv", "w") as f:
    f.write("a,b,c,noise,y\n")
    for _ in range(120):
        t = r.uniform(-3, 3)
        f.write("%.6f,%.6f,%.6f,%.6f,%.6f\n" % (t + r.gauss(0, .05), -2 * t + r.gauss(0, .1),
                                                 5 + t + r.gauss(0, .05), r.gauss(0, 1), 3 * t))
EOF
nn '{"dataFileName": "pca.csv", "dependentVariable": "y", "pcaComponents": 1, "hiddenLayers": [], "epochs": 200, "batchSize": 8}'
ok "pca.csv"
assert_eq 1 "$(field networkInputs)" "one component"
python3 - "$(tail -n 1 out)" <<'EOF' || fail "the first component is not the signal: $(tail -n 1 out)"
import json, sys
o = json.loads(sys.argv[1])
assert o["pcaExplainedVariance"] > 0.7, o["pcaExplainedVariance"]
assert o["baselineRidgeTestLoss"] < 0.01 * o["baselineMeanTestLoss"], o
assert o["testLoss"] < 0.05 * o["baselineMeanTestLoss"], o     # the linear network, too
EOF

# --- the dependent variable's bounds: every prediction clipped into them.
# Bounds [20, 21] above every wine's alcohol: each prediction is 20, so each
# figure is that of predicting 20, recomputed here from the logged rows.
nn "$(job ', "minDependentVarValue": 20, "maxDependentVarValue": 21')"
ok "bounds"
assert_match 'predictions clipped to \[20, 21\]' "$(head -n 1 out)" "the bounds in the first line"
python3 - "$(tail -n 1 out)" <<'EOF' || fail "predictions not clipped: $(tail -n 1 out)"
import csv, json, sys
o = json.loads(sys.argv[1])
y = {i + 1: float(r[0]) for i, r in enumerate(list(csv.reader(open("data/wine_data.csv")))[1:])}
lines = open("out").read().splitlines()
test = [int(v) for v in next(l for l in lines if l.startswith("split (")).split(": test rows ")[1].split()]
val = [int(v) for v in next(l for l in lines if l.startswith("validation rows ")).split("rows ")[1].split()]
def close(a, b): return abs(a - b) <= 1e-5 * abs(b)
for key, idx, f in (("loss", val, lambda d: d * d), ("metric", val, abs),
                    ("testLoss", test, lambda d: d * d), ("testMetric", test, abs),
                    ("baselineMeanTestLoss", test, lambda d: d * d),
                    ("baselineRidgeTestLoss", test, lambda d: d * d)):
    want = sum(f(20 - y[i]) for i in idx) / len(idx)
    assert close(o[key], want), (key, o[key], want)
EOF
# One bound alone; within the data's range it lowers the worst predictions.
nn "$(job ', "maxDependentVarValue": 12')"
ok "max bound alone"
python3 - "$(tail -n 1 out)" <<'EOF' || fail "a max bound of 12: $(tail -n 1 out)"
import csv, json, sys
o = json.loads(sys.argv[1])
y = {i + 1: float(r[0]) for i, r in enumerate(list(csv.reader(open("data/wine_data.csv")))[1:])}
lines = open("out").read().splitlines()
test = [int(v) for v in next(l for l in lines if l.startswith("split (")).split(": test rows ")[1].split()]
# the mean predictor (about 13) is clipped to 12 as well
want = sum((12 - y[i]) ** 2 for i in test) / len(test)
assert abs(o["baselineMeanTestLoss"] - want) <= 1e-5 * want, (o["baselineMeanTestLoss"], want)
# no prediction above 12: the error on rows above 12 is at least y - 12
low = sum(max(0, y[i] - 12) for i in test) / len(test)
assert o["testMetric"] >= low - 1e-6, (o["testMetric"], low)
EOF
nn "$(job ', "minDependentVarValue": 5, "maxDependentVarValue": 5')"
assert_eq 400 "$(field status)" "equal bounds"
assert_match 'minDependentVarValue \(5\) must be below maxDependentVarValue \(5\)' "$(field error)" "bounds error"

# --- the keys nn.py does not implement: a 400 naming each, exit 2
refused() {
	nn "$(job ", $1")"
	assert_eq 2 "$RC" "exit status for $1"
	assert_eq 400 "$(field status)" "status for $1"
	assert_match "$2" "$(field error)" "error for $1"
}
refused '"extraTreesKeepThreshd": 0.1' '^"extraTreesKeepThreshd is 0.1, but nn.py has no feature selection by extra trees'
refused '"slowLearningRate": 0.01' '^"slowLearningRate is 0.01, but nn.py trains at one learningRate'
refused '"saveWeightsOnlyAtEnd": true' '^"saveWeightsOnlyAtEnd is true, but nn.py saves no weights'
refused '"saveWeightsOnlyAtEnd": false' '^"saveWeightsOnlyAtEnd is false, but nn.py saves no weights'
refused '"crossValidationCrossingType": "r2"' '^"crossValidationCrossingType is \\"r2\\", but folds are scored by their mean squared error'
refused '"slowLearningRate": 0.01, "extraTreesKeepThreshd": 1' 'extraTreesKeepThreshd is 1.*; slowLearningRate is 0.01'
# the seed's sample job: its missing column and both keys, in one answer
nn "$(cat "$TOP/runner/scripts/examples/seed-job.json")"
assert_eq 400 "$(field status)" "the seed's job"
assert_match '^"dependent variable \\"con_lot\\" is not a column.*; slowLearningRate is 0.01.*; saveWeightsOnlyAtEnd is false' \
	"$(field error)" "the seed's job names each problem"
# the "off" values of the seed pass
nn "$(job ', "extraTreesKeepThreshd": 0, "crossValidationCrossingType": "neg_mean_squared_error", "pcaComponents": -1, "minDependentVarValue": 0, "maxDependentVarValue": 1500')"
ok "the seed's off values"
assert_eq 200 "$(field status)" "status with the seed's off values"
[ -s err ] && fail "warnings for keys nn.py uses: $(cat err)"

# --- the linear algebra under PCA and the ridge baseline
python3 "$TOP/tests/nn_linalg.py" "$NN" >linalg || fail "linear algebra: $(cat linalg)"
echo ok
