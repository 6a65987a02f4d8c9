#!/usr/bin/env python3
"""The load of tests/t-powercut.sh: producers and workers on spoold, writing
down (on the real disk, one line at a time, flushed) every answer that
acknowledged something, until it is killed.

    powercut_load.py URL OUTDIR CYCLE [--producers N] [--workers N]

OUTDIR/acked.P     one job id per line: a 201 to POST /v1/jobs
OUTDIR/done.W      "ID TOKEN BY" per line: a 200 to its complete
OUTDIR/claimed.W   "ID TOKEN" per line: a claim handed out (it may be undone)
"""
import http.client
import json
import os
import sys
import threading
import urllib.parse


def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(c, method, path, body=None):
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def producer(url, out, cycle, n):
    c = conn(url)
    f = open(os.path.join(out, "acked.%d" % n), "a", buffering=1)
    seq = 0
    while True:
        seq += 1
        job = {"scriptName": "x.py", "cycle": cycle, "producer": n, "seq": seq, "pad": "p" * 300}
        try:
            st, body = call(c, "POST", "/v1/jobs", json.dumps(job))
        except (OSError, http.client.HTTPException):
            c = conn(url)
            continue
        if st == 201:
            f.write(json.loads(body)["ids"][0] + "\n")


def worker(url, out, n):
    c = conn(url)
    fd = open(os.path.join(out, "done.%d" % n), "a", buffering=1)
    fc = open(os.path.join(out, "claimed.%d" % n), "a", buffering=1)
    me = "w%d" % n
    while True:
        try:
            st, body = call(c, "POST", "/v1/claim?worker=%s&wait=2&lease=600" % me)
            if st != 200:
                continue
            a = json.loads(body)
            jid, tok = a["order"]["_id"], a["token"]
            fc.write("%s %s\n" % (jid, tok))
            outcome = json.dumps({"status": 200, "by": me, "token": tok, "loss": 0.5})
            st, body = call(c, "POST", "/v1/orders/%s/complete?token=%s" % (jid, tok), outcome)
            if st == 200:
                fd.write("%s %s %s\n" % (jid, tok, me))
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            c = conn(url)


def main():
    url, out, cycle = sys.argv[1], sys.argv[2], int(sys.argv[3])
    np = int(sys.argv[sys.argv.index("--producers") + 1]) if "--producers" in sys.argv else 3
    nw = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 2
    ts = [threading.Thread(target=producer, args=(url, out, cycle, i), daemon=True) for i in range(np)]
    ts += [threading.Thread(target=worker, args=(url, out, i), daemon=True) for i in range(nw)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if __name__ == "__main__":
    main()
