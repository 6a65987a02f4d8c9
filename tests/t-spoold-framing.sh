# spoold: how a request is framed and ended. A client that half-closes
# (HTTP/1.0 style: send, shutdown(SHUT_WR), read) gets its answer and then
# the close, for answers made at once and for those made on a disk thread;
# pipelined requests before the FIN are all answered; a request cut short
# by the FIN is a 400 and stores nothing. Headers that must be single
# (Authorization, Origin, Content-Length, Content-Type, Host,
# Transfer-Encoding, X-Spool-Token) are refused when repeated, and so is
# whitespace between a header name and its colon (RFC 9112 section 5.1).
# Every answer is read until the server closes, never in one recv.
. "$TOP/tests/lib.sh"

# raw.py PORT [--half] REQUEST: send REQUEST (Python escapes: \r\n, \x00),
# optionally half-close, print everything until the server closes.
cat > raw.py <<'EOF'
import socket, sys, time
args = sys.argv[1:]
port = int(args.pop(0))
half = args[0] == "--half" and args.pop(0)
req = args[0].encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(10)
t0 = time.time()
s.sendall(req)
if half:
    s.shutdown(socket.SHUT_WR)
out = b""
while True:
    try:
        d = s.recv(65536)
    except ConnectionResetError:
        out += b"\n[reset]"
        break
    except socket.timeout:
        out += b"\n[timeout: no close within 10 s]"
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode("latin-1"))
sys.stderr.write("%.2f\n" % (time.time() - t0))
EOF
raw() { python3 raw.py "$PORT" "$@" 2>raw.secs; }
# statuses ANSWER: the status codes of every answer in it, space-separated
statuses() { grep -ao '^HTTP/1\.[01] [0-9]*' <<<"$1" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//'; }
# body_of ANSWER: the body of the last answer
body_of() { python3 -c 'import sys; print(sys.argv[1].rsplit("\r\n\r\n", 1)[-1])' "$1"; }
js() { python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$2"; }
norders() { curl -sS "$URL/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["orders"]["new"])'; }

start_spoold "$TESTDIR/sp" --no-sync --allow-origin https://lab.example
J='{"scriptName":"half.py"}'

# ---- half-closed clients ----
# a long-poll claimer that half-closes is answered at once (nothing was
# claimed for it: the queue is empty), not held for its wait
out=$(raw --half "POST /v1/claim?worker=hc&wait=20 HTTP/1.1\r\nHost: x\r\n\r\n")
assert_eq 204 "$(statuses "$out")" "a half-closed long-poll"
secs=$(cat raw.secs); [ "${secs%.*}" -lt 10 ] || fail "half-closed long-poll held $secs s"
assert_eq 0 "$(curl -sS "$URL/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["waiting"])')" \
	"no waiter left behind"

out=$(raw --half "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: ${#J}\r\n\r\n$J")
assert_eq 201 "$(statuses "$out")" "POST /v1/jobs then SHUT_WR: answered"
id=$(js 'd["ids"][0]' "$(body_of "$out")")
out=$(raw --half "GET /v1/jobs/$id HTTP/1.1\r\nHost: x\r\n\r\n")
assert_eq 200 "$(statuses "$out")" "GET /v1/jobs/ID then SHUT_WR: answered"
assert_eq half.py "$(js 'd["scriptName"]' "$(body_of "$out")")" "the job read back half-closed"
out=$(raw --half "POST /v1/jobs HTTP/1.0\r\nContent-Length: ${#J}\r\n\r\n$J")
assert_eq 201 "$(statuses "$out")" "HTTP/1.0 POST then SHUT_WR"
out=$(raw --half "GET /v1/stats HTTP/1.0\r\n\r\n")
assert_eq 200 "$(statuses "$out")" "HTTP/1.0 GET /v1/stats then SHUT_WR"
assert_eq 2 "$(js 'd["orders"]["new"]' "$(body_of "$out")")" "two jobs stored, two answered"
out=$(raw --half "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: ${#J}\r\n\r\n${J}GET /v1/orders/$id HTTP/1.1\r\nHost: x\r\n\r\n")
assert_eq "200 201 200" "$(statuses "$out")" "three pipelined requests, then SHUT_WR"
out=$(raw --half "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{\"scriptName\":")
assert_eq 400 "$(statuses "$out")" "a body cut short by the FIN"
out=$(raw --half "GET /v1/sta")
assert_eq 400 "$(statuses "$out")" "a request line cut short by the FIN"
assert_eq 3 "$(norders)" "nothing stored by the cut requests"
# a claim the FIN finds being made is given back, never left assigned to a
# claimer that may have gone: either it was answered, or the order is back
out=$(raw --half "POST /v1/claim?worker=hc&wait=0 HTTP/1.1\r\nHost: x\r\n\r\n")
case "$(statuses "$out")" in
200)	b=$(body_of "$out")
	curl -sS -X POST "$URL/v1/orders/$(js 'd["order"]["_id"]' "$b")/release?token=$(js 'd["token"]' "$b")" >/dev/null;;
"")	;;
*)	fail "a half-closed claim: $out";;
esac
all_new() { [ "$(norders)" = 3 ]; }
WAIT_S=10 wait_for all_new
# ---- headers that must be single ----
for h in Authorization Origin Content-Type Host Transfer-Encoding X-Spool-Token; do
	case $h in
	Transfer-Encoding) v1=chunked v2=chunked;;
	Origin) v1=https://lab v2=.example;;
	*) v1=a v2=b;;
	esac
	out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\n$h: $v1\r\n$h: $v2\r\n\r\n")
	[ "$h" = Host ] && out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: $v1\r\nHost: $v2\r\n\r\n")
	assert_eq 400 "$(statuses "$out")" "$h twice"
	assert_match "repeated" "$out" "the 400 for $h twice says why"
done
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\norigin: https://lab\r\nORIGIN: .example\r\n\r\n")
assert_eq 400 "$(statuses "$out")" "Origin twice, in other cases"
out=$(raw "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: ${#J}\r\nContent-Length: ${#J}\r\n\r\n$J")
assert_eq 400 "$(statuses "$out")" "Content-Length twice"
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\nOrigin: https://lab.example\r\nConnection: close\r\n\r\n")
assert_match 'Access-Control-Allow-Origin: https://lab.example' "$out" "one Origin still works"
# a header that may repeat still may
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\nAccept: a/b\r\nAccept: c/d\r\nConnection: close\r\n\r\n")
assert_eq 200 "$(statuses "$out")" "Accept twice is fine"

# ---- whitespace before the colon ----
out=$(raw "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length : ${#J}\r\n\r\n$J")
assert_eq 400 "$(statuses "$out")" "'Content-Length : N'"
out=$(raw "GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Other  : y\r\n\r\n")
assert_eq 400 "$(statuses "$out")" "'X-Other  : y'"
assert_eq 3 "$(norders)" "nothing stored by the refused requests"

kill -0 "$SPOOLD_PID" || fail "spoold died"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
