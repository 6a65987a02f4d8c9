#!/usr/bin/env bash
# GET /v1/results?by=param&param=NAME (issue 14): the done runs ranked by a
# job parameter across the whole sweep, paged with offset/limit: numbers as
# numbers, texts bytewise, numbers before texts, runs without the parameter
# last in both orders and counted; pruned runs left out; a bad NAME is 400.
# Real runner (on the spool) files the outcomes, real spoold answers.
. "$TOP/tests/lib.sh"

SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
# the loss is not the parameter's order, so a ranking by loss would differ
cat >scripts/fit.py <<'S'
import json, sys
job = json.loads(sys.argv[1])
out = {"status": 200, "loss": job.get("loss", 1)}
if job.get("prune"):
    out["pruned"] = {"rule": "median", "step": 1}
print(json.dumps(out))
S
$SC init
# n: numbers whose text order differs from their numeric order (10 < 9 as text)
cat >n.json <<'EOF'
{"name": "n", "base": {"scriptName": "fit.py"},
 "grid": {"x": [10, 9, 2.5, -1, 100], "loss": [1]}}
EOF
$SC sweep n.json >n.ids 2>/dev/null
# m: a mixed column, two runs without it, one pruned run (left out)
cat >m.json <<'EOF'
[{"sweep": "m", "scriptName": "fit.py", "v": 2, "loss": 5},
 {"sweep": "m", "scriptName": "fit.py", "v": "b", "loss": 4},
 {"sweep": "m", "scriptName": "fit.py", "v": 10, "loss": 3},
 {"sweep": "m", "scriptName": "fit.py", "v": "B", "loss": 2},
 {"sweep": "m", "scriptName": "fit.py", "v": "a", "loss": 1},
 {"sweep": "m", "scriptName": "fit.py", "loss": 0.5},
 {"sweep": "m", "scriptName": "fit.py", "loss": 0.25},
 {"sweep": "m", "scriptName": "fit.py", "v": 1000, "loss": 9, "prune": true}]
EOF
$SC submit m.json >m.ids
"$BIN/runner" --spool spool --scripts scripts --drain --name t1 --workdir "$TESTDIR/work" \
	--poll-ms 50 2>runner.log || fail "the runner failed: $(cat runner.log)"
start_spoold "$TESTDIR/spool" --no-sync --quiet

# q QUERY PYEXPR: evaluate PYEXPR on the answer d of /v1/results?QUERY
q() {
	curl -sS "$URL/v1/results?$1" | python3 -c "import json, sys; d = json.load(sys.stdin); print($2)"
}
vals='",".join(str(r["params"].get("x", r["params"].get("v", "-"))) for r in d["rows"])'

assert_eq "-1,2.5,9,10,100" "$(q 'sweep=n&by=param&param=x' "$vals")" "numbers in numeric order"
assert_eq "100,10,9,2.5,-1" "$(q 'sweep=n&by=param&param=x&order=desc' "$vals")" "numbers descending"
# paged: the first page of two holds the two largest of the whole sweep
assert_eq "100,10" "$(q 'sweep=n&by=param&param=x&order=desc&limit=2' "$vals")" "page 1 of 2 descending"
assert_eq "9,2.5" "$(q 'sweep=n&by=param&param=x&order=desc&limit=2&offset=2' "$vals")" "page 2 of 2 descending"
assert_eq "3 4 param x 5 0" "$(q 'sweep=n&by=param&param=x&order=desc&limit=2&offset=2' \
	'" ".join(str(r["rank"]) for r in d["rows"]), d["by"], d["param"], d["total"], d["missing"]')" \
	"ranks, by, param, total and missing of page 2"
# the value shown stays the outcome key's
assert_eq "1,1,1,1,1" "$(q 'sweep=n&by=param&param=x' '",".join(str(r["value"]) for r in d["rows"])')" "value is the key's"

# mixed: numbers first, then texts bytewise ("B" < "a" < "b"), then the two
# runs without v (ties by id); the pruned run left out
assert_eq "2,10,B,a,b,-,-" "$(q 'sweep=m&by=param&param=v' "$vals")" "a mixed column ascending"
assert_eq "10,2,b,a,B,-,-" "$(q 'sweep=m&by=param&param=v&order=desc' "$vals")" "a mixed column descending"
assert_eq "7 2 1" "$(q 'sweep=m&by=param&param=v' 'd["total"], d["missing"], d["pruned"]')" "total, missing, pruned"
ids=$(q 'sweep=m&by=param&param=v' '" ".join(r["id"] for r in d["rows"][5:])')
assert_eq "$(echo $ids | tr ' ' '\n' | sort | tr '\n' ' ')" "$ids " "the runs without v: ties by id"
# a parameter no run has: every run, by id
assert_eq "7 7" "$(q 'sweep=m&by=param&param=nothing' 'd["total"], d["missing"]')" "a parameter no run has"
# the reserved members are not parameters
assert_eq "5" "$(q 'sweep=n&by=param&param=sweep' 'd["missing"]')" "sweep is not a parameter"
# the default ranking is unchanged: by loss
assert_eq "key -,-,a,B,10" "$(q 'sweep=m&limit=5' 'd["by"], '"$vals")" "by key, as before"

# bad requests
for bad in 'by=param' 'by=param&param=' 'by=param&param=a%20b' 'by=param&param=a/b' \
	"by=param&param=$(printf 'x%.0s' $(seq 64))" 'by=nope' 'param=x' 'by=param&param=x&limit=0'; do
	assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/results?$bad")" "400 for $bad"
done
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/results?by=param&param=$(printf 'x%.0s' $(seq 63))")" "63 bytes is fine"
