# spoold: 16 long-polling HTTP claimers, 2 local `spoolctl drain` claimers and
# a shell loop of `spoolctl claim` on one spool while 1,000 jobs are
# submitted: every order is claimed exactly once, and all end done.
. "$TOP/tests/lib.sh"

N=1000
start_spoold "$TESTDIR/sp" --quiet
SP="$TESTDIR/sp"

cat > claimers.py <<'EOF'
import http.client, json, sys, threading, time
port, nthreads, stop_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out, lock = [], threading.Lock()
def claimer(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    idle = 0
    while True:
        c.request("POST", "/v1/claim?worker=lp%d&wait=1" % k)
        r = c.getresponse(); body = r.read()
        if r.status == 204:
            try:
                open(stop_file).close(); idle += 1
                if idle >= 2: return
            except FileNotFoundError:
                pass
            continue
        assert r.status == 200, (r.status, body)
        d = json.loads(body); oid, tok = d["order"]["_id"], d["token"]
        c.request("POST", "/v1/orders/%s/complete?token=%s" % (oid, tok),
                  json.dumps({"status": 200, "worker": k}))
        r2 = c.getresponse(); b2 = r2.read()
        assert r2.status == 200, (r2.status, b2)
        with lock:
            out.append("claimed %s %s %d" % (oid, tok, d["attempt"]))
ts = [threading.Thread(target=claimer, args=(k,)) for k in range(nthreads)]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(out))
EOF

python3 claimers.py "$PORT" 16 "$TESTDIR/submitted" > http.claims 2> http.err &
CL=$!; PIDS+=("$CL")
for k in 1 2; do
	"$BIN/spoolctl" --spool "$SP" drain --worker "local$k" --wait 4 > "local$k.claims" 2> "local$k.err" &
	eval "L$k=\$!"; PIDS+=($!)
done

# and a worker written as a shell loop of `spoolctl claim` and `complete`
claim_loop() {
	local idle=0 out id token attempt rc
	while [ "$idle" -lt 3 ]; do
		set +e; out=$("$BIN/spoolctl" --spool "$SP" claim --worker shell1); rc=$?; set -e
		if [ "$rc" = 3 ]; then
			[ -e "$TESTDIR/submitted" ] && idle=$((idle + 1))
			continue
		fi
		[ "$rc" = 0 ] || { echo "claim exit $rc" >&2; return 1; }
		read -r id token attempt <<<"${out%%$'\n'*}"
		echo '{"status": 200}' | "$BIN/spoolctl" --spool "$SP" complete "$id" "$token" - >/dev/null
		echo "claimed $id $token $attempt"
	done
}
claim_loop > shell.claims 2> shell.err &
SH=$!; PIDS+=("$SH")

# submit while everyone claims: bulk arrays over HTTP, 100 at a time
python3 - "$URL" "$N" > ids <<'EOF'
import json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
for start in range(0, n, 100):
    jobs = [{"scriptName": "c.py", "i": i} for i in range(start, min(n, start + 100))]
    req = urllib.request.Request(url + "/v1/jobs", data=json.dumps(jobs).encode(), method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
        print("\n".join(json.loads(r.read())["ids"]))
EOF
touch "$TESTDIR/submitted"
assert_eq "$N" "$(sort -u ids | wc -l)" "distinct ids submitted"

wait "$CL" || fail "HTTP claimers failed: $(tail -5 http.err)"
wait "$L1" || true; wait "$L2" || true
wait "$SH" || fail "shell claim loop: $(cat shell.err)"
cat local1.claims local2.claims shell.claims | grep '^claimed ' > local.claims || true
cat http.claims local.claims | awk '{print $2}' | sort > claimed
h=$(grep -c '^claimed ' http.claims || true); l=$(wc -l < local.claims)
echo "claims: $h over HTTP, $l local ($(grep -c '^claimed' shell.claims || true) by the shell loop)"
assert_eq "$N" "$(wc -l < claimed)" "claims in all"
dups=$(uniq -d claimed | sed -n 1,3p)	# (sed reads it all: no SIGPIPE)
[ -z "$dups" ] || fail "claimed twice: $dups"
sort ids | diff - claimed > /dev/null || fail "claimed set differs from submitted set"
assert_eq 0 "$(awk '$4 != 1' http.claims local.claims | wc -l)" "every claim is attempt 1"
done_n=$(curl -sS "$URL/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["orders"]["done"])')
assert_eq "$N" "$done_n" "orders done"
curl -sS "$URL/metrics" | grep -E '^spool_(lost_claims|commit_batches|commit_ops)_total' || true
echo ok
