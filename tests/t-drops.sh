#!/usr/bin/env bash
# Drops: job files people write straight into new/ (by hand, by a plain,
# non-atomic cp). A file written slowly is never taken before it is complete;
# an invalid one (the seed article's sample job, with its trailing comma) goes
# to rejected/ with a .why note once it has been still for the settle time;
# valid ones become jobs; nothing is lost, nothing is taken twice, dot-files
# are never touched.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
export SPOOL_SETTLE_MS=800	# an unparsable drop must be still this long to be rejected

# The seed article's sample job (seed/000_d18ed6a90533d82f.txt, "样本对象"),
# ObjectId("...") made a string, its trailing comma kept: not valid JSON.
SEED_JOB='{  "_id"  :  "5bcc93d67f0b3f4844c87c79",  "hiddenLayers"  :  [  {  "activation"  :  "relu",  "widthModifier"  :  4,  "dropout"  :  0.2  },  {  "activation"  :  "relu",  "widthModifier"  :  2.3,  "dropout"  :  0.2  },  {  "activation"  :  "relu",  "widthModifier"  :  1.3,  "dropout"  :  0.2  }  ],  "dataFileName"  :  "wine_data.csv",  "scriptName"  :  "nn.py",  "projectName"  :  "wine_data",  "depedentVariable"  :  "con_lot",  "crossValidateOnly"  :  true,  "crossValidationCrossingType"  :  "neg_mean_squared_error",  "batchSize"  :  100000,  "epochs"  :  3000,  "patienceRate"  :  0.05,  "slowLearningRate"  :  0.01,  "loss"  :  "mse",  "pcaComponents"  :  -1,  "extraTreesKeepThreshd"  :  0,  "saveWeightsOnlyAtEnd"  :  false,  "optimizer"  :  "rmsprop",  "lastLayerActivator"  :  "",  "learningRate"  :  0.05,  "l1"  :  0.1,  "l2"  :  0.1,  "minDependentVarValue"  :  0,  "maxDependentVarValue"  :  1500,  "scalerType"  :  "standard",  }'

$SC init
new=$SPOOL_DIR/new

