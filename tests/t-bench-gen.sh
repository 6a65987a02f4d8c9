#!/usr/bin/env bash
# The benchmark's load generator counts right: every job it submitted comes
# back exactly once from a real spoold (and beanstalkd, when installed), and
# against a fake server that loses one job or hands one out twice it says so
# and exits 1. Small N: this is about the generator, not about speed.
. "$TOP/tests/lib.sh"

GEN=$BIN/bench-gen
[ -x "$GEN" ] || fail "no $GEN"

# check_ok LINE N: the result line says N in, N out, nothing wrong
check_ok() {
	assert_match "acked=$2 claimed=$2 completed=$2 lost=0 dup=0 foreign=0 errors=0" "$1" "counts"
	case $1 in *FAIL*) fail "generator says FAIL: $1";; esac
}

# --- spoold ---------------------------------------------------------------------
start_spoold "$TESTDIR/spool" --no-sync --quiet
out=$("$GEN" lifecycle --port "$PORT" -n 300 -p 3 -w 2 --timeout 60)
check_ok "$out" 300
assert_match "submit_rate=[0-9]+ .*drain_rate=[0-9]+" "$out" "lifecycle rates"
out=$("$GEN" mixed --port "$PORT" -n 300 -p 2 -w 3 --timeout 60)
check_ok "$out" 300
out=$("$GEN" latency --port "$PORT" -n 60 -p 2 -w 2 --rate 400 --wait 10 --timeout 60)
check_ok "$out" 60
assert_match "samples=60 p50_ms=[0-9.]+ " "$out" "latency samples"
# the queue is empty now: a claim run finds nothing
out=$("$GEN" claim --port "$PORT" -w 2 --timeout 30)
assert_match "claims=0 completed=0 " "$out" "claims on an empty queue"
# idle long-polls are held, and the server's memory is read
out=$("$GEN" idle --port "$PORT" --conns 40 --pid "$SPOOLD_PID" --timeout 60)
assert_match "conns=40 held=40 " "$out" "idle connections held"
assert_match "rss_kb=[1-9][0-9]* " "$out" "server memory read"
# jobs queued before: first claims one, claim takes the rest
"$GEN" lifecycle --port "$PORT" -n 5 -p 1 -w 1 --timeout 30 >/dev/null
curl -sf -X POST "$URL/v1/jobs" -H 'Content-Type: application/json' \
	-d '[{"scriptName":"a"},{"scriptName":"b"},{"scriptName":"c"}]' >/dev/null
out=$("$GEN" first --port "$PORT" --t0 "$(date +%s%N)" --timeout 30)
assert_match "serving_ms=[0-9.]+" "$out" "first claim"
out=$("$GEN" claim --port "$PORT" -w 2 --timeout 30)
assert_match "claims=2 completed=2 " "$out" "claim mode counts"

# --- beanstalkd, when installed ----------------------------------------------------
if command -v beanstalkd >/dev/null && command -v ss >/dev/null; then
	mkdir "$TESTDIR/binlog"
	beanstalkd -l 127.0.0.1 -p 0 -b "$TESTDIR/binlog" &
	BPID=$!
	PIDS+=("$BPID")
	wait_for sh -c "ss -ltnpH | grep -q 'pid=$BPID,'"
	BPORT=$(ss -ltnpH | grep "pid=$BPID," | sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' | head -1)
	out=$("$GEN" lifecycle --proto beanstalk --port "$BPORT" -n 300 -p 3 -w 2 --timeout 60)
	check_ok "$out" 300
	out=$("$GEN" mixed --proto beanstalk --port "$BPORT" -n 300 -p 2 -w 3 --timeout 60)
	check_ok "$out" 300
else
	echo "# beanstalkd or ss not installed: its part skipped (make bench-deps)"
fi

# --- a server that loses a job, one that hands a job out twice -------------------------
# A tiny beanstalkd stand-in: put / reserve-with-timeout / delete, with a flaw.
cat >"$TESTDIR/fake.py" <<'EOF'
import socket, sys, threading
flaw = sys.argv[1]            # ok | lose | dup
jobs, lock, state = [], threading.Lock(), {"puts": 0, "served": 0, "dup_done": False}
ready = {}                    # id -> body, handed out
def serve(c):
    f = c.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            return
        w = line.split()
        if w[0] == b"put":
            body = f.read(int(w[4]) + 2)[:-2]
            with lock:
                state["puts"] += 1
                jid = state["puts"]
                if not (flaw == "lose" and jid == 7):
                    jobs.append((jid, body))
            c.sendall(b"INSERTED %d\r\n" % jid)
        elif w[0] == b"reserve-with-timeout":
            with lock:
                item = jobs.pop(0) if jobs else None
                if item and flaw == "dup" and item[0] == 3 and not state["dup_done"]:
                    state["dup_done"] = True
                    jobs.append((1000, item[1]))   # the same job again, later
            if item is None:
                c.sendall(b"TIMED_OUT\r\n")
            else:
                c.sendall(b"RESERVED %d %d\r\n%s\r\n" % (item[0], len(item[1]), item[1]))
        elif w[0] == b"delete":
            c.sendall(b"DELETED\r\n")
        else:
            c.sendall(b"UNKNOWN_COMMAND\r\n")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# fake FLAW: start the stand-in; sets FPORT
fake() {
	local out="$TESTDIR/fake.$1.port"
	python3 "$TESTDIR/fake.py" "$1" >"$out" &
	PIDS+=("$!")
	wait_for test -s "$out"
	FPORT=$(head -1 "$out")
}
fake ok
out=$("$GEN" lifecycle --proto beanstalk --port "$FPORT" -n 50 -p 2 -w 2 --timeout 30)
check_ok "$out" 50

fake lose
set +e
out=$("$GEN" lifecycle --proto beanstalk --port "$FPORT" -n 50 -p 2 -w 2 --timeout 30 2>/dev/null)
rc=$?
set -e
assert_eq 1 "$rc" "exit status when a job is lost"
assert_match "acked=50 claimed=49 completed=49 lost=1 dup=0 .*FAIL" "$out" "the loss is counted"

fake dup
set +e
out=$("$GEN" lifecycle --proto beanstalk --port "$FPORT" -n 50 -p 2 -w 2 --timeout 30 2>/dev/null)
rc=$?
set -e
assert_eq 1 "$rc" "exit status when a job comes back twice"
assert_match "acked=50 claimed=51 completed=51 lost=0 dup=1 .*FAIL" "$out" "the duplicate is counted"

echo "ok"
