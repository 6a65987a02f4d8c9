#!/usr/bin/env bash
# spoolctl sweep --boss: a sweep over HTTP names its jobs by their content,
# so sending it twice adds nothing; --requeue-failed over HTTP; top --order
# and --watch --until-done.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/sp
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cat >spec.json <<'J'
{"name": "b1",
 "base": {"scriptName": "nn.py", "epochs": 5, "spool": {"maxAttempts": 1}},
 "grid": {"lr": [0.1, 0.01, 0.001]},
 "random": {"count": 2, "seed": 3, "params": {"l2": {"uniform": [0, 0.1]}, "opt": {"choice": ["adam", "sgd"]}}}}
J
start_spoold "$SPOOL_DIR"
$SC sweep spec.json --dry-run | awk '{print $1}' >want
assert_eq 6 "$(wc -l <want)" "3 grid points x 2 samples"
$SC sweep spec.json --boss "$URL" >got 2>err
cmp -s want got || fail "the boss's ids differ from the content ids: $(paste want got)"
assert_match "6 jobs sent" "$(cat err)" "summary"
# again: nothing new
$SC sweep spec.json --boss "$URL" >got2 2>/dev/null
cmp -s want got2 || fail "second submission gave other ids"
assert_eq 6 "$(curl -s "$URL/v1/stats" | pyget 'd["orders"]["new"] if "orders" in d else d["new"]')" "orders after two submissions"
# the stored job is the canonical one, with its id
id=$(head -1 want)
curl -s "$URL/v1/jobs/$id" | pyget 'd["_id"], d["sweep"], d["scriptName"]' | grep -q "b1" ||
	fail "job $id is not the sweep's"

# run them: five succeed with known losses, one fails for good
for n in 1 2 3 4 5 6; do
	read -r cid tok _ < <($SC claim --worker w | head -1)
	if [ "$n" = 6 ]; then
		echo '{"status":500}' | $SC fail "$cid" "$tok" - >/dev/null
	else
		echo "{\"loss\": $n, \"acc\": $((10 - n))}" | $SC complete "$cid" "$tok" -
	fi
done
# watch until done: ends by itself, one progress line per refresh (not a tty)
timeout 20 $SC top --sweep b1 --watch --every 1 --until-done >watch || fail "top --watch --until-done did not end"
assert_match "^\[#+\] 5/6 done, 0 running, 0 queued, 1 failed$" "$(tail -1 watch)" "last progress line"
assert_eq "1 2" "$($SC top --sweep b1 --limit 2 --json | pyget '" ".join("%g" % r["value"] for r in d["rows"])')" "asc"
assert_eq "9 8" "$($SC top --key acc --order desc --limit 2 --json | pyget '" ".join("%g" % r["value"] for r in d["rows"])')" "--order desc"
assert_exit 2 $SC top --order sideways
assert_exit 2 $SC top --until-done
# the failed one, requeued over HTTP
$SC sweep spec.json --boss "$URL" --requeue-failed >/dev/null 2>err
assert_match "1 requeued" "$(cat err)" "requeue over HTTP"
assert_eq 1 "$(curl -s "$URL/v1/orders?state=new" | pyget 'len(d["orders"]) if isinstance(d, dict) else len(d)')" "requeued order queued"
# an unreachable boss is a clear error
assert_exit 1 $SC sweep spec.json --boss http://127.0.0.1:1
echo ok