# --- a file written slowly, a byte every 50 ms ----------------------------------
slow='{"scriptName":"nn.py","learningRate":0.05,"epochs":3000,"note":"slow"}'
(
	for ((i = 0; i < ${#slow}; i++)); do
		printf '%s' "${slow:i:1}" >>"$new/slow.json"
		sleep 0.05
	done
	touch writer.done
) &
PIDS+=($!)
rounds=0
while [ ! -e writer.done ]; do
	$SC ingest >>ingest.log
	rounds=$((rounds + 1))
	sleep 0.1
done
echo "ingest ran $rounds times while slow.json was being written"
[ "$rounds" -ge 5 ] || fail "ingest ran only $rounds times during the slow write"
! grep -q '^rejected slow.json' ingest.log || fail "slow.json rejected while being written: $(cat ingest.log)"
grep -q '^waiting slow.json' ingest.log || fail "ingest never said it waits for slow.json: $(cat ingest.log)"
# once complete it is taken, whole (perhaps already, by the last rounds)
ingest_until() {	# ingest_until WORD FILE: run ingest until it says WORD FILE
	local i
	for i in $(seq 1 100); do
		$SC ingest >>ingest.log
		grep -q "^$1 $2[ :]" ingest.log && return 0
		sleep 0.05
	done
	fail "ingest never said '$1 $2': $(cat ingest.log)"
}
ingest_until ingested slow.json
id=$(sed -n 's/^ingested slow.json \([0-9a-f]*\)$/\1/p' ingest.log)
assert_match '^[0-9a-f]{24}$' "$id" "slow.json's id"
job=$($SC show "$id" --json)
assert_eq "slow 3000 new" "$(echo "$job" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["job"]["note"], d["job"]["epochs"], d["order"]["state"])')" "the slow drop, whole, as a job"
[ ! -e "$new/slow.json" ] || fail "slow.json still in new/ after ingest"

# --- the seed's sample job: invalid (trailing comma) ----------------------------
printf '%s\n' "$SEED_JOB" >seed-job.json
cp seed-job.json "$new/seed-job.json"
$SC ingest >first.log
grep -q '^waiting seed-job.json' first.log || fail "an invalid drop was judged at once, before it settled: $(cat first.log)"
start=$(date +%s%N)
ingest_until rejected seed-job.json
waited=$(( ($(date +%s%N) - start) / 1000000 ))
echo "rejected after ${waited} ms: $(grep '^rejected seed-job.json' ingest.log)"
rej=$SPOOL_DIR/rejected
# rejected/STAMP.NAME, the file as dropped, beside STAMP.why, the note
kept=$(ls "$rej" | grep '\.seed-job\.json$' || true)
[ -n "$kept" ] || fail "rejected/ does not hold seed-job.json: $(ls -a "$rej")"
cmp -s seed-job.json "$rej/$kept" || fail "the rejected file is not the dropped file, byte for byte"
why=$(cat "$rej/${kept%%.*}.why" 2>/dev/null || true)
[ -n "$why" ] || fail "no note rejected/${kept%%.*}.why: $(ls -a "$rej")"
echo "why: $why"
assert_match 'trailing comma' "$why" "the note says why"
assert_match 'seed-job.json' "$why" "the note names the file"
[ ! -e "$new/seed-job.json" ] || fail "seed-job.json still in new/"

# the same job without the comma is a job (and keeps the user's keys)
printf '%s\n' "$SEED_JOB" | sed 's/, *}[[:space:]]*$/}/' >"$new/seed-fixed.json"
ingest_until ingested seed-fixed.json
fid=$(sed -n 's/^ingested seed-fixed.json \([0-9a-f]*\)$/\1/p' ingest.log)
assert_eq "nn.py wine_data.csv 3" "$($SC show "$fid" --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["job"]; print(d["scriptName"], d["dataFileName"], len(d["hiddenLayers"]))')" "the fixed seed job"

# a drop that is JSON but not a job is rejected at once, with the reason
echo '{"hiddenLayers":[]}' >"$new/noscript.json"
ingest_until rejected noscript.json
kept=$(ls "$rej" | grep '\.noscript\.json$')
assert_match 'scriptName' "$(cat "$rej/${kept%%.*}.why")" "why a job without scriptName was rejected"

# --- many drops, three ingesters at once: each taken once, none lost ----------
for i in $(seq 1 40); do printf '{"scriptName":"nn.py","i":%d}' "$i" >"$TESTDIR/d$i.json"; done
echo 'not for us' >"$new/.hidden"
for i in $(seq 1 40); do cp "$TESTDIR/d$i.json" "$new/d$i.json"; done
: >many.log
for k in 1 2 3; do $SC ingest >>"many.$k" 2>"many.$k.err" & PIDS+=($!); pids[$k]=$!; done
for k in 1 2 3; do wait "${pids[$k]}" || fail "ingester $k failed: $(cat "many.$k.err")"; done
cat many.1 many.2 many.3 >many.log
grep -v '^ingested ' many.log | grep -v '^waiting' | grep -q . && fail "unexpected ingest output: $(cat many.log)"
# what was still waiting (a cp not yet settled) is taken by a later run
for i in $(seq 1 50); do
	ls "$new" | grep -q '^d[0-9]*\.json$' || break
	$SC ingest >>many.log; sleep 0.05
done
assert_eq 40 "$(grep -c '^ingested d' many.log)" "every drop ingested"
assert_eq 40 "$(awk '$1 == "ingested" { print $2 }' many.log | sort -u | wc -l)" "each drop ingested once"
assert_eq 40 "$(awk '$1 == "ingested" { print $3 }' many.log | sort -u | wc -l)" "each drop got its own id"
[ -e "$new/.hidden" ] || fail "a dot-file in new/ was touched"
assert_eq "$(cat "$new/.hidden")" "not for us" "dot-file untouched"
ls "$new" | grep -v '^\.' | while read -r f; do
	python3 -c 'import sys; p=sys.argv[1].split("."); sys.exit(0 if len(p) >= 6 and len(p[3]) == 24 else 1)' "$f" ||
		fail "new/ still holds a drop: $f"
done
assert_eq 42 "$($SC ls | awk '$1 == "new" { print $2 }')" "orders in new: 40 drops, slow.json, the fixed seed job"
python3 "$TOP/tests/spoolcheck.py" "$SPOOL_DIR" --quiet || fail "spool not sound"
$SC fsck
echo ok
