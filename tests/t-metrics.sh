#!/usr/bin/env bash
# spoold's /metrics after a real sweep run by a real runner, read as an
# operator reads it: promtool check metrics passes (during the run and after
# it); while a job runs, the worker is seen with its one slot busy and the
# queued orders have an age; after it, the queue-wait and run-time histograms
# count every claim and every end, the oldest age is 0, requests are labelled
# by route pattern (never a raw id; 100 unknown paths are one label; a 401
# by the route it asked for), and spool_build_info names the build.
. "$TOP/tests/lib.sh"
command -v promtool >/dev/null ||
	{ echo "SKIP: promtool is missing (make deps installs Debian's prometheus)"; exit 77; }

mkdir scripts
cat >scripts/gate.sh <<S
#!/bin/sh
# runs until the test opens the gate (bounded: 10 minutes)
i=0
while [ ! -e "$TESTDIR/go" ] && [ \$i -lt 6000 ]; do sleep 0.1; i=\$((i + 1)); done
echo '{"loss": 0}'
S
cat >scripts/fit.sh <<'S'
#!/bin/sh
echo '{"loss": 1.5}'
S
cat >scripts/bad.sh <<'S'
#!/bin/sh
echo "diverged" >&2
exit 3
S
chmod +x scripts/*.sh

start_spoold "$TESTDIR/spool" --init
scrape() { curl -sf "$URL/metrics" >"$1"; }
# msum FILE REGEX: the sum of the samples on lines matching REGEX
msum() { python3 - "$1" "$2" <<'P'
import re, sys
t = 0.0
for line in open(sys.argv[1]):
    if not line.startswith("#") and re.search(sys.argv[2], line):
        t += float(line.rsplit(" ", 1)[1])
print(int(t) if t == int(t) else t)
P
}
check() { promtool check metrics <"$1" >promtool.out 2>&1 ||
	fail "promtool check metrics on $1: $(cat promtool.out)"; }
# (awk, not python: wait_for asks many times)
gauge_is() { scrape now.prom && awk -v n="$1" -v v="$2" '$1 == n && $2 == v { f = 1 } END { exit !f }' now.prom; }
gauge_pos() { scrape now.prom && awk -v n="$1" '$1 == n && $2 > 0 { f = 1 } END { exit !f }' now.prom; }
# a failing test opens the gate, so that the runner's script ends
trap 'touch "$TESTDIR/go"; cleanup' EXIT

scrape empty.prom
check empty.prom
assert_eq 0 "$(msum empty.prom '^spool_oldest_queued_age_seconds ')" "oldest age with an empty queue"

# the job that keeps the one slot busy goes first; then the sweep, and one
# that fails
curl -sf -XPOST "$URL/v1/jobs" -d '{"scriptName":"gate.sh","spool":{"priority":10,"maxAttempts":1}}' >/dev/null
cat >spec.json <<'J'
{"name": "m1", "base": {"scriptName": "fit.sh"},
 "grid": {"lr": [0.1, 0.01, 0.001], "opt": ["adam", "sgd"]}}
J
"$BIN/spoolctl" sweep --boss "$URL" spec.json >ids 2>sweep.err || fail "sweep: $(cat sweep.err)"
assert_eq 6 "$(wc -l <ids)" "the sweep's jobs"
curl -sf -XPOST "$URL/v1/jobs" -d '{"scriptName":"bad.sh","spool":{"maxAttempts":1}}' >/dev/null

"$BIN/runner" --boss "$URL" --scripts scripts --name m-r1 --slots 1 --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/work" 2>runner.log &
RUNNER=$!; PIDS+=("$RUNNER")

# during the run
WAIT_S=60 wait_for gauge_is spool_worker_slots_busy 1
wait_for gauge_pos spool_oldest_queued_age_seconds
scrape during.prom
check during.prom
assert_eq 1 "$(msum during.prom '^spool_workers_seen ')" "workers seen while one runs"
assert_eq 1 "$(msum during.prom '^spool_worker_slots ')" "its slots"
assert_eq 1 "$(msum during.prom '^spool_worker_slots_busy ')" "slots busy while the gate job runs"
assert_eq 7 "$(msum during.prom '^spool_orders\{state="new"\}')" "queued behind it"
assert_eq 1 "$(msum during.prom '^spool_queue_wait_seconds_count ')" "one claim so far"
assert_eq 0 "$(msum during.prom '^spool_run_seconds_count ')" "no run ended yet"

touch go
set +e; wait "$RUNNER"; rc=$?; set -e
[ "$rc" = 1 ] || fail "runner exited $rc, not 1 (one job failed): $(tail -5 runner.log)"

# 100 requests to random paths, for the label count
for i in $(seq 1 100); do
	curl -s -o /dev/null "$URL/x$RANDOM/$i/$RANDOM"
done
scrape after.prom
check after.prom
cp after.prom "$TESTDIR/metrics.txt"

# the histograms count what the counters count
claims=$(msum after.prom '^spool_claims_total ')
ends=$(( $(msum after.prom '^spool_completions_total ') + $(msum after.prom '^spool_failures_total ') ))
assert_eq 8 "$claims" "claims"
assert_eq 8 "$ends" "completions and failures"
assert_eq "$claims" "$(msum after.prom '^spool_queue_wait_seconds_count ')" "queue-wait observations = claims"
assert_eq "$claims" "$(msum after.prom '^spool_queue_wait_seconds_bucket\{le="\+Inf"\}')" "queue-wait +Inf = claims"
assert_eq "$ends" "$(msum after.prom '^spool_run_seconds_count ')" "run-time observations = ends"
python3 - after.prom <<'P' || fail "histogram buckets do not add up: $(grep _seconds_bucket after.prom | head -30)"
import re, sys
series = {}
for line in open(sys.argv[1]):
    m = re.match(r'^(\w+)_bucket\{(.*?)le="([^"]+)"\} (\d+)$', line)
    if m:
        series.setdefault((m[1], m[2]), []).append((m[3], int(m[4])))
assert series, "no histogram"
for (name, lab), b in series.items():
    counts = [c for _, c in b]
    assert counts == sorted(counts), (name, lab, b)		# cumulative
    assert b[-1][0] == "+Inf", (name, lab)
    les = [float(x) for x, _ in b[:-1]]
    assert les == sorted(les), (name, lab)
# queue waits and runs: buckets from a millisecond to hours
for name in ("spool_queue_wait_seconds", "spool_run_seconds"):
    les = [float(x) for x, _ in series[(name, "")][:-1]]
    assert les[0] <= 0.001 and les[-1] >= 3600 * 4, (name, les)
P
# the gate job ran until the gate opened, which the slot-busy scrape saw
assert_match '^[0-9.e+-]+$' "$(msum after.prom '^spool_run_seconds_sum ')" "run-time sum"
assert_eq 0 "$(msum after.prom '^spool_oldest_queued_age_seconds ')" "oldest age once the queue is empty"
assert_eq 0 "$(msum after.prom '^spool_worker_slots_busy ')" "no slot busy after the run"

# requests by route pattern, method and status
assert_eq 7 "$(msum after.prom '^spool_http_requests_total\{route="/v1/orders/:id/complete",method="POST",code="200"\}')" "completes by route"
assert_eq 1 "$(msum after.prom '^spool_http_requests_total\{route="/v1/orders/:id/fail",method="POST",code="200"\}')" "fails by route"
assert_eq 100 "$(msum after.prom '^spool_http_requests_total\{route="unmatched",method="GET",code="404"\}')" "the random paths, one label"
assert_eq 1 "$(grep -c '^spool_http_requests_total{route="unmatched"' after.prom)" "one series for unknown paths"
grep -q '^spool_http_request_duration_seconds_count{route="/v1/claim",method="POST"}' after.prom ||
	fail "no latency histogram for /v1/claim"
! grep -Eq '[0-9a-f]{24}|/x[0-9]' after.prom || fail "a raw id or path in a label: $(grep -E '[0-9a-f]{24}|/x[0-9]' after.prom | head -3)"
nroutes=$(grep -c '^	{ HTTP_' "$TOP/spoold/route.c")
nlabels=$(sed -n 's/^spool_http_requests_total{route="\([^"]*\)".*/\1/p' after.prom | sort -u | wc -l)
[ "$nlabels" -le $((nroutes + 1)) ] || fail "$nlabels route labels for $nroutes routes"

# the build
ver=$(sed -n 's/^#define SPOOL_VERSION "\(.*\)"/\1/p' "$TOP/lib/version.h")
assert_match "^spool_build_info\{version=\"$ver\",commit=\"([0-9a-f]{7,40}|unknown)\"\} 1$" \
	"$(grep '^spool_build_info' after.prom)" "spool_build_info"

# with a token: a 401 is labelled with the route it asked for
echo "m-s3cret-token" >token
start_spoold "$TESTDIR/spool2" --init --token-file "$TESTDIR/token"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/orders")" "no token"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/orders/$(head -1 ids)/log")" "no token"
curl -sf -H "Authorization: Bearer m-s3cret-token" "$URL/metrics" >auth.prom
check auth.prom
assert_eq 1 "$(msum auth.prom '^spool_http_requests_total\{route="/v1/orders",method="GET",code="401"\}')" "a 401 by route"
assert_eq 1 "$(msum auth.prom '^spool_http_requests_total\{route="/v1/orders/:id/log",method="GET",code="401"\}')" "a 401 by route pattern"
echo ok
