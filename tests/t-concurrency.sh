#!/usr/bin/env bash
# Eight processes race to claim 2,000 orders from one spool and complete each:
# six `spoolctl drain` loops (claim + complete in one process) and two shell
# workers that run `spoolctl claim` / `spoolctl complete` per order. Every
# order must be claimed exactly once and completed exactly once.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
N=${CONC_ORDERS:-2000}

$SC init
python3 -c "
import json
print(json.dumps([{'scriptName': 'nn.py', 'n': i} for i in range($N)]))" >jobs.json
$SC submit jobs.json >submitted
assert_eq "$N" "$(sort -u submitted | wc -l)" "submitted ids"

shell_worker() {
	local name=$1 log=$2 out id tok att rc
	while :; do
		set +e; out=$($SC claim --worker "$name"); rc=$?; set -e
		[ $rc = 3 ] && return 0
		[ $rc = 0 ] || { echo "claim exited $rc" >>"$log"; return 1; }
		read -r id tok att <<<"${out%%$'\n'*}"
		echo "claimed $id $tok $att" >>"$log"
		printf '{"worker":"%s","token":"%s","attempt":%s}' "$name" "$tok" "$att" |
			$SC complete "$id" "$tok" - || { echo "complete $id exited $?" >>"$log"; return 1; }
		echo "done $id $tok" >>"$log"
	done
}

start=$(date +%s%N)
pids=()
for i in 1 2 3 4 5 6; do
	$SC drain --worker "d$i" >"w-d$i.log" 2>"w-d$i.err" &
	pids+=($!); PIDS+=($!)
done
for i in 1 2; do
	shell_worker "s$i" "w-s$i.log" 2>"w-s$i.err" &
	pids+=($!); PIDS+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "worker $p failed: $(cat w-*.err) $(grep exited w-*.log || true)"
done
echo "drained $N orders with 8 processes in $(( ($(date +%s%N) - start) / 1000000 )) ms"
for f in w-*.log; do echo "$f: $(grep -c '^done' "$f") done"; done

cat w-*.log >all.log
assert_eq "$N" "$(grep -c '^claimed ' all.log)" "claims logged"
assert_eq "$N" "$(awk '$1 == "claimed" { print $2 }' all.log | sort -u | wc -l)" "distinct orders claimed (no order twice)"
assert_eq "$N" "$(grep -c '^done ' all.log)" "completions logged"
assert_eq "" "$(awk '$1 == "claimed" { print $2 }' all.log | sort | comm -3 - <(sort submitted))" "claimed = submitted"
assert_eq "0" "$(grep -c '^late ' all.log || true)" "no late completion"

counts=$($SC ls --json)
assert_eq "$N 0 0 $N" "$(echo "$counts" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["done"], d["new"], d["assigned"], d["total"])')" "every order done"

# One outcome per order, filed under the claim that completed it, saying so.
python3 - "$SPOOL_DIR" all.log <<'EOF'
import json, os, sys
spool, log = sys.argv[1], sys.argv[2]
done = {}
for line in open(log):
    f = line.split()
    if f[0] == "done":
        assert f[1] not in done, "completed twice: " + f[1]
        done[f[1]] = f[2]
seen = {}
for dirpath, _, files in os.walk(os.path.join(spool, "outcomes")):
    for name in files:
        parts = name.split(".")
        oid, tok = parts[0], parts[2]
        assert oid not in seen, "two outcomes for " + oid
        seen[oid] = tok
        body = json.load(open(os.path.join(dirpath, name)))
        assert body["token"] == tok, "outcome %s says token %s" % (name, body["token"])
        assert done.get(oid) == tok, "outcome %s not from the claim that completed it" % name
assert len(seen) == len(done), "%d outcomes for %d completions" % (len(seen), len(done))
late = sum(len(f) for _, _, f in os.walk(os.path.join(spool, "late")))
assert late == 0, "%d late outcomes" % late
EOF
$SC fsck
echo ok
