#!/usr/bin/env bash
# Memory of idle long-polls (issue 10): 2,000 claims waiting on an empty
# queue (bench-gen idle) cost spoold at most 1,000 bytes of RSS each (760
# measured: a 504-byte struct conn, the claim's 208-byte request with its
# waiter, a timer slot; 1ce3738 fails at ~2,390: a 2,008-byte struct conn
# with the headers' fixed arrays, a uv_timer_t each, the target kept). A
# claimer without tags holds no tag storage. Not under ASan, whose
# allocator has its own overheads.
. "$TOP/tests/lib.sh"
[ "${ASAN:-}" = 1 ] && { echo "SKIP: RSS is not comparable under ASan" >&2; exit 77; }
[ -x "$BIN/bench-gen" ] || fail "no $BIN/bench-gen (make builds it)"
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
N=2000
start_spoold "$TESTDIR/s" --init --max-conns $((N + 100))
# the first answer brings in what any request needs; then the base
"$BIN/bench-gen" claim --port "$PORT" -w 1 --timeout 60 >/dev/null
line=$("$BIN/bench-gen" idle --port "$PORT" --conns "$N" --pid "$SPOOLD_PID" --timeout 120)
echo "$line"
held=$(sed -n 's/.* held=\([0-9]*\).*/\1/p' <<<"$line")
per=$(sed -n 's/.* rss_per_conn_b=\([0-9]*\).*/\1/p' <<<"$line")
assert_eq "$N" "$held" "long-polls held"
[ -n "$per" ] && [ "$per" -le 1000 ] || fail "an idle long-poll costs $per bytes of RSS (at most 1,000)"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" "healthz with $N long-polls"
