"""The page in headless chromium, asserted on its rendered DOM (issue 14).

Run by tests/t-page-browser.sh, which owns spoold and the runners: this
script opens the page, writes the --ready file (the runners start then),
watches the page follow the sweeps without reloading, then drives every
view and checks each action's effect through the API. Exit 0 pass, 1 fail
(a chromium that does not start too).
"""
import argparse
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the tree
import cdp  # noqa: E402

XSS = "<script>alert(1)</script>"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def api(base, path, method="GET"):
    req = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    for a in ("--chromium", "--url", "--token-url", "--big-url", "--token", "--screens", "--ready",
              "--s3", "--hold", "--go", "--profile", "--runners"):
        ap.add_argument(a, required=True)
    o = ap.parse_args()
    shots = o.screens

    try:
        b = cdp.Browser(o.chromium, o.profile, timeout=40)
    except (cdp.Error, OSError) as e:
        # installed but not starting is a failure, not a skip
        fail("chromium is installed but cannot be started: %s" % e)
    try:
        run(b, o, shots)
    except cdp.Error as e:
        try:
            b.screenshot(os.path.join(shots, "failure.png"))
        except Exception:
            pass
        fail(str(e))
    finally:
        b.close()


def alive(pid):
    """A process that has not exited (a zombie waiting for its parent has)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def loaded_after(b, t0):
    """Until the page finished a refresh that ran after t0 (ms): one that
    was under way at t0 runs again with the new view before it says so."""
    b.wait("Number(document.body.dataset.loaded || 0) > %d" % t0, "a refresh of the page")


def goto(b, url):
    """Load url: a new document, refreshed once."""
    b.eval("window.__oldDocument = 1")
    b.navigate(url)
    b.wait("!window.__oldDocument && document.body && document.body.dataset.loaded",
           "the page at " + url)


def settle(b, fn):
    """Do fn (a click, a change) and wait for the refresh it causes."""
    t0 = now_ms(b)
    fn()
    loaded_after(b, t0)


def now_ms(b):
    return b.eval("Date.now()")


def texts(b, sel):
    return b.eval("[...document.querySelectorAll(%s)].map(e => e.textContent)" % json.dumps(sel))


def click(b, sel, what):
    b.wait("(() => { const e = document.querySelector(%s); if (!e || e.disabled) return false;"
           " e.click(); return true; })()" % json.dumps(sel), "to click " + what)


def sweep_row(b, name):
    """The cells of the sweeps table's row for name."""
    return b.eval("""(() => { for (const tr of document.querySelectorAll('#sweeps tbody tr')) {
        const c = [...tr.children].map(td => td.textContent);
        if (c[0] === %s) return c; } return null; })()""" % json.dumps(name))


def header(b, table):
    return texts(b, "#%s thead th" % table)


def col(b, table, name):
    """The cells of column name (header text before any sort mark)."""
    return b.eval("""(() => { const t = document.getElementById(%s);
        const h = [...t.querySelectorAll('thead th')].map(th => th.textContent.replace(/ [\\u25b2\\u25bc]$/, ''));
        const i = h.indexOf(%s); if (i < 0) return null;
        return [...t.querySelectorAll('tbody tr')].map(tr => tr.children[i] ? tr.children[i].textContent : null);
      })()""" % (json.dumps(table), json.dumps(name)))


