#!/usr/bin/env bash
# spoolctl sweep (a spec expanded into jobs whose ids come from their
# content) and spoolctl top (the leaderboard).
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
total() { $SC ls --json | pyget 'd["total"]'; }

$SC init
cat >spec.json <<'EOF'
{"name": "s1",
 "base": {"scriptName": "nn.py", "epochs": 5, "spool": {"maxAttempts": 2}},
 "grid": {"lr": [0.1, 0.01, 0.001], "opt": ["adam", "sgd"]}}
EOF

# dry run: jobs and ids, nothing stored
$SC sweep --dry-run spec.json >dry
assert_eq 6 "$(wc -l <dry)" "dry run: a line per grid point"
assert_eq 0 "$(total)" "dry run stores nothing"

$SC sweep spec.json >ids 2>err
assert_eq 6 "$(sort -u ids | wc -l)" "six ids"
assert_eq "$(cut -d' ' -f1 dry)" "$(cat ids)" "the dry run names the jobs the same"
assert_match "6 submitted, 0 already there" "$(cat err)" "first sweep"
$SC sweep spec.json >ids2 2>err
assert_eq "$(cat ids)" "$(cat ids2)" "a sweep submitted again: the same ids"
assert_match "0 submitted, 6 already there" "$(cat err)" "second sweep adds nothing"
assert_eq 6 "$(total)" "still six jobs"
assert_eq "s1 5" "$($SC show "$(head -1 ids)" --json | pyget 'd["job"]["sweep"], d["job"]["epochs"]' | tr -d "(),'")" "a sweep job carries its sweep name and the base"

echo '{"name":"bad","base":{"epochs":1}}' >bad.json
set +e; $SC sweep bad.json 2>err; rc=$?; set -e
assert_eq 1 "$rc" "invalid spec"
assert_match "'bad.json' is not a valid sweep: .*scriptName" "$(cat err)" "why the spec is invalid"

# another sweep, for --sweep
echo '{"name":"s2","base":{"scriptName":"nn.py"},"grid":{"lr":[5]}}' | $SC sweep - >/dev/null 2>&1

# complete four with known losses, fail one to the end
losses=(0.5 0.25 0.75 0.125)
for l in "${losses[@]}"; do
	read -r id tok _ < <($SC claim --worker w)
	echo "{\"loss\":$l,\"acc\":$l}" | $SC complete "$id" "$tok" -
done
read -r fid tok att < <($SC claim --worker w)
$SC fail "$fid" "$tok" >/dev/null
held=()
for i in 1 2 3 4; do	# claim until $fid comes back (retried at the end of the line)
	read -r id tok att < <($SC claim --worker w)
	if [ "$id" = "$fid" ]; then $SC fail "$fid" "$tok" >/dev/null; break; fi
	$SC release "$id" "$tok"; $SC hold "$id"; held+=("$id")
done
for id in "${held[@]}"; do $SC release "$id"; done
t=$($SC top)
echo "$t"
assert_match "^\[#+\.+\] 4/7 done, 0 running, 2 queued, 1 failed" "$t" "progress line"
assert_eq "0.125 0.25 0.5 0.75" "$(echo "$t" | awk 'NR > 2 { printf "%s ", $2 }' | sed 's/ $//')" "best (lowest) loss first"
assert_match "lr=" "$t" "the varied parameter is shown"
assert_eq "0.75 0.5" "$($SC top --key acc --desc --limit 2 --json | pyget '" ".join(str(r["value"]) for r in d["rows"])')" "top --desc --limit --json"
assert_eq "6 1" "$($SC top --sweep s1 --json | pyget 'd["total"], d["counts"]["failed"]' | tr -d '(),')" "top --sweep counts one sweep"
assert_exit 2 $SC top --limit x

# --requeue-failed brings the sweep's failed jobs back
assert_eq failed "$($SC show "$fid" --json | pyget 'd["order"]["state"]')" "a job failed to the end"
$SC sweep --requeue-failed spec.json >/dev/null 2>err
assert_match "1 requeued" "$(cat err)" "requeued"
assert_eq "new 0" "$($SC show "$fid" --json | pyget 'd["order"]["state"], d["order"]["attempt"]' | tr -d "(),'")" "back in new/, no attempts used"
echo ok
