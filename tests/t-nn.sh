#!/usr/bin/env bash
# runner/scripts/nn.py, the example training script: its outcome line, that
# training trains, cross-validation, and the clear error outcomes of bad jobs.
# Small jobs (few epochs, narrow layers) keep the whole file to a few seconds.
source "$TOP/tests/lib.sh"

NN=$TOP/runner/scripts/nn.py
EXAMPLES=$TOP/runner/scripts/examples

# nn JOB [ENV...]: run the script with the job as its argument, as the runner
# does; stdout in out, stderr in err, the exit status in RC.
nn() {
	local job=$1; shift
	set +e
	env "$@" python3 "$NN" "$job" >out 2>err
	RC=$?
	set -e
}

# field KEY: the outcome's KEY (the last stdout line, which must be JSON),
# printed as JSON.
field() {
	tail -n 1 out | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert isinstance(o, dict), "outcome is not an object"
print(json.dumps(o.get(sys.argv[1])))' "$1" || fail "last line is not a JSON outcome: $(tail -n 1 out)"
}

# A small job: two narrow layers, a handful of epochs.
job() {
	printf '{"_id": "t-1", "dataFileName": "wine_data.csv", "dependentVariable": "alcohol",
	  "hiddenLayers": [{"activation": "tanh", "widthModifier": 1, "dropout": 0},
	                   {"activation": "relu", "widthModifier": 0.5, "dropout": 0.1}],
	  "batchSize": 32, "seed": 3 %s}' "$1"
}

# --- a small job gives a valid outcome, with progress lines before it
nn "$(job ', "epochs": 20')"
assert_eq 0 "$RC" "exit status of a good job: $(cat err)"
assert_eq 200 "$(field status)" "status"
assert_eq '"t-1"' "$(field jobId)" "jobId from _id"
assert_eq 20 "$(field epochs)" "epochs run"
for k in loss metric trainLoss; do
	assert_match '^[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$' "$(field $k)" "$k is a number"
done
assert_match 'epoch 10/20 train_mse' "$(cat out)" "progress lines"
[ "$(wc -l <out)" -ge 3 ] || fail "expected progress lines before the outcome"

# --- the same job and seed give the same numbers; another seed does not
loss1=$(field loss)
nn "$(job ', "epochs": 20')"
assert_eq "$loss1" "$(field loss)" "same seed, same loss"
nn "$(job ', "epochs": 20, "seed": 4')"
[ "$(field loss)" != "$loss1" ] || fail "another seed gave the very same loss"

# --- backpropagation agrees with finite differences, for every activation
python3 "$TOP/tests/nn-gradcheck.py" "$NN" >gradcheck || fail "gradient check: $(cat gradcheck)"

# --- more epochs give a lower training loss, whatever the optimizer
for opt in adam rmsprop sgd; do
	nn "$(job ", \"epochs\": 2, \"optimizer\": \"$opt\"")"
	few=$(field trainLoss)
	nn "$(job ", \"epochs\": 60, \"optimizer\": \"$opt\"")"
	many=$(field trainLoss)
	python3 -c "import sys; sys.exit(not $many < $few * 0.8)" \
		|| fail "$opt: 60 epochs should train better than 2: trainLoss $many vs $few"
done

# --- early stopping stops before the epochs run out, and says so
nn "$(job ', "epochs": 500, "patienceRate": 0.5, "patience": 3')"
assert_eq 200 "$(field status)" "status with early stopping"
assert_eq true "$(field stoppedEarly)" "stoppedEarly"
python3 -c "import sys; sys.exit(not $(field epochs) < 500)" || fail "no early stop"

# --- cross-validation: one loss per fold, and loss is their mean
nn "$(job ', "epochs": 5, "crossValidateOnly": true, "crossValidationFolds": 3, "scalerType": "minmax"')"
assert_eq 0 "$RC" "exit status of a cross-validation job: $(cat err)"
tail -n 1 out | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["status"] == 200, o
assert len(o["foldLosses"]) == 3 == len(o["foldMetrics"]) == o["folds"], o
mean = sum(o["foldLosses"]) / 3
assert abs(o["loss"] - mean) <= 1e-4 * mean, (o["loss"], mean)
' || fail "cross-validation outcome: $(tail -n 1 out)"
assert_match 'fold 3/3: ' "$(cat out)" "per-fold progress"

# --- the job on stdin, when there is no argument; the seed's misspelling
set +e
job ', "epochs": 3, "optimizer": "rmsprop"' | python3 "$NN" >out 2>err
RC=$?
set -e
assert_eq 0 "$RC" "exit status, job on stdin: $(cat err)"
assert_eq 200 "$(field status)" "status, job on stdin"
nn '{"jobId": "t-2", "dataFileName": "wine_data.csv", "depedentVariable": "proline", "epochs": 3, "optimizer": "sgd"}'
assert_eq 200 "$(field status)" "status with depedentVariable: $(cat err)"
assert_eq '"t-2"' "$(field jobId)" "jobId from jobId"
assert_eq '"proline"' "$(field dependentVariable)" "dependent variable"