def run(b, o, shots):
    url = o.url + "/"
    # the page, before any runner: the sweeps, all queued
    goto(b, url)
    b.eval("window.__sameDocument = 1")
    row = sweep_row(b, "s1")
    check(row is not None, "the sweeps table lists s1: %r" % texts(b, "#sweeps tbody tr"))
    check(row[2] == "0 / 9" and row[8] == "9", "s1 is 9 queued, 0 finished: %r" % row)
    b.screenshot(os.path.join(shots, "1-board-queued.png"))
    open(o.ready, "w").close()

    # the runners work: the page follows without reloading
    b.wait("""(() => { const r = [...document.querySelectorAll('#sweeps tbody tr')]
        .map(tr => [...tr.children].map(td => td.textContent));
        const f = n => r.find(c => c[0] === n);
        return f('s1') && f('s1')[2] === '9 / 9' && f('s1')[3] === '9' && f('s2') && f('s2')[5] === '2'
               && f('s6') && f('s6')[2] === '2 / 2' && f('s6')[3] === '1' && f('s6')[4] === '1'
               && f('s4') && f('s4')[3] === '2'; })()""",
           "s1 9 done, s2 2 failed, s4 2 done, s6 1 done 1 pruned on the page", timeout=60)
    check(b.eval("window.__sameDocument") == 1, "the page reloaded while refreshing")
    check(sweep_row(b, "s3")[8] == "1", "s3's job stays queued (no runner has its tag)")
    b.screenshot(os.path.join(shots, "2-board-done.png"))

    # s5's job runs until told: the running list and its worker's row say so
    b.wait("!!document.querySelector(\"#running tbody tr[data-id='%s']\")" % o.hold, "s5's job in the running list")
    b.wait("""(() => { const r = [...document.querySelectorAll('#workers tbody tr')]
        .find(tr => [...tr.children[4].querySelectorAll('a.id')].some(a => a.textContent === %s));
        return !!r && r.children[8].textContent === 'alive'; })()""" % json.dumps(o.hold),
           "the worker running s5's job shows it, alive")
    slots = sorted(col(b, "workers", "slots"))
    check(slots == ["2", "2"], "each worker's slots: %r" % slots)
    b.screenshot(os.path.join(shots, "2-workers-running.png"))
    # its page follows the log live, while the run lasts (the markup as text)
    goto(b, url + "?job=" + o.hold)
    b.wait("document.getElementById('job-state').textContent === 'assigned' && "
           "document.getElementById('job-log').textContent.includes('<b>bold?</b> is text')",
           "the running job's log, live", timeout=60)
    check(b.eval("document.querySelectorAll('#job-log *').length") == 0, "the log is text, no element")
    check(b.eval("document.getElementById('job-log-live').textContent").startswith("(live"), "the log said live")
    check("running now" in texts(b, "#job-attempts tbody td"), "the attempt running now: %r" % texts(b, "#job-attempts tbody tr"))
    b.screenshot(os.path.join(shots, "2-job-live.png"))
    open(o.go, "w").close()
    b.wait("document.getElementById('job-state').textContent === 'done' && "
           "!document.getElementById('job-log-live').textContent && "
           "document.getElementById('job-log').textContent.includes('[runner: exit code 0')",
           "the held job done, its whole log shown", timeout=60)
    goto(b, url)

    # all sweeps: 11 done runs; the sweep filter narrows the table to s1's 9
    t = now_ms(b)
    loaded_after(b, t)
    all_rows = len(texts(b, "#results tbody tr"))
    check(all_rows == 12, "all sweeps: 12 ranked runs (s6's pruned one left out), got %d" % all_rows)
    check("(1 pruned left out)" in b.eval("document.getElementById('results-of').textContent"),
          "the pruned run said left out")
    settle(b, lambda: click(b, "#sweeps a.sweep-link[href*='sweep=s1']", "sweep s1"))
    b.wait("location.search.includes('sweep=s1')", "the sweep in the URL")
    b.wait("document.querySelectorAll('#results tbody tr').length === 9 && "
           "document.getElementById('results-of').textContent.includes('s1')", "s1's 9 runs")
    h = [x.replace(" \u25b2", "").replace(" \u25bc", "") for x in header(b, "results")]
    check("lr" in h and "opt" in h, "the varying parameters are columns: %r" % h)
    check("epochs" not in h and "scriptName" not in h, "constant parameters are not columns: %r" % h)
    check("loss" in h and "acc" in h, "every outcome key is a column: %r" % h)
    # ranked by loss, ascending; the best run highlighted
    losses = [float(x) for x in col(b, "results", "loss")]
    check(losses == sorted(losses), "ranked by loss: %r" % losses)
    best = b.eval("[...document.querySelectorAll('#results tbody tr.best')].map(tr => tr.children[0].textContent)")
    check(best == ["1"], "one best run, rank 1, highlighted: %r" % best)
    # the string holding markup is text: three cells show it, no element made
    cells = b.eval("[...document.querySelectorAll('#results td')].filter(td => td.textContent === %s).length"
                   % json.dumps(XSS))
    check(cells == 3, "the <script> value shows as text in 3 cells, got %r" % cells)
    check(b.eval("document.querySelectorAll('script').length") == 2,
          "no script element beyond the page's own two")
    check(b.eval("document.querySelectorAll('main script, main img, main iframe').length") == 0,
          "no element made from a value")
    check(not getattr(b, "dialogs", []), "no dialog opened (alert did not run)")
    # the queued list narrows with the sweep too
    check(texts(b, "#queued tbody td.muted") == ["(none)"], "s1 has nothing queued")
    b.screenshot(os.path.join(shots, "3-results-s1.png"))

    # the plot: loss against a numeric parameter, then a categorical one
    b.wait("typeof Chart !== 'undefined' && Chart.getChart('plot') && "
           "Chart.getChart('plot').data.datasets[0].data.length === 9", "a scatter of s1's 9 runs")
    check(b.eval("Chart.getChart('plot').config.type") == "scatter", "a scatter plot")
    check(b.eval("Chart.getChart('plot').options.scales.x.title.text") == "lr", "x axis labelled lr")
    check(b.eval("Chart.getChart('plot').options.scales.y.title.text") == "loss", "y axis labelled loss")
    opts = b.eval("[...document.getElementById('param').options].map(o => o.value)")
    check(sorted(opts) == ["lr", "opt"], "the parameters offered for the plot: %r" % opts)
    settle(b, lambda: b.eval("(() => { const s = document.getElementById('param'); s.value = 'opt';"
                             " s.dispatchEvent(new Event('change')); })()"))
    b.wait("location.search.includes('param=opt') && Chart.getChart('plot').scales.x.type === 'category'",
           "a categorical x axis for opt")
    labels = b.eval("Chart.getChart('plot').scales.x.getLabels()")
    check(sorted(labels) == sorted(["adam", "sgd", XSS]), "categories on the x axis: %r" % labels)
    b.screenshot(os.path.join(shots, "4-plot-categorical.png"))

    # learning curves: the best three by default, then the runs ticked
    b.wait("Chart.getChart('curves') && Chart.getChart('curves').data.datasets.length === 3 && "
           "Chart.getChart('curves').data.datasets.every(d => d.data.length === 2)",
           "the best three runs' curves, two epochs each")
    check(b.eval("Chart.getChart('curves').options.scales.x.title.text") == "epoch", "curves against epoch")
    check(b.eval("Chart.getChart('curves').options.scales.y.title.text") == "loss", "curves of loss")
    ticked = b.eval("[...document.querySelectorAll('#results tbody tr')].slice(4, 6).map(tr => tr.dataset.id)")
    for rid in ticked:
        settle(b, lambda: click(b, "#results tbody tr[data-id='%s'] input[type=checkbox]" % rid, "a curve box"))
    b.wait("location.search.includes('runs=') && Chart.getChart('curves').data.datasets.length === 2",
           "two runs ticked, two curves")
    labels = b.eval("Chart.getChart('curves').data.datasets.map(d => d.label)")
    check(all(any(rid in l for l in labels) for rid in ticked), "the curves are the runs ticked: %r" % labels)
    check(b.eval("decodeURIComponent(location.search)").count(",") >= 1, "both runs in the URL")
    b.screenshot(os.path.join(shots, "4-curves.png"))

    # sorting: by a parameter, by an outcome key (the server orders both)
    settle(b, lambda: b.eval("[...document.querySelectorAll('#results thead th')]"
                             ".find(th => th.textContent === 'lr').click()"))
    b.wait("location.search.includes('sort=p.lr%3Aasc') || location.search.includes('sort=p.lr:asc')",
           "sort in the URL")
    b.wait("(() => { const t = document.querySelector('#results thead th.param'); return t && t.textContent.startsWith('lr \\u25b2'); })()",
           "the lr column marked sorted")
    lrs = [float(x) for x in col(b, "results", "lr")]
    check(lrs == sorted(lrs), "sorted by lr: %r" % lrs)
    settle(b, lambda: b.eval("[...document.querySelectorAll('#results thead th')]"
                             ".find(th => th.textContent.startsWith('acc')).click()"))
    b.wait("location.search.includes('key=acc')", "key=acc in the URL")
    b.wait("document.getElementById('results-of').textContent.includes('acc')", "ranked by acc")
    accs = [float(x) for x in col(b, "results", "acc")]
    check(accs == sorted(accs), "ranked by acc ascending: %r" % accs)

    # the view is in the URL: a fresh load of a shared link shows the same view
    goto(b, url + "?sweep=s1&key=acc&order=desc&param=opt")
    check(len(texts(b, "#results tbody tr")) == 9, "the shared view: s1's 9 runs")
    check(b.eval("document.getElementById('key').value") == "acc", "key from the URL")
    check(b.eval("document.getElementById('param').value") == "opt", "param from the URL")
    accs = [float(x) for x in col(b, "results", "acc")]
    check(accs == sorted(accs, reverse=True), "order=desc from the URL: %r" % accs)
    check(b.eval("document.querySelector('#sweeps tr.selected td').textContent") == "s1", "s1 selected")

    # the runners have drained the queue and exited (so a requeued job stays queued)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(o.runners):
        time.sleep(0.1)
    while time.time() < deadline and any(alive(p) for p in open(o.runners).read().split()):
        time.sleep(0.1)
    check(not any(alive(p) for p in open(o.runners).read().split()), "the runners exited (--drain)")

    # failed jobs of s2 with their reason; requeue one: the API says new
    goto(b, url + "?sweep=s2")
    b.wait("document.querySelectorAll('#failed tbody tr[data-id]').length === 2", "s2's two failed jobs")
    reasons = col(b, "failed", "reason")
    check(reasons == ["exit code 3 \u2014 bad column 'x'"] * 2,
          "the reason's first line and the last of stderr: %r" % reasons)
    b.screenshot(os.path.join(shots, "5-failed-s2.png"))
    fid = b.eval("document.querySelector('#failed tbody tr[data-id]').dataset.id")
    check(api(o.url, "/v1/orders/" + fid)["state"] == "failed", "failed before the action")
    settle(b, lambda: click(b, "#failed tbody tr[data-id='%s'] button" % fid, "requeue"))
    b.wait("document.getElementById('status').textContent.startsWith('requeue %s')" % fid, "the action's answer")
    st = api(o.url, "/v1/orders/" + fid)
    check(st["state"] == "new" and st["attempt"] == 0, "requeued through the API: %r" % st)
    b.wait("document.querySelectorAll('#failed tbody tr[data-id]').length <= 1 || "
           "!document.querySelector(\"#failed tbody tr[data-id='%s']\")" % fid, "the requeued job leaves the failed list")
    # its page keeps the history: attempt 1 failed with exit 3
    goto(b, url + "?job=" + fid)
    b.wait("document.getElementById('job-state').textContent === 'new'", "the requeued job's page")
    check(col(b, "job-attempts", "attempt") == ["1"], "one attempt ended: %r" % col(b, "job-attempts", "attempt"))
    check(col(b, "job-attempts", "error") == ["exit code 3"] and col(b, "job-attempts", "exit") == ["3"],
          "attempt 1 failed with exit 3: %r" % texts(b, "#job-attempts tbody tr"))
    check(col(b, "job-attempts", "worker")[0] in ("w1", "w2"), "the attempt's worker")
    b.screenshot(os.path.join(shots, "5-job-attempts.png"))

    # a job's page: parameters, outcome, run record, log
    goto(b, url + "?sweep=s1")
    b.wait("!!document.querySelector('#results tbody tr.best a.id')", "s1's best run")
    best_id = b.eval("document.querySelector('#results tbody tr.best a.id').textContent")
    settle(b, lambda: click(b, "#results tbody tr.best a.id", "the best run's job"))
    b.wait("location.search.includes('job=%s') && !document.getElementById('job-view').hidden" % best_id,
           "the job's page")
    b.wait("document.getElementById('job-log').textContent.includes('training lr=0.1 opt=')", "the job's log")
    check(b.eval("document.getElementById('job-state').textContent") == "done", "the job is done")
    kv = b.eval("Object.fromEntries([...document.querySelectorAll('#job-params tbody tr')].map(tr => [tr.children[0].textContent, tr.children[1].textContent]))")
    check(kv.get("lr") == "0.1" and kv.get("epochs") == "2", "the job's parameters: %r" % kv)
    run_rec = col(b, "job-run", "field")
    check("wallMs" in run_rec and "exit" in run_rec and "maxRssKb" in run_rec and "worker" in run_rec,
          "the run record: %r" % run_rec)
    att = col(b, "job-attempts", "attempt")
    check(att == ["1"], "one attempt: %r" % att)
    b.wait("document.querySelector('#job-artifacts tbody a') && "
           "document.querySelector('#job-artifacts tbody a').textContent === 'model.txt'", "its artifact")
    check(col(b, "job-artifacts", "bytes") == ["7"], "model.txt's size: %r" % col(b, "job-artifacts", "bytes"))
    b.wait("Chart.getChart('job-curve') && Chart.getChart('job-curve').data.datasets[0].data.length === 2",
           "the run's own curve")
    check(b.eval("document.querySelector('#job-actions [data-action=cancel]').disabled"),
          "cancel is not offered for a done job")
    b.screenshot(os.path.join(shots, "6-job.png"))

    # hold, release, cancel from a job's page (s3's queued job), each
    # checked through the API
    goto(b, url + "?job=" + o.s3)
    b.wait("document.getElementById('job-state').textContent === 'new'", "s3's job page")
    for action, state in (("hold", "held"), ("release", "new")):
        settle(b, lambda: click(b, "#job-actions [data-action=%s]" % action, action))
        b.wait("document.getElementById('job-state').textContent === '%s'" % state, "the page shows it " + state)
        check(api(o.url, "/v1/orders/" + o.s3)["state"] == state, "%s through the API" % action)
    settle(b, lambda: click(b, "#job-actions [data-action=cancel]", "cancel"))
    b.wait("document.getElementById('job-state').textContent === 'cancelled'", "the page shows it cancelled")
    check(api(o.url, "/v1/orders/" + o.s3)["state"] == "cancelled", "cancelled through the API")
    b.screenshot(os.path.join(shots, "7-job-cancelled.png"))

    # the workers, seen lately
    goto(b, url)
    b.wait("document.querySelectorAll('#workers tbody tr').length === 2", "two workers")
    names = sorted(col(b, "workers", "worker"))
    check(names == ["w1", "w2"], "the workers: %r" % names)
    states = col(b, "workers", "state")
    check(all(x.startswith("exited (") for x in states), "both runners said they exited: %r" % states)
    check(b.eval("document.querySelectorAll('#workers tbody tr.gone').length") == 2, "exited workers greyed")

    # a page of results further down the ranking: ranks 5 to 8 of s1's 9
    r = api(o.url, "/v1/results?sweep=s1&key=loss&limit=4&offset=4")
    check(r["total"] == 9 and [x["rank"] for x in r["rows"]] == [5, 6, 7, 8],
          "results page 2: %r" % [(x["rank"], x["value"]) for x in r["rows"]])

    # sorting by a parameter orders every run of the sweep, not one page:
    # big's 60 runs, 50 a page; its seeds checked against the API's runs
    runs = api(o.big_url, "/v1/results?sweep=big&limit=1000")["rows"]
    check(len(runs) == 60, "big's 60 runs through the API: %d" % len(runs))
    seeds = sorted(r["params"]["seed"] for r in runs)
    best_big = runs[0]["id"]
    goto(b, o.big_url + "/?sweep=big")
    b.wait("document.querySelectorAll('#results tbody tr').length === 50", "big's first page of 50")
    by_loss = [int(x) for x in col(b, "results", "seed")]
    check(by_loss != seeds[:50], "the page by loss is not already the seed order: %r" % by_loss)
    for direction, want in (("asc", seeds[:50]), ("desc", seeds[::-1][:50])):
        settle(b, lambda: b.eval("[...document.querySelectorAll('#results thead th')]"
                                 ".find(th => th.textContent.startsWith('seed')).click()"))
        b.wait("decodeURIComponent(location.search).includes('sort=p.seed:%s')" % direction,
               "sort=p.seed:%s in the URL" % direction)
        b.wait("(() => { const t = [...document.querySelectorAll('#results thead th.param')]"
               ".find(th => th.textContent.startsWith('seed')); return !!t && t.textContent === %s; })()"
               % json.dumps("seed " + ("\u25b2" if direction == "asc" else "\u25bc")),
               "the seed column marked " + direction)
        got = [int(x) for x in col(b, "results", "seed")]
        check(got == want, "page 1 by seed %s: the %s seeds of all 60 runs %r, got %r"
              % (direction, "smallest" if direction == "asc" else "largest", want, got))
        # the best run stays the one by the key, wherever it sorts
        marked = b.eval("[...document.querySelectorAll('#results tbody tr.best')].map(tr => tr.dataset.id)")
        on_page = b.eval("[...document.querySelectorAll('#results tbody tr')].some(tr => tr.dataset.id === %s)"
                         % json.dumps(best_big))
        check(marked == ([best_big] if on_page else []), "the best by loss highlighted: %r" % marked)
    b.screenshot(os.path.join(shots, "4-sorted-seed.png"))
    # the next page holds the 10 smallest, in the same order
    settle(b, lambda: click(b, "#results-pager button:last-child", "the results' next page"))
    b.wait("document.querySelectorAll('#results tbody tr').length === 10", "big's second page of 10")
    got = [int(x) for x in col(b, "results", "seed")]
    check(got == seeds[::-1][50:], "page 2 by seed desc: %r, got %r" % (seeds[::-1][50:], got))
    # a shared link keeps the sort
    goto(b, o.big_url + "/?sweep=big&sort=p.seed:desc")
    b.wait("document.querySelectorAll('#results tbody tr').length === 50", "the shared sorted view")
    got = [int(x) for x in col(b, "results", "seed")]
    check(got == seeds[::-1][:50], "the shared view sorted by seed desc: %r" % got)

    # nothing went wrong in the page along the way: no uncaught exception,
    # no error in its log (a refusal by the CSP would be one)
    check(b.problems() == [], "the page reported problems: %r" % b.problems())

    # a boss with a token: the page asks once, however many requests were refused
    b.prompt_answer = o.token
    b.dialogs = []
    goto(b, o.token_url + "/")
    check(len(b.dialogs) == 1 and b.dialogs[0]["type"] == "prompt",
          "the token is asked once: %r" % b.dialogs)
    check(b.eval("document.getElementById('err').textContent") == "", "no error once the token is given")
    check(texts(b, "#sweeps tbody td.muted") == ["no jobs yet"], "the empty spool behind the token")
    b.screenshot(os.path.join(shots, "8-token.png"))


if __name__ == "__main__":
    main()
