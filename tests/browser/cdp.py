"""A minimal Chrome DevTools protocol client: Python's standard library only.

Starts a headless chromium with its own fresh profile, finds its page
target through the DevTools HTTP endpoint, and speaks to it over a
WebSocket (RFC 6455, client side: masked frames out, plain frames in).
Enough for the page's browser test: navigate, evaluate, wait for a
condition, answer a prompt, take a screenshot.
"""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import time
import sys
import urllib.request

T0 = time.time()

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions",
         "--window-size=1280,1000"]


class Error(Exception):
    pass


class WebSocket:
    def __init__(self, url, timeout):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise Error("not a ws:// url: %r" % url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (m.group(3), m.group(1), m.group(2), key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Error("websocket handshake: connection closed")
            head += chunk
        head, self.rest = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise Error("websocket handshake refused: %r" % head[:200])

    def _read(self, n):
        while len(self.rest) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise Error("websocket closed")
            self.rest += chunk
        out, self.rest = self.rest[:n], self.rest[n:]
        return out

    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + body)

    def recv(self):
        """One whole text message (continuation frames joined)."""
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 0x8:
                raise Error("websocket closed by the browser")
            if op == 0x9:       # ping: answer pong (masked, as a client must)
                m = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + m +
                                  bytes(b ^ m[i % 4] for i, b in enumerate(data)))
                continue
            if op in (0x1, 0x2, 0x0):
                msg += data
                if b0 & 0x80:
                    return msg.decode()


class Browser:
    def __init__(self, chromium, profile, timeout=30):
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [chromium] + FLAGS + ["--user-data-dir=" + profile,
                                  "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)     # its own group: closed with its helpers
        port = None
        deadline = time.time() + timeout
        self.log = []
        while time.time() < deadline:       # "DevTools listening on ws://..."
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if not port:
            self.close()
            raise Error("chromium did not start: " + "".join(self.log[-20:]))
        # keep draining its stderr so that it never blocks on a full pipe
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        targets = []
        while time.time() < deadline and not targets:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if not targets:
                time.sleep(0.1)
        if not targets:
            raise Error("chromium has no page target")
        self.ws = WebSocket(targets[0]["webSocketDebuggerUrl"], timeout)
        self.seq = 0
        self.events = []
        self.prompt_answer = None
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def _handle(self, msg):
        self.events.append(msg)
        if msg.get("method") == "Page.javascriptDialogOpening":
            self.dialogs = getattr(self, "dialogs", []) + [msg["params"]]
            p = {"accept": self.prompt_answer is not None}
            if self.prompt_answer is not None:
                p["promptText"] = self.prompt_answer
            self.send("Page.handleJavaScriptDialog", p)

    def send(self, method, params=None):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params or {}}))
        return self.seq

    def call(self, method, params=None):
        n = self.send(method, params)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == n:
                if "error" in msg:
                    raise Error("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self._handle(msg)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise Error("%s: %s" % (expr[:80], r["exceptionDetails"].get("exception", {})
                                    .get("description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def wait(self, expr, what, timeout=None):
        """Until expr is truthy in the page; its value. Polls, no fixed sleep."""
        deadline = time.time() + (timeout or self.timeout)
        last = None
        while time.time() < deadline:
            try:
                v = self.eval(expr)
                if v:
                    if os.environ.get("CDP_TRACE"):
                        print("%.1fs %s" % (time.time() - T0, what), file=sys.stderr)
                    return v
                last = v
            except Error as e:
                last = str(e)
            time.sleep(0.1)
        raise Error("timed out waiting for %s (%s); last: %r" % (what, expr[:120], last))

    def problems(self):
        """What the pages reported: uncaught exceptions, errors in the log
        (a CSP refusal among them), but not HTTP errors the page handles."""
        out = []
        for m in self.events:
            if m.get("method") == "Runtime.exceptionThrown":
                d = m["params"]["exceptionDetails"]
                out.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif (m.get("method") == "Log.entryAdded" and m["params"]["entry"]["level"] == "error"
                  and m["params"]["entry"]["source"] != "network"):   # (a 404 the page expects)
                out.append("log: " + m["params"]["entry"]["text"])
            elif (m.get("method") == "Runtime.consoleAPICalled" and m["params"]["type"] == "error"):
                out.append("console: %r" % m["params"]["args"])
        return out

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        """Stop chromium and the helper processes it started (its group)."""
        import signal
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
