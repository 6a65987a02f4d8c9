# spoold: malformed and hostile input. Garbage, oversized request line,
# headers and body, bad JSON, wrong methods, '..', '/', NUL and %2e%2e in
# ids, pipelined requests, a client sending one byte a second, idle
# connections, the connection cap. Each gets the right answer or is cut off;
# afterwards the daemon answers /healthz and every stored job is intact.
. "$TOP/tests/lib.sh"

start_spoold "$TESTDIR/sp" --request-timeout 2 --idle-timeout 3 --max-conns 40

# jobs stored before the abuse, to compare afterwards
http POST /v1/jobs -d '[{"scriptName":"keep1.py","x":1},{"scriptName":"keep2.py","x":[1,2,{"y":"z"}]}]'
assert_eq 201 "$CODE" "submit the keepers"
IDS=$(js '" ".join(d["ids"])')
for id in $IDS; do curl -sS "$URL/v1/jobs/$id" > "before.$id"; done

# raw: send bytes on one connection, print what comes back (until close or timeout)
cat > raw.py <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(10)
def send(b): s.sendall(b)
def read_all(s):
    """Everything the server sends until it closes."""
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        out += d
    return out
if mode == "garbage":
    send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
elif mode == "nul":
    send(b"GET /v1/jobs/abc\x00def HTTP/1.1\r\nHost: x\r\n\r\n")
elif mode == "url":
    send(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
elif mode == "headers":
    send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 20000 + b"\r\n\r\n")
