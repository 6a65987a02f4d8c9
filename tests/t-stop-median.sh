#!/usr/bin/env bash
# Early stopping, the median rule, with the real programs: a sweep of a real
# Python script that prints {"step": k, "loss": ...} per step, half of its
# runs bad (a parameter adds 2 to their loss). One slot runs the sweep in
# its order (the good half first), so every bad run is judged against four
# finished good runs: each bad run is pruned after the warm-up, ends done
# (not failed, not retried) with a "pruned" outcome, and the leaderboard,
# spoolctl top and the sweep's summary say so. Once with a local runner on
# the spool, once with a remote runner through spoold.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
mkdir scripts
cat >scripts/curve.py <<'S'
import json, sys, time
job = json.loads(sys.argv[1])
bad = job.get("bad", 0)
loss = None
for k in range(job["steps"]):
    loss = (2.0 if bad else 0.0) + 1.0 / (k + 1)
    print(json.dumps({"step": k, "loss": loss, "lr": 0.1}), flush=True)
    time.sleep(job["pause"] if bad else job["goodPause"])
print(json.dumps({"status": 200, "loss": loss, "steps": job["steps"]}))
S

# sweep NAME PAUSE GOOD-PAUSE: the spec, 4 good then 4 bad runs of 20 steps,
# PAUSE s between the steps of a bad run, GOOD-PAUSE of a good one
spec() {
	cat <<J
{"name": "$1",
 "base": {"scriptName": "curve.py", "steps": 20, "pause": $2, "goodPause": $3, "spool": {"maxAttempts": 2}},
 "grid": {"bad": [0, 1], "seed": [1, 2, 3, 4]},
 "stop": {"rule": "median", "key": "loss", "mode": "min", "warmup": 5, "minRuns": 3}}
J
}

# check NAME SPOOLCTL-ARGS...: what a user looks at once the sweep is over
check() {
	local name=$1; shift
	local board ids id out
	board=$($SC "$@" top --sweep "$name" --json --limit 100)
	assert_eq "4 4 0 8" "$(pyget 'd["counts"]["done"], d["counts"]["pruned"], d["counts"]["failed"], d["total"]' <<<"$board")" "$name: done, pruned, failed, total"
	# ranked: the good runs only; with pruned=1 all, the bad ones marked
	assert_eq "0 0 0 0" "$(pyget '" ".join(str(r["job"]["bad"]) for r in d["rows"])' <<<"$board")" "$name: ranked runs"
	board=$($SC "$@" top --sweep "$name" --json --limit 100 --pruned)
	assert_eq "8 4" "$(pyget 'len(d["rows"]), sum(1 for r in d["rows"] if r.get("pruned") and r["job"]["bad"] == 1)' <<<"$board")" "$name: --pruned rows"
	# the summary: how much was saved
	assert_eq "4 4" "$(pyget 'd["saved"]["pruned"], d["saved"]["finished"]' <<<"$board")" "$name: saved counts"
	pyget 'd["saved"]["stepsSaved"] > 0 and d["saved"]["savedFraction"] > 0.2' <<<"$board" | grep -q True ||
		fail "$name: nothing saved: $(pyget 'd["saved"]' <<<"$board")"
	out=$($SC "$@" top --sweep "$name")
	assert_match "4/8 done, 0 running, 0 queued, 0 failed, 4 pruned" "$out" "$name: top's progress"
	assert_match "early stopping: 4 runs pruned; saved [0-9]+ steps \([0-9]+% of the sweep's\)" "$out" "$name: top's summary"
	# each bad run: done, one attempt, its outcome says why, with its last point
	ids=$(pyget '" ".join(r["id"] for r in d["rows"] if r["job"]["bad"] == 1)' <<<"$board")
	for id in $ids; do
		out=$($SC "$@" show "$id")
		assert_match '"state": ?"done"' "$out" "$name: $id state"
		assert_match '"attempt": ?1' "$out" "$name: $id attempt"
		echo "$board" | python3 -c "
import json, sys
d = json.load(sys.stdin)
r = [r for r in d['rows'] if r['id'] == '$id'][0]['outcome']
p = r['pruned']
assert p['rule'] == 'median' and p['key'] == 'loss', p
assert 5 <= p['step'] < 19, p
assert p['value'] > p['median'] and 3 <= p['runs'] <= 4, p
assert abs(p['median'] - 1.0 / (p['step'] + 1)) < 1e-9, p
assert r['step'] == p['step'] and r['loss'] == p['value'] and r['lr'] == 0.1, r
assert r['status'] == 200 and r['_run']['attempt'] == 1, r
" || fail "$name: outcome of $id: $(pyget '[r["outcome"] for r in d["rows"] if r["id"] == "'"$id"'"]' <<<"$board")"
	done
	echo "$ids"
}

# ---- local: the runner judges each point on the spool itself
export SPOOL_DIR=$TESTDIR/sp
$SC init >/dev/null
spec m-local 0.02 0.02 >local.json
$SC sweep local.json >/dev/null
"$BIN/runner" --spool "$SPOOL_DIR" --scripts scripts --slots 1 --drain --name loc 2>local.log ||
	fail "local runner exited $?: $(tail -5 local.log)"
ids=$(check m-local --spool "$SPOOL_DIR")
# judged at each point: stopped at the first step after the warm-up
for id in $ids; do
	assert_eq 5 "$($SC top --sweep m-local --json --limit 100 --pruned | pyget '[r["outcome"]["pruned"]["step"] for r in d["rows"] if r["id"] == "'"$id"'"][0]')" "local: $id pruned at step"
	assert_match "pruned by the median rule" "$($SC log "$id")" "local: $id log"
done
assert_eq 4 "$(grep -c 'pruned at step 5 (loss ' local.log)" "local runner's pruned lines"

# ---- remote: the runner asks the boss (GET /v1/orders/ID/stop)
unset SPOOL_DIR
start_spoold "$TESTDIR/sp2"
spec m-remote 0.15 0.01 >remote.json	# only a bad run must last to be judged
$SC sweep remote.json --boss "$URL" >/dev/null 2>&1
# bad input to the route
first=$($SC sweep remote.json --dry-run | awk 'NR == 1 {print $1}')
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/orders/$first/stop?step=abc&value=1")" "step=abc"
assert_match '"stop":false.*"median":null,"runs":0' "$(curl -s "$URL/v1/orders/$first/stop?step=7&value=9")" "no finished run yet"
"$BIN/runner" --boss "$URL" --scripts scripts --slots 1 --drain --name rem --outbox ob 2>remote.log ||
	fail "remote runner exited $?: $(tail -5 remote.log)"
check m-remote --spool "$TESTDIR/sp2" >/dev/null
assert_eq 4 "$(grep -c 'pruned at step' remote.log)" "remote runner's pruned lines"
# the boss's own leaderboard says the same
b=$(curl -s "$URL/v1/leaderboard?sweep=m-remote&limit=100")
assert_eq "4 4 4" "$(pyget 'd["counts"]["done"], d["counts"]["pruned"], len(d["rows"])' <<<"$b")" "GET /v1/leaderboard"
assert_eq 8 "$(curl -s "$URL/v1/leaderboard?sweep=m-remote&limit=100&pruned=1" | pyget 'len(d["rows"])')" "pruned=1"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/leaderboard?pruned=2")" "pruned=2"
echo ok
