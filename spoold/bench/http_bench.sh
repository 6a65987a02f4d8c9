#!/usr/bin/env bash
# http_bench: spoold's throughput over HTTP, as the clients see it.
#
#   spoold/bench/http_bench.sh [SECONDS] [spoold options, e.g. --no-sync]
#
# 1. single-job submits from 1 and from 16 keep-alive clients for SECONDS
#    each: with group commit, 16 clients should share commits (see the
#    batches/ops counters printed from /metrics);
# 2. full lifecycles (long-poll claim + complete) by 16 clients over what
#    was submitted.
# The clients are Python threads, so on a 2-core machine they are part of
# what is measured; compare runs made the same way. File creation on ext4
# slows down after many recent unlinks (sync; echo 3 > /proc/sys/vm/drop_caches
# resets it), so say how the disk was when quoting numbers.
set -euo pipefail
secs=${1:-3}; shift || true
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/spoold-bench.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$top/bin/spoold" --spool "$dir/sp" --listen 127.0.0.1:0 --quiet "$@" > "$dir/out" 2> "$dir/err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening' "$dir/out" && break; sleep 0.05; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$dir/out")
metrics() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^spool_commit_(batches|ops)_total/ {printf "%s=%s ", $1, $2} END {print ""}'; }

python3 - "$port" "$secs" <<'EOF'
import http.client, json, sys, threading, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
def run(n, work):
    count, lock, stop = [0], threading.Lock(), time.time() + secs
    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", port); done = 0
        while time.time() < stop and work(c, k, done):
            done += 1
        with lock: count[0] += done
    ts = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    t0 = time.time()
    for t in ts: t.start()
    for t in ts: t.join()
    return count[0], time.time() - t0
def submit(c, k, i):
    c.request("POST", "/v1/jobs", json.dumps({"scriptName": "s.py", "k": k, "i": i}))
    r = c.getresponse(); r.read(); assert r.status == 201; return True
def lifecycle(c, k, i):
    c.request("POST", "/v1/claim?worker=b%d&wait=1" % k)
    r = c.getresponse(); b = r.read()
    if r.status == 204: return False
    d = json.loads(b)
    c.request("POST", "/v1/orders/%s/complete?token=%s" % (d["order"]["_id"], d["token"]), '{"loss": 1}')
    r = c.getresponse(); r.read(); assert r.status == 200; return True
for n in (1, 16):
    done, t = run(n, submit)
    print("submit, %2d clients: %6d in %.1f s = %6.0f/s" % (n, done, t, done / t))
done, t = run(16, lifecycle)
print("claim+complete, 16 clients: %d in %.1f s = %.0f/s" % (done, t, done / t))
EOF
echo "commits: $(metrics)"