elif mode == "nheaders":
    send(b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n")
elif mode == "bigbody":
    send(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n{\"scriptName\":")
elif mode == "chunked":
    send(b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(100):
        try:
            send(b"1000\r\n" + b"x" * 4096 + b"\r\n")
        except OSError:
            break
elif mode == "pipeline":
    body = b'{"scriptName":"piped.py"}'
    send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
         b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
         b"GET /v1/nowhere/at/all HTTP/1.1\r\nHost: x\r\n\r\n"
         b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (len(body), body))
elif mode == "slow":
    t0 = time.time()
    import select
    try:
        for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n":
            send(bytes([ch]))
            if select.select([s], [], [], 1)[0]:
                break	# the server answered: stop sending
    except OSError:
        pass
    data = read_all(s)	# the whole answer: the server closes after it
    print("after %.1f s" % (time.time() - t0))
    sys.stdout.write(data.decode("latin-1")); sys.exit(0)
elif mode == "idle":
    t0 = time.time()
    data = s.recv(100)
    print("closed after %.1f s, %d bytes" % (time.time() - t0, len(data))); sys.exit(0)
out = read_all(s)
sys.stdout.write(out.decode("latin-1"))
EOF
raw() { python3 raw.py "$PORT" "$1"; }
status_of() { head -1 | tr -d '\r' | awk '{print $2}'; }

assert_eq 400 "$(raw garbage | status_of)" "garbage bytes"
assert_eq 400 "$(raw nul | status_of)" "NUL in the request line"
assert_eq 414 "$(raw url | status_of)" "9 KB request target"
assert_eq 431 "$(raw headers | status_of)" "20 KB header"
assert_eq 431 "$(raw nheaders | status_of)" "200 header lines"
assert_eq 413 "$(raw bigbody | status_of)" "Content-Length of 100 MB"
assert_eq 413 "$(raw chunked | status_of)" "chunked body over the cap"

# pipelined: four answers, in order, the 404 in its place
raw pipeline > piped.out
assert_eq "200 201 404 200" "$(grep -a '^HTTP/1.1' piped.out | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')" "pipelined answers in order"
grep -aq '"orders"' piped.out || fail "stats answer missing from the pipeline"

# a big body within the cap, sent after "Expect: 100-continue", is taken
python3 -c 'import json; print(json.dumps([{"scriptName": "big.py", "pad": "x" * 500000, "i": i} for i in range(3)]))' > bulk.json
out=$(curl -sS -v -o bulk.out -w '%{http_code}' -X POST --data-binary @bulk.json -H 'Expect: 100-continue' "$URL/v1/jobs" 2> bulk.err)
assert_eq 201 "$out" "1.5 MB bulk after 100-continue"
grep -q '< HTTP/1.1 100 Continue' bulk.err || fail "no 100 Continue: $(grep '^[<>]' bulk.err)"

# a body over the cap sent by curl (Expect: 100-continue) gets 413 without being sent
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > big.json
http POST /v1/jobs --data-binary @big.json;	assert_eq 413 "$CODE" "17 MB body"
http POST /v1/jobs -H 'Content-Type: application/json' -d '{"scriptName": "x.py", "a": [1, 2,]}'
assert_eq 400 "$CODE" "bad JSON"; assert_match 'byte' "$(js 'd["error"]')" "bad JSON says where"
http POST /v1/jobs -d "$(python3 -c 'print("[" * 100 + "]" * 100)')"; assert_eq 400 "$CODE" "nesting too deep"
python3 -c 'import json; print(json.dumps({"scriptName": "a.py", "x": [0] * 70000}))' > tokens.json
http POST /v1/jobs --data-binary @tokens.json;	assert_eq 413 "$CODE" "a job of 70,000 JSON tokens"
python3 -c 'import json; print(json.dumps([{"scriptName": "a.py"}, {"scriptName": "a.py", "x": [0] * 70000}]))' > tokens.json
http POST /v1/jobs --data-binary @tokens.json;	assert_eq 413 "$CODE" "an array holding a job of 70,000 tokens"
assert_eq 1 "$(js 'd["index"]')" "the index of the oversized job"
python3 -c 'import json; print(json.dumps({"scriptName": "a.py", "x": "y" * (1 << 20)}))' > bytes.json
http POST /v1/jobs --data-binary @bytes.json;	assert_eq 413 "$CODE" "a job over 1 MiB in a bulk body"
http POST "/v1/orders/$(echo $IDS | cut -d' ' -f1)/complete?token=0123456789abcdef" -d '{"a":'
assert_eq 400 "$CODE" "truncated outcome"

# methods
http PUT /v1/jobs -d '{}';		assert_eq 405 "$CODE" "PUT /v1/jobs"
http GET /v1/claim;			assert_eq 405 "$CODE" "GET /v1/claim"
http POST /healthz;			assert_eq 405 "$CODE" "POST /healthz"
http GET /callback;			assert_eq 405 "$CODE" "GET /callback"
http DELETE /job/create;		assert_eq 405 "$CODE" "DELETE /job/create"
http OPTIONS /v1/jobs;			assert_eq 403 "$CODE" "CORS preflight with no allowed origin"

# ids that try to leave their directory
for p in '/v1/jobs/..' '/v1/jobs/%2e%2e' '/v1/jobs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd' \
	 '/v1/jobs/..%2Fjobs' '/v1/jobs/abc%00def' '/v1/orders/%2e%2e/log' \
	 '/v1/outcomes/0123456789abcdef01234567%2F' '/retrieve/job/%2e' \
	 "/v1/orders/$(echo $IDS | cut -d' ' -f1)%00/cancel"; do
	http GET "$p" --path-as-is
	[ "$CODE" = 400 ] || [ "$CODE" = 405 ] || fail "$p: expected 400, got $CODE"
done
http GET '/v1/jobs/../../etc/passwd' --path-as-is;	assert_eq 404 "$CODE" "../.. as segments"
http GET '/v1/jobs/x' -H 'Host: %00';			assert_eq 400 "$CODE" "bad id, odd host"
http POST '/v1/claim?worker=%2e%2e%2fx&wait=0';		assert_eq 400 "$CODE" "worker ../x"
http POST '/v1/claim?worker=a%00b&wait=0';		assert_eq 400 "$CODE" "worker with NUL"
http POST /v1/workers -d '{"name":"a/b"}';		assert_eq 400 "$CODE" "worker name with /"
http POST /callback -d '{"jobId":"../../../etc/passwd"}';	assert_eq 404 "$CODE" "callback jobId ../"

# a client sending one byte a second is cut off (request timeout 2 s): 408 and close
out=$(raw slow)
assert_match '^after [2-7]\.' "$out" "slow client cut off in time"
grep -q '408' <<<"$out" || fail "slow client did not get 408: $out"

# idle keep-alive connections are closed (idle timeout 3 s)
out=$(raw idle); assert_match '^closed after ([2-9]|1[0-9])\.[0-9] s, 0 bytes' "$out" "idle connection"

# the connection cap: 60 idle connections, the ones past 40 get 503
cat > many.py <<'EOF'
import select, socket, sys, time
port = int(sys.argv[1]); socks = []; refused = 0; got = {}
for i in range(60):
    socks.append(socket.create_connection(("127.0.0.1", port)))
# the refused get 503 at once, the others are closed after the idle timeout;
# each answer is judged once the server closed, so it is whole
end = time.time() + 20
while socks and time.time() < end:
    ready = select.select(socks, [], [], max(0, end - time.time()))[0]
    for s in ready:
        try:
            d = s.recv(4096)
        except ConnectionResetError:
            d = b""
        if d:
            got[s] = got.get(s, b"") + d
            continue
        d = got.get(s, b"")
        if b" 503 " in d:
            head, _, body = d.partition(b"\r\n\r\n")
            n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            assert n == len(body), (n, body)	# the canned answer is framed right
            refused += 1
        socks.remove(s)
print(refused, len(socks))
EOF
# (a connection of an earlier check may not be closed yet: 20 to 22 refused)
assert_match '^2[012] 0$' "$(python3 many.py "$PORT")" "60 connections on a cap of 40: refused, and left open"

# mutation fuzz: 600 damaged copies of valid requests (flipped bytes,
# cuts, splices, repeats), each on its own connection, half-closed after
# sending so the daemon sees the end; under ASan this is the memory check
cat > fuzz.py <<'EOF2'
import random, socket, sys
port, ids = int(sys.argv[1]), sys.argv[2].split()
random.seed(int(sys.argv[3]))
base = [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n\r\n[{"scriptName":"f.py","spool":{"priority":1}}]',
    b"POST /v1/claim?worker=fz&wait=0&tags=a,b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/orders/" + ids[0].encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/orders/" + ids[0].encode() + b"/complete?token=0123456789abcdef HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"status\": 200}",
    b'POST /callback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n{"jobId":"x","status":200}\r\n0\r\n\r\n',
    b"GET /v1/leaderboard?key=loss&order=desc&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n",
    b'POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n{"name":"fz-1"}',
]
def mutate(b):
    b = bytearray(b)
    for _ in range(random.randint(1, 4)):
        k, i = random.randrange(5), random.randrange(len(b) + 1)
        if k == 0 and b: b[i % len(b)] = random.randrange(256)
        elif k == 1: b = b[:i]
        elif k == 2: b[i:i] = bytes(random.randrange(256) for _ in range(random.randint(1, 8)))
        elif k == 3: b[i:i] = random.choice(base)
        else: b[i:i] = b[i:i + random.randint(1, 40)] * random.randint(2, 50)
    return bytes(b)
answers = 0
for n in range(600):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(3)
    try:
        s.sendall(mutate(random.choice(base))); s.shutdown(socket.SHUT_WR)
        while True:
            d = s.recv(65536)
            if not d: break
            answers += d.startswith(b"HTTP/1.1 ")
    except OSError:
        pass
    s.close()
print(answers)
EOF2
n=$(python3 fuzz.py "$PORT" "$IDS" 1) || fail "fuzz client"
echo "fuzz: 600 damaged requests, $n answered"

# still standing, and nothing lost
kill -0 "$SPOOLD_PID" || fail "spoold died"
http GET /healthz;	assert_eq 200 "$CODE" "healthz after the abuse"
for id in $IDS; do
	curl -sS "$URL/v1/jobs/$id" | cmp -s - "before.$id" || fail "job $id changed"
done
for id in $IDS; do
	http GET "/v1/orders/$id"; assert_eq 200 "$CODE" "order $id after the fuzz"
done
"$BIN/spoolctl" --spool "$TESTDIR/sp" fsck > fsck.out || fail "fsck found problems: $(cat fsck.out)"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
