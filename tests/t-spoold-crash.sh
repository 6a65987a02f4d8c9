# spoold: kill -9 during a submit storm, three times; after each restart every
# submit that got a 201 is in the spool, and at the end every one is served.
. "$TOP/tests/lib.sh"

cat > storm.py <<'EOF'
# 4 keep-alive clients submit single jobs and arrays of 5 until the server
# goes away; an id is written down only once its 201 has arrived.
import http.client, json, sys, threading
port, out = int(sys.argv[1]), open(sys.argv[2], "a")
lock = threading.Lock()
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while True:
        i += 1
        jobs = {"scriptName": "s.py", "k": k, "i": i} if i % 2 else \
               [{"scriptName": "s.py", "k": k, "i": i, "j": j} for j in range(5)]
        try:
            c.request("POST", "/v1/jobs", json.dumps(jobs))
            r = c.getresponse(); body = r.read()
        except (OSError, http.client.HTTPException):
            return
        if r.status != 201:
            sys.stderr.write("unexpected %d %s\n" % (r.status, body)); return
        with lock:
            out.write("\n".join(json.loads(body)["ids"]) + "\n"); out.flush()
ts = [threading.Thread(target=client, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
EOF

# check_all: every acknowledged id has its job and an order
check_all() {
	python3 - "$URL" acked <<'EOF' || fail "acknowledged jobs missing after kill -9"
import sys, urllib.request, urllib.error
url, missing, n = sys.argv[1], 0, 0
for line in open(sys.argv[2]):
    i = line.strip(); n += 1
    for what in ("jobs", "orders"):
        try:
            urllib.request.urlopen(url + "/v1/%s/%s" % (what, i)).read()
        except urllib.error.HTTPError as e:
            print("%s %s: %d" % (what, i, e.code)); missing += 1
print("%d acknowledged ids checked" % n)
sys.exit(1 if missing else 0)
EOF
}

: > acked
for round in 1 2 3; do
	start_spoold "$TESTDIR/sp" --quiet
	check_all
	before=$(wc -l < acked)
	python3 storm.py "$PORT" acked 2> storm.err &
	ST=$!; PIDS+=("$ST")
	enough() { [ "$(wc -l < acked)" -ge $((before + 200)) ]; }
	wait_for enough
	kill -9 "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
	wait "$ST" || true
	[ ! -s storm.err ] || fail "storm: $(cat storm.err)"
	echo "round $round: $(( $(wc -l < acked) - before )) acknowledged before kill -9"
done

start_spoold "$TESTDIR/sp" --quiet
check_all
# every acknowledged job is served: claim until nothing is left
python3 - "$PORT" > served <<'EOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
while True:
    c.request("POST", "/v1/claim?worker=after&wait=0")
    r = c.getresponse(); b = r.read()
    if r.status == 204: break
    print(json.loads(b)["order"]["_id"])
EOF
missing=$(sort acked | comm -23 - <(sort served) | sed -n 1,3p)	# (no SIGPIPE)
[ -z "$missing" ] || fail "acknowledged but never served: $missing"
echo "$(wc -l < acked) acknowledged, $(wc -l < served) served"
echo ok
