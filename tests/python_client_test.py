"""Drives the Python client (python/spool) against a real spoold or a real
spool directory, with real runners working (tests/t-python-client.sh starts
them). Asserts what a user of the client would check.

    python3 tests/python_client_test.py boss URL TOKEN-FILE
    python3 tests/python_client_test.py dir SPOOL-DIR
"""

import io
import os
import sys

import spool


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def expect_error(fn, want, status=None):
    try:
        fn()
    except spool.SpoolError as e:
        check(want in str(e), "error %r should say %r" % (str(e), want))
        check(status is None or e.status == status, "status %r, expected %r" % (e.status, status))
        return e
    raise SystemExit("FAIL: no SpoolError (expected %r)" % want)


SPEC = {"name": "py-sweep",
        "base": {"scriptName": "train.py", "spool": {"maxAttempts": 1}},
        "grid": {"lr": [0.01, 0.03, 0.1], "layers": [1, 2]}}


def sweep_end_to_end(c):
    err = io.StringIO()
    real, sys.stderr = sys.stderr, err
    try:
        sw = c.sweep(SPEC)
        check(len(sw) == 6 and sw.name == "py-sweep", "sweep of 6 jobs: %r" % sw)
        counts = c.wait(sw, progress=True, timeout=120, interval=0.2)
    finally:
        sys.stderr = real
    check(counts["done"] == 6, "all six done: %r" % counts)
    lines = err.getvalue().splitlines()
    check(lines and lines[-1] == "[" + "#" * 30 + "] 6/6 done, 0 running, 0 queued, 0 failed",
          "last progress line: %r" % lines[-1:])
    # submitting the same sweep again adds nothing: the ids are the content's
    again = c.sweep(SPEC)
    check(again.ids == sw.ids, "same ids for the same sweep")
    check(c.status(sw)["done"] == 6, "nothing re-queued")

    rows = c.results(sw)
    check(len(rows) == 6, "six result rows")
    for r in rows:
        check(set(r["params"]) == {"lr", "layers"}, "params are the grid's: %r" % r["params"])
        want = round(abs(r["params"]["lr"] - 0.03) * 100 + r["params"]["layers"], 6)
        check(r["outcome"]["loss"] == want, "loss of %r: %r, expected %r" % (r["params"], r["outcome"], want))
        check(r["state"] == "done" and r["attempt"] == 1, "state and attempt: %r" % r)
        check(r["run"]["exit"] == 0 and r["run"]["wallMs"] >= 0 and r["run"]["worker"].startswith("py-"),
              "the run's figures: %r" % r["run"])
    # by the sweep's name too
    check(sorted(x["id"] for x in c.results("py-sweep")) == sorted(sw.ids), "results by name")

    board = c.leaderboard(key="loss", sweep="py-sweep", limit=2)
    best = board["rows"][0]
    check(best["job"]["lr"] == 0.03 and best["job"]["layers"] == 1 and best["value"] == 1,
          "best run: %r" % best)
    check(len(board["rows"]) == 2 and board["counts"]["done"] >= 6, "board: %r" % board)
    check("training lr=0.03" in c.log(best["id"]), "the script's stderr is in its log")
    check(c.leaderboard(key="nosuch")["rows"] == [] and c.leaderboard(sweep="nosuch")["rows"] == [],
          "an empty board, not an error, for a key or sweep nothing has")

    try:
        import pandas  # noqa: F401
        df = rows.to_frame()
        check(list(df.columns[:3]) == ["id", "state", "attempt"] and "lr" in df.columns
              and "loss" in df.columns and len(df) == 6, "frame: %r" % list(df.columns))
    except ImportError:
        expect_error(rows.to_frame, "needs pandas")

    # a job the script refuses (status 400) fails at once; requeue and cancel
    bad = c.submit({"scriptName": "train.py", "lr": "oops", "spool": {"maxAttempts": 3}})
    c.wait([bad], progress=False, timeout=60, interval=0.2)
    r = c.results([bad])[0]
    check(r["state"] == "failed" and r["outcome"]["status"] == 400, "a 400 fails: %r" % r)
    check(c.requeue(bad) == "new" or c.status([bad])["total"] == 1, "requeued")
    c.wait([bad], progress=False, timeout=60, interval=0.2)
    held = c.submit({"scriptName": "train.py", "lr": 0.5, "spool": {"delay": 3600}})
    check(c.cancel(held) == "cancelled", "cancel")
    check(c.status([held])["cancelled"] == 1, "cancelled state")

    # errors carry the library's or the server's own words
    expect_error(lambda: c.submit({"epochs": 1}), 'no "scriptName"')
    expect_error(lambda: c.submit([{"scriptName": "a"}, {"scriptName": "b", "spool": {"maxAtempts": 2}}]),
                 'unknown job option "spool"."maxAtempts"')
    expect_error(lambda: c.submit({"command": ["train.py", "--lr", "{lr}"]}),
                 "names {lr}, which is not a field of the job")
    expect_error(lambda: c.cancel("0123456789abcdef01234567"), "0123456789abcdef01234567")
    expect_error(lambda: c.log(held), "")
    return sw


def main():
    mode = sys.argv[1]
    if mode == "boss":
        url, tokfile = sys.argv[2], sys.argv[3]
        e = expect_error(lambda: spool.connect(url, token="wrong-token").submit({"scriptName": "x"}),
                         "", status=401)
        check(e.message, "a 401 carries the server's message")
        c = spool.connect(url, token_file=tokfile)
        e = expect_error(lambda: c.submit({"epochs": 1}), 'no "scriptName"', status=400)
        os.environ["SPOOL_BOSS"], os.environ["SPOOL_TOKEN_FILE"] = url, tokfile
        check(spool.connect().status([])["total"] == 0, "connect() from the environment")
        expect_error(lambda: spool.connect("http://127.0.0.1:1").submit({"scriptName": "x"}),
                     "cannot reach the boss")
    else:
        c = spool.open_spool(sys.argv[2])
        expect_error(lambda: spool.open_spool(sys.argv[2] + "-nosuch"), "spoolctl --spool")
    sweep_end_to_end(c)
    print("ok", mode)


main()
