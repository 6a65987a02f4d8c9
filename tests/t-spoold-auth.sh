# spoold: bearer-token auth on and off, and CORS with one allowed origin.
. "$TOP/tests/lib.sh"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- off: no token file, every route open ----
start_spoold "$TESTDIR/open"
assert_eq 201 "$(code -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')" "open submit"
assert_eq 200 "$(code "$URL/v1/stats")" "open stats"
assert_eq 200 "$(code -H 'Authorization: Bearer whatever' "$URL/v1/stats")" "a stray token is ignored"
grep -qi '^access-control' <<<"$(curl -s -D - -o /dev/null "$URL/v1/stats" -H 'Origin: https://evil.example')" \
	&& fail "CORS header without --allow-origin"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID"

# ---- bad configurations are refused ----
printf 'short\n' > short.token
assert_exit 1 "$BIN/spoold" --spool "$TESTDIR/x" --listen 127.0.0.1:0 --token-file short.token
assert_exit 1 "$BIN/spoold" --spool "$TESTDIR/x" --listen 127.0.0.1:0 --token-file missing.token
assert_exit 1 "$BIN/spoold" --spool "$TESTDIR/x" --listen 127.0.0.1:0 --allow-origin '*'
# not an origin (a path, a header smuggled in, longer than any Origin kept):
# refused at start, not a torn or never-matching CORS header later
for o in https://lab.example/ $'https://lab.example\r\nSet-Cookie: x=1' \
	 "https://$(printf '%0300d' 0).example"; do
	# (timeout: one taken would serve on, not exit)
	assert_exit 1 timeout 10 "$BIN/spoold" --spool "$TESTDIR/x" --listen 127.0.0.1:0 --allow-origin "$o"
done

# ---- on ----
TOKEN=0f1e2d3c4b5a69788796a5b4c3d2e1f0
umask 077; printf '%s\n' "$TOKEN" > spool.token
start_spoold "$TESTDIR/sp" --token-file spool.token --allow-origin https://lab.example
A="Authorization: Bearer $TOKEN"
assert_eq 200 "$(code "$URL/healthz")" "healthz needs no token"
assert_eq 200 "$(code "$URL/")" "the page (no data in it) needs no token"
for r in "GET /v1/stats" "GET /metrics" "GET /v1/orders" "GET /v1/workers" "POST /v1/jobs" \
	 "POST /v1/claim?worker=w&wait=0" "GET /retrieve/order" "POST /bored/w" "POST /job/create" \
	 "POST /callback" "GET /v1/leaderboard" "GET /v1/nowhere"; do
	set -- $r
	assert_eq 401 "$(code -X "$1" "$URL$2" -d '{"scriptName":"a.py"}')" "$r without token"
	assert_eq 401 "$(code -X "$1" "$URL$2" -H "Authorization: Bearer ${TOKEN}0" -d '{}')" "$r, longer token"
	assert_eq 401 "$(code -X "$1" "$URL$2" -H "Authorization: Bearer ${TOKEN%?}" -d '{}')" "$r, shorter token"
	assert_eq 401 "$(code -X "$1" "$URL$2" -H "Authorization: Basic $TOKEN" -d '{}')" "$r, wrong scheme"
done
grep -q '^WWW-Authenticate: Bearer' <<<"$(curl -s -D - -o /dev/null "$URL/v1/stats" | tr -d '\r')" \
	|| fail "401 without WWW-Authenticate"
assert_eq 201 "$(code -X POST "$URL/v1/jobs" -H "$A" -d '{"scriptName":"a.py"}')" "submit with token"
assert_eq 201 "$(code -X POST "$URL/job/create" -H "$A" -d '{"scriptName":"a.py"}')" "seed submit with token"
assert_eq 200 "$(code "$URL/v1/stats" -H "authorization: bearer $TOKEN")" "header and scheme any case"
assert_eq 200 "$(code -X POST "$URL/bored/w1" -H "$A")" "bored with token"
out=$(curl -s -X POST "$URL/v1/claim?worker=w&wait=0" -H "$A")
id=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["_id"])')
tok=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
assert_eq 401 "$(code -X POST "$URL/v1/orders/$id/complete" -H "X-Spool-Token: $tok" -d '{}')" \
	"a claim token is not the bearer token"
assert_eq 200 "$(code -X POST "$URL/v1/orders/$id/complete" -H "$A" -H "X-Spool-Token: $tok" -d '{}')" \
	"complete with both tokens"

# ---- CORS: only the configured origin, never '*' ----
hdrs=$(curl -s -D - -o /dev/null "$URL/v1/stats" -H "$A" -H 'Origin: https://lab.example' | tr -d '\r')
grep -q '^Access-Control-Allow-Origin: https://lab.example$' <<<"$hdrs" || fail "allowed origin: $hdrs"
hdrs=$(curl -s -D - -o /dev/null "$URL/v1/stats" -H "$A" -H 'Origin: https://evil.example' | tr -d '\r')
grep -qi '^Access-Control' <<<"$hdrs" && fail "CORS header for another origin: $hdrs"
assert_eq 204 "$(code -X OPTIONS "$URL/v1/jobs" -H 'Origin: https://lab.example' \
	-H 'Access-Control-Request-Method: POST')" "preflight from the allowed origin"
assert_eq 403 "$(code -X OPTIONS "$URL/v1/jobs" -H 'Origin: https://evil.example')" "preflight from another origin"

# ---- the token is checked before anything about the path is told ----
for p in /a/b/c/d/e/f/g/h/i /v1/jobs/%zz /v1/orders/%00/log /%2 /healthz%zz /healthz/x; do
	assert_eq 401 "$(code --path-as-is "$URL$p")" "$p without the token"
done
assert_eq 404 "$(code --path-as-is -H "$A" "$URL/a/b/c/d/e/f/g/h/i")" "9 segments with the token"
assert_eq 400 "$(code --path-as-is -H "$A" "$URL/v1/jobs/%zz")" "a bad escape with the token"
assert_eq 200 "$(code --path-as-is "$URL/heal%74hz")" "an escaped /healthz needs no token"

# ---- headers that must be single: no token or origin made of two halves ----
# one raw request, read until the server closes; prints the status line
cat > raw.py <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
sys.stdout.write(out.decode("latin-1"))
EOF
raw() { python3 raw.py "$PORT" "$1"; }
status() { head -1 <<<"$1" | awk '{print $2}'; }
half=$(( ${#TOKEN} / 2 ))
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN:0:$half}\r\nAuthorization: ${TOKEN:$half}\r\nConnection: close\r\n\r\n")
assert_eq 400 "$(status "$out")" "a bearer token split over two Authorization headers"
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\n$A\r\nOrigin: https://lab\r\nOrigin: .example\r\nConnection: close\r\n\r\n")
assert_eq 400 "$(status "$out")" "an allowed origin split over two Origin headers"
grep -qi '^access-control' <<<"$out" && fail "CORS header for a split origin: $out"
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\n$A\r\nConnection: close\r\n\r\n")
assert_eq 200 "$(status "$out")" "one Authorization header, raw"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
