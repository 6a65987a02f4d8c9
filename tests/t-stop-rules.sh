#!/usr/bin/env bash
# Early stopping, the threshold rule and bad input, with the real programs.
# A job whose loss stays above its threshold is pruned at the first step
# from "after" on (done, its outcome says so); one below it runs to its
# end; a metrics line whose step is not a number is ignored by the rule
# without harm (its huge loss would otherwise prune the run). Remote
# (through spoold) and local. Bad rules are refused at submit: 400 from
# the boss, exit 1 from spoolctl, with a message naming the member.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
mkdir scripts
cat >scripts/flat.py <<'S'
import json, sys, time
job = json.loads(sys.argv[1])
for k in range(job["steps"]):
    if job.get("junk"):
        print(json.dumps({"step": "step-%d" % k, "loss": 1e9}), flush=True)
    print(json.dumps({"epoch": k, "loss": job["loss"]}), flush=True)
    time.sleep(0.02)
print(json.dumps({"status": 200, "loss": job["loss"]}))
S
job() {	# job LOSS JUNK
	echo "{\"scriptName\": \"flat.py\", \"steps\": 12, \"loss\": $1, \"junk\": $2,
	       \"spool\": {\"stop\": {\"rule\": \"threshold\", \"key\": \"loss\", \"value\": 2.0, \"after\": 4}}}"
}

# ---- bad input, at the boss and at spoolctl
start_spoold "$TESTDIR/sp"
post() { curl -s -o resp -w '%{http_code}' -X POST --data-binary "$1" "$URL/v1/jobs"; }
assert_eq 400 "$(post '{"scriptName": "flat.py", "sweep": "s", "spool": {"stop": {"rule": "mean", "key": "loss"}}}')" "unknown rule"
assert_match 'stop.*rule.*must be .*median.*threshold.*mean' "$(cat resp)" "unknown rule's message"
assert_eq 400 "$(post '{"scriptName": "flat.py", "spool": {"stop": {"rule": "threshold", "key": "loss", "value": "two"}}}')" "non-numeric value"
assert_match 'stop.*value.*must be a finite number' "$(cat resp)" "value's message"
assert_eq 400 "$(post '{"scriptName": "flat.py", "sweep": "s", "spool": {"stop": {"rule": "median", "key": "loss", "warmup": "5"}}}')" "non-numeric warmup"
assert_eq 400 "$(post '{"scriptName": "flat.py", "sweep": "s", "spool": {"stop": {"rule": "median", "key": "loss", "minRuns": 0}}}')" "minRuns 0"
assert_eq 400 "$(post '{"scriptName": "flat.py", "sweep": "s", "spool": {"stop": {"rule": "median", "key": "loss", "patience": 3}}}')" "unknown member"
assert_match 'unknown member .*patience' "$(cat resp)" "unknown member's message"
assert_eq 400 "$(post '{"scriptName": "flat.py", "spool": {"stop": {"rule": "median", "key": "loss"}}}')" "median without a sweep"
assert_match 'needs a .*sweep' "$(cat resp)" "median without a sweep: message"
assert_eq 400 "$(post '{"scriptName": "flat.py", "spool": {"stop": {"rule": "threshold", "value": 1}}}')" "no key"
assert_eq 0 "$(curl -s "$URL/v1/stats" | pyget 'sum(d["orders"].values())')" "nothing stored"
echo '{"name": "x", "base": {"scriptName": "flat.py"}, "stop": {"rule": "threshold", "key": "loss", "value": "NaN"}}' >bad.json
assert_exit 1 $SC --spool "$TESTDIR/sp" sweep bad.json
assert_match '"stop": "spool"."stop"."value" must be a finite number' "$($SC --spool "$TESTDIR/sp" sweep bad.json 2>&1 || true)" "sweep's message"
job 3 false >j.json
sed 's/"threshold"/"thresold"/' j.json >j2.json
assert_exit 1 $SC --spool "$TESTDIR/sp" submit j2.json

# ---- remote: over the threshold is pruned, under it is not, junk is ignored
ids=""
for spec in "3 false" "1 false" "1 true"; do
	job $spec >j.json
	ids="$ids $(curl -s -X POST --data-binary @j.json "$URL/v1/jobs" | pyget 'd["ids"][0]')"
done
"$BIN/runner" --boss "$URL" --scripts scripts --drain --name rem --outbox ob 2>remote.log ||
	fail "runner exited $?: $(tail -5 remote.log)"
set -- $ids
o=$(curl -s "$URL/v1/outcomes/$1")
assert_eq "threshold 4 3 2" "$(pyget 'd["pruned"]["rule"], d["pruned"]["step"], d["pruned"]["value"], d["pruned"]["threshold"]' <<<"$o" | tr -d '(),'"'" | sed 's/\.0\b//g')" "pruned outcome"
assert_eq "done 1" "$(curl -s "$URL/v1/orders/$1" | pyget 'd["state"], d["attempt"]' | tr -d '(),'"'")" "pruned order"
for id in $2 $3; do
	o=$(curl -s "$URL/v1/outcomes/$id")
	assert_eq "False 1" "$(pyget '"pruned" in d, d["loss"]' <<<"$o" | tr -d '(),'"'")" "$id ran to its end"
done
assert_match 'metrics line with a step or epoch that is not a number' "$(cat remote.log)" "the junk was noted"
b=$(curl -s "$URL/v1/leaderboard")
assert_eq "2 1 2" "$(pyget 'd["counts"]["done"], d["counts"]["pruned"], len(d["rows"])' <<<"$b")" "leaderboard without a sweep"

# ---- local: the same jobs on a spool of their own
export SPOOL_DIR=$TESTDIR/sp2
$SC init >/dev/null
for spec in "3 false" "1 true"; do job $spec >j.json; $SC submit j.json >/dev/null; done
"$BIN/runner" --spool "$SPOOL_DIR" --scripts scripts --drain --name loc 2>local.log ||
	fail "local runner exited $?: $(tail -5 local.log)"
b=$($SC top --json --pruned)
assert_eq "1 1" "$(pyget 'd["counts"]["done"], d["counts"]["pruned"]' <<<"$b")" "local counts"
assert_eq "[1, 3]" "$(pyget 'sorted(r["value"] for r in d["rows"])' <<<"$b" | sed 's/\.0//g')" "local rows with --pruned"
assert_match '\(pruned\)' "$($SC top --pruned)" "top marks the pruned row"
echo ok