# --- the shipped example job works
nn "$(cat "$EXAMPLES/wine-job.json")"
assert_eq 0 "$RC" "example job: $(cat err)"
assert_eq 200 "$(field status)" "example job status"

# --- $SPOOL_DATA_DIR names the data directory
mkdir data
printf 'x,z,y\n1,0,2\n2,1,4\n3,0,6\n4,1,8\n5,0,10\n6,1,12\n7,0,14\n8,1,16\n9,0,18\n10,1,20\n' >data/line.csv
nn '{"_id": "t-3", "dataFileName": "line.csv", "dependentVariable": "y", "independentVariables": ["x"], "hiddenLayers": [], "epochs": 300, "batchSize": 4, "learningRate": 0.05}' \
	SPOOL_DATA_DIR="$TESTDIR/data"
assert_eq 200 "$(field status)" "status with SPOOL_DATA_DIR: $(cat err)"
python3 -c "import sys; sys.exit(not $(field loss) < 0.05)" || fail "a line should fit: $(tail -n 1 out)"

# --- bad jobs: a clear outcome line, the right status and exit code
# bad_job STATUS EXIT ERROR-REGEX JOB: the job must fail just so.
bad_job() {
	nn "$4" SPOOL_DATA_DIR="${DATA_DIR:-$TOP/data}"
	assert_eq "$2" "$RC" "exit status for $4"
	assert_eq "$1" "$(field status)" "status for $4"
	assert_match "$3" "$(field error)" "error for $4"
	grep -q Traceback err && fail "a bad job printed a traceback: $(cat err)"
	return 0
}
seed=$(cat "$EXAMPLES/seed-job.json")
bad_job 400 2 'dependent variable \\"con_lot\\" is not a column' "$seed"
assert_eq '"5bcc93d67f0b3f4844c87c79"' "$(field jobId)" "seed job's id"
# The seed's sample as printed, with its trailing comma: not JSON, id still found.
bad_job 400 2 'not valid JSON' "${seed%\}}, }"
assert_eq '"5bcc93d67f0b3f4844c87c79"' "$(field jobId)" "id of a job that is not JSON"
bad_job 400 2 'not valid JSON' '{"_id": "t-4", "epochs": NaN}'
bad_job 400 2 'must be a JSON object' '[1, 2]'
bad_job 400 2 'data file \\"nope.csv\\" not found' '{"dataFileName": "nope.csv", "dependentVariable": "alcohol"}'
bad_job 400 2 "without '/' or '..'" '{"dataFileName": "../data/wine_data.csv", "dependentVariable": "alcohol"}'
bad_job 400 2 "without '/' or '..'" '{"dataFileName": "/etc/passwd", "dependentVariable": "alcohol"}'
bad_job 400 2 'dependentVariable is missing' '{"dataFileName": "wine_data.csv"}'
bad_job 400 2 'independent variable \\"colour\\" is not a column' \
	'{"dataFileName": "wine_data.csv", "dependentVariable": "alcohol", "independentVariables": ["colour"]}'
bad_job 400 2 'hiddenLayers\[1\]\.activation must be one of relu, tanh, sigmoid, linear, elu' \
	'{"dataFileName": "wine_data.csv", "dependentVariable": "alcohol", "hiddenLayers": [{"activation": "relu"}, {"activation": "swish"}]}'
bad_job 400 2 'optimizer must be one of sgd, rmsprop, adam' "$(job ', "optimizer": "lbfgs"')"
bad_job 400 2 'epochs must be at least 1' "$(job ', "epochs": 0')"
bad_job 400 2 'learningRate must be a number' "$(job ', "learningRate": "fast"')"
bad_job 400 2 'hiddenLayers\[0\]\.dropout must be at most' \
	'{"dataFileName": "wine_data.csv", "dependentVariable": "alcohol", "hiddenLayers": [{"dropout": 1}]}'
bad_job 400 2 'training diverged' "$(job ', "optimizer": "sgd", "learningRate": 10, "epochs": 50')"
printf 'a,b\n1,2\n3,x\n' >data/bad.csv
DATA_DIR=$TESTDIR/data bad_job 400 2 'bad.csv line 3: not all numbers' '{"dataFileName": "bad.csv", "dependentVariable": "a"}'

# --- an unexpected failure still ends with an outcome line, status 500, exit 1
set +e
python3 - "$NN" >out 2>err <<'EOF'
import importlib.util, sys
sys.dont_write_bytecode = True
spec = importlib.util.spec_from_file_location("nn", sys.argv[1])
nn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nn)
def broken(*args):
    raise RuntimeError("disk on fire")
nn.load_csv = broken
sys.exit(nn.main(["nn.py", '{"_id": "t-5", "dataFileName": "wine_data.csv", "dependentVariable": "alcohol"}'],
                 sys.stdin, {}))
EOF
RC=$?
set -e
assert_eq 1 "$RC" "exit status of an unexpected error"
assert_eq 500 "$(field status)" "status of an unexpected error"
assert_eq '"t-5"' "$(field jobId)" "jobId of an unexpected error"
assert_match 'RuntimeError: disk on fire' "$(field error)" "error of an unexpected error"
grep -q Traceback err || fail "the traceback should go to stderr"

echo "nn.py: all good"
