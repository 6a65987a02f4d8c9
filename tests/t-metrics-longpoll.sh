#!/usr/bin/env bash
# A long poll's waiting is not request latency (issue 14): a claim with
# wait=3 answered 204 when its time is up, and a claim with wait=20 answered
# an order submitted while it waited, are both fast requests in
# spool_http_request_duration_seconds: every observation is in le="1"
# (39077c8 counted the 3 s wait, into le="5"). The wait shows as
# spool_waiting_claims instead.
. "$TOP/tests/lib.sh"
start_spoold "$TESTDIR/spool" --init
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
lat='^spool_http_request_duration_seconds'
waiting() { curl -sf "$URL/metrics" >w.prom && [ "$(msum w.prom '^spool_waiting_claims ')" = "$1" ]; }

# nothing to claim: 204 after the wait
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$URL/v1/claim?worker=lp&wait=3")
assert_eq 204 "$code" "a long poll on an empty queue"
curl -sf "$URL/metrics" >one.prom
n=$(msum one.prom "${lat}_count")
assert_eq 1 "$n" "one request answered before this scrape"
assert_eq "$n" "$(msum one.prom "${lat}_bucket\\{.*le=\"1\"\\}")" \
	"requests within 1 s (the wait=3 claim must not count its wait; $(grep "${lat}_bucket" one.prom | tr '\n' ' '))"

# an order comes while a claim waits: the answer is fast too
curl -s -o claim.json -w '%{http_code}' -XPOST "$URL/v1/claim?worker=lp&wait=20" >claim.code &
CURL=$!; PIDS+=("$CURL")
wait_for waiting 1
curl -sf -XPOST "$URL/v1/jobs" -d '{"scriptName":"x.sh"}' >/dev/null
wait "$CURL"
assert_eq 200 "$(cat claim.code)" "the waiting claim got the order"
curl -sf "$URL/metrics" >two.prom
n=$(msum two.prom "${lat}_count")
assert_eq "$n" "$(msum two.prom "${lat}_bucket\\{.*le=\"1\"\\}")" \
	"requests within 1 s ($(grep "${lat}_bucket" two.prom | tr '\n' ' '))"
assert_eq 0 "$(msum two.prom '^spool_waiting_claims ')" "no claim waits now"
echo ok
