#!/usr/bin/env python3
"""Judge a spool after a soak (tests/t-soak.sh) by its files alone.

    soakcheck.py wait  SPOOL --acked FILE --timeout S
    soakcheck.py check SPOOL --acked FILE --drops FILE --runs FILE --kills FILE
                       [--jobs N] [--figures FILE]

`wait` asks the spool, every 0.2 s, whether it is quiet: nothing in new/
(no order, no drop), nothing in assigned/, no drop being ingested in tmp/,
and every acknowledged id in done/ or failed/. Exit 0 when it is, 1 (with
what is left) after S seconds.

`check` never changes the spool and never runs fsck. Its inputs:

  --acked  "ID CHANNEL" per line: an id the submitter got a yes for (201 over
           HTTP, exit 0 of spoolctl submit)
  --drops  "TAG" per line: a job file dropped into new/ (its rename or write
           returned), carrying "soakTag": TAG; its id is the spool's choice
  --runs   the scripts' run log: "start|end ID ATTEMPT PID WORKER MS"
  --kills  "MS spoold PID" or "MS runner WORKER PID": each SIGKILL, stamped
           just before it was sent

It fails (exit 1, one line per problem, at most 40 of a kind) unless:

  - every acknowledged id (and every drop) has exactly one order, in done/ or
    failed/, and the outcome its name points at (outcomes/FF/ID.AAA.TOKEN.json,
    AAA and TOKEN from the order name) exists and parses; a failed one says
    why ("error"); a job that asked to fail is failed with its own reason;
  - no outcome was overwritten: an outcome that names its attempt names the
    one in its file name, the one a done order points at names that order's
    worker, and no id has two successful (2xx) outcomes;
  - nothing is stranded (assigned/, new/, a drop in tmp/), no id is in two
    states, no order lacks its job, no acknowledged job lacks its order;
  - every file outside tmp/ that should be JSON parses (nothing half-written),
    rejected/ is empty (every drop was a valid job);
  - every job ran at least once, no claim (id, attempt) ran twice, and every
    run after a job's first is explained by a kill: of spoold, or of the
    runner that ran the job before, between that run's start (less 1 s: the
    script may start just after the kill was stamped) and this run's start.

Prints one line of figures (and writes it to --figures).
"""
import json
import os
import sys
import time

STATES = ["new", "assigned", "held", "done", "failed", "cancelled"]
FANNED = {"done", "failed", "cancelled"}
HEX = set("0123456789abcdef")


def is_hex(s, n):
    return len(s) == n and set(s) <= HEX


def parse_order_name(name):
    """(id, attempt, token, worker) of an order name, or None. The queued form
    has no token or worker (None); a worker name may hold dots."""
    p = name.split(".")
    if len(p) < 6 or not is_hex(p[3], 24) or not is_hex(p[2], 24):
        return None
    if not (p[0].isdigit() and p[1].isdigit() and p[4].isdigit()):
        return None
    if len(p) == 6:
        return p[3], int(p[4]), None, None
    if len(p) < 9 or not p[6].isdigit() or not is_hex(p[7], 16):
        return None
    return p[3], int(p[4]), p[7], ".".join(p[8:])


def files(spool, d):
    top = os.path.join(spool, d)
    for dirpath, _, names in os.walk(top):
        for name in names:
            yield os.path.join(dirpath, name), name


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def read_lines(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [l.split() for l in f if l.strip()]


def states(spool):
    """id -> [(state, name, path)]; also the drops waiting in new/."""
    where, drops = {}, []
    for st in STATES:
        for path, name in files(spool, st):
            o = parse_order_name(name)
            if o is None:
                if st == "new" and not name.startswith("."):
                    drops.append(name)
                elif not name.startswith("."):
                    where.setdefault("?", []).append((st, name, path))
                continue
            where.setdefault(o[0], []).append((st, name, path))
    return where, drops


def cmd_wait(spool, acked_file, timeout):
    acked = {l[0] for l in read_lines(acked_file)}
    deadline = time.time() + timeout
    while True:
        where, drops = states(spool)
        assigned = [n for v in where.values() for st, n, _ in v if st == "assigned"]
        queued = [n for v in where.values() for st, n, _ in v if st == "new"]
        ingesting = [n for _, n in files(spool, "tmp") if ".drop." in n]
        open_ids = [i for i in acked
                    if not any(st in ("done", "failed") for st, _, _ in where.get(i, []))]
        if not (assigned or queued or drops or ingesting or open_ids):
            return 0
        if time.time() > deadline:
            print("not quiet after %d s: %d in new/ (+%d drops), %d in assigned/, "
                  "%d drops in tmp/, %d acknowledged not done or failed"
                  % (timeout, len(queued), len(drops), len(assigned), len(ingesting),
                     len(open_ids)))
            now = int(time.time() * 1000)
            for n in sorted(assigned)[:10]:
                p = n.split(".")
                print("  assigned/%s (lease deadline %+.1f s from now)"
                      % (n, (int(p[6]) - now) / 1000.0))
            for n in sorted(queued)[:5]:
                print("  new/%s" % n)
            for n in sorted(drops + ingesting)[:5]:
                print("  drop %s" % n)
            return 1
        time.sleep(0.2)


def cmd_check(spool, o):
    probs = {}

    def bad(kind, msg):
        probs.setdefault(kind, []).append(msg)

    acked = {}
    for l in read_lines(o["--acked"]):
        acked.setdefault(l[0], l[1] if len(l) > 1 else "?")
    drop_tags = {l[0] for l in read_lines(o.get("--drops"))}
    kills = read_lines(o.get("--kills"))
    boss_kills = [int(k[0]) for k in kills if len(k) >= 2 and k[1] == "spoold"]
    runner_kills = {}
    for k in kills:
        if len(k) >= 3 and k[1] == "runner":
            runner_kills.setdefault(k[2], []).append(int(k[0]))

    # --- every file outside tmp/ that is JSON parses -------------------------
    jobs, tags = {}, {}
    for path, name in files(spool, "jobs"):
        try:
            j = load(path)
        except Exception as e:  # noqa: BLE001 - the failure is the finding
            bad("half-written", "jobs/%s: %s" % (name, e))
            continue
        i = name[:-5] if name.endswith(".json") else name
        jobs[i] = j
        if isinstance(j, dict) and "soakTag" in j:
            tags.setdefault(j["soakTag"], []).append(i)
    outcomes = {}	# id -> {(attempt, token): (path, body)}
    for path, name in files(spool, "outcomes"):
        p = name.split(".")
        if len(p) != 4 or p[3] != "json" or not is_hex(p[0], 24) or not is_hex(p[2], 16):
            bad("stray", "outcomes/ holds '%s'" % name)
            continue
        try:
            body = load(path)
        except Exception as e:  # noqa: BLE001
            bad("half-written", "outcomes/%s: %s" % (name, e))
            continue
        outcomes.setdefault(p[0], {})[(int(p[1]), p[2])] = (path, body)
        if isinstance(body, dict) and isinstance(body.get("attempt"), int) \
                and body["attempt"] != int(p[1]):
            bad("overwritten", "outcomes/%s names attempt %s" % (name, body["attempt"]))
    late = 0
    for d in ("late", "workers"):
        for path, name in files(spool, d):
            late += d == "late"
            try:
                load(path)
            except Exception as e:  # noqa: BLE001
                bad("half-written", "%s/%s: %s" % (d, name, e))
    for path, name in files(spool, "rejected"):
        bad("rejected", "rejected/%s (every drop was a valid job)" % name)
    tmp_left = [n for _, n in files(spool, "tmp")]

    # --- orders ------------------------------------------------------------------
    where, drops_waiting = states(spool)
    for st, name, path in where.pop("?", []):
        bad("stray", "%s/ holds '%s', not an order name" % (st, name))
    for name in drops_waiting:
        bad("stranded", "new/%s: a drop never ingested" % name)
    for name in tmp_left:
        if ".drop." in name:
            bad("stranded", "tmp/%s: a drop whose ingest never finished" % name)
    for i, v in where.items():
        for st, name, path in v:
            try:
                load(path)
            except Exception as e:  # noqa: BLE001
                bad("half-written", "%s/%s: %s" % (st, name, e))
        if len(v) > 1:
            bad("two states", "%s: %s" % (i, " ".join(st for st, _, _ in v)))
        if i not in jobs:
            bad("no job", "order %s (%s) has no job" % (i, v[0][0]))
    for i in jobs:
        if i not in where:
            bad("job without order", "jobs/%s/%s.json has no order%s"
                % (i[-2:], i, " (acknowledged)" if i in acked else ""))

    # the drops: each ingested once, then judged like an acknowledged id
    n_acked = len(acked) + len(drop_tags)
    drops_lost = 0
    for t in sorted(drop_tags):
        got = tags.get(t, [])
        if len(got) == 0:
            drops_lost += 1
            bad("lost", "drop %s: no job carries it" % t)
        elif len(got) > 1:
            bad("ingested twice", "drop %s became jobs %s" % (t, " ".join(got)))
        for i in got:
            acked.setdefault(i, "drop")

    now = int(time.time() * 1000)
    fig = {"lost": drops_lost, "stranded": 0, "done": 0, "failed": 0, "no outcome": 0}
    for i, chan in sorted(acked.items()):
        v = where.get(i, [])
        if not v:
            fig["lost"] += 1
            bad("lost", "%s (%s): acknowledged, in no state%s" % (
                i, chan, ", its job is there" if i in jobs else ", no job either"))
            continue
        st, name, _ = v[-1]
        if st in ("new", "assigned", "held"):
            fig["stranded"] += 1
            extra = ""
            if st == "assigned":
                extra = " (lease deadline %+.1f s from now)" % ((int(name.split(".")[6]) - now) / 1000.0)
            bad("stranded", "%s (%s): still in %s/%s%s" % (i, chan, st, name, extra))
            continue
        if st not in ("done", "failed"):
            bad("wrong state", "%s (%s): %s/%s" % (i, chan, st, name))
            continue
        fig[st] += 1
        _, att, tok, worker = parse_order_name(name)
        mine = outcomes.get(i, {})
        named = mine.get((att, tok)) if tok else None
        if named is None:
            fig["no outcome"] += 1
            bad("no outcome", "%s (%s): %s/%s/%s but no outcomes/%s/%s.%03d.%s.json"
                % (i, chan, st, i[-2:], name, i[-2:], i, att, tok))
            continue
        body = named[1]
        if not isinstance(body, dict):
            bad("bad outcome", "%s: outcome is not an object" % i)
            continue
        if body.get("worker") not in (None, worker):
            bad("overwritten", "%s: done by %s, its outcome names %s" % (i, worker, body.get("worker")))
        if st == "failed" and not (isinstance(body.get("error"), str) and body["error"]):
            bad("no reason", "%s: failed, outcome gives no error: %s" % (i, json.dumps(body)[:200]))
        job = jobs.get(i, {})
        asked = isinstance(job, dict) and job.get("expect") == "soak-must-fail"
        if asked and (st != "failed" or "soak: this job asks to fail" not in json.dumps(body)):
            bad("wrong outcome", "%s asked to fail: %s with %s" % (i, st, json.dumps(body)[:200]))
        ok2xx = [k for k, (_, b) in mine.items()
                 if isinstance(b, dict) and isinstance(b.get("status"), int) and 200 <= b["status"] < 300]
        if len(ok2xx) > 1:
            bad("two outcomes", "%s: successful outcomes for attempts %s"
                % (i, " ".join("%d/%s" % k for k in sorted(ok2xx))))
    extra_orders = [i for i in where if i not in acked]
    for i in extra_orders:
        bad("unacknowledged", "order %s (%s) was never acknowledged" % (i, where[i][0][0]))

    # --- runs ------------------------------------------------------------------------
    starts, ends, runs_of = 0, 0, {}
    for l in read_lines(o.get("--runs")):
        if len(l) != 6 or l[0] not in ("start", "end") or not is_hex(l[1], 24):
            bad("run log", "malformed line: %s" % " ".join(l))
            continue
        if l[0] == "end":
            ends += 1
            continue
        starts += 1
        runs_of.setdefault(l[1], []).append((int(l[5]), int(l[2]), l[4], int(l[3])))
    dups = explained = 0
    for i, runs in runs_of.items():
        if i not in acked:
            bad("unacknowledged", "%s ran but was never acknowledged" % i)
        runs.sort()
        seen = {}
        for ms, att, worker, pid in runs:
            if att in seen:
                bad("double claim", "%s attempt %d ran twice: by %s and %s" % (i, att, seen[att], worker))
            seen[att] = worker
        for k in range(1, len(runs)):
            dups += 1
            prev, cur = runs[k - 1], runs[k]
            lo, hi = prev[0] - 1000, cur[0]
            why = [t for t in boss_kills if lo <= t <= hi] + \
                  [t for t in runner_kills.get(prev[2], []) if lo <= t <= hi]
            if why:
                explained += 1
            else:
                bad("unexplained run", "%s ran again (attempt %d by %s at %d) after attempt %d by %s "
                    "at %d, with no kill of spoold or %s in between"
                    % (i, cur[1], cur[2], cur[0], prev[1], prev[2], prev[0], prev[2]))
    for i, chan in acked.items():
        if i not in runs_of and any(st == "done" for st, _, _ in where.get(i, [])):
            bad("never ran", "%s (%s) is done but its script never ran" % (i, chan))
    never = sum(1 for i in acked if i not in runs_of)

    figures = ("jobs %s, acked %d (http %d, spoolctl %d, drops %d), done %d, failed %d, "
               "kills of spoold %d, kills of runners %d, runs %d, duplicate runs %d "
               "(explained %d), never ran %d, lost %d, stranded %d, done without outcome %d, "
               "late %d, tmp left %d, problems %d" % (
                   o.get("--jobs", "?"), n_acked,
                   sum(1 for c in acked.values() if c == "http"),
                   sum(1 for c in acked.values() if c == "spoolctl"),
                   len(drop_tags),
                   fig["done"], fig["failed"], len(boss_kills),
                   sum(len(v) for v in runner_kills.values()), starts, dups, explained, never,
                   fig["lost"], fig["stranded"], fig["no outcome"], late, len(tmp_left),
                   sum(len(v) for v in probs.values())))
    print("figures:", figures)
    if o.get("--figures"):
        with open(o["--figures"], "w") as f:
            f.write(figures + "\n")
    for kind, msgs in sorted(probs.items()):
        print("soakcheck: %s: %d" % (kind, len(msgs)), file=sys.stderr)
        for m in msgs[:40]:
            print("soakcheck:   %s" % m, file=sys.stderr)
        if len(msgs) > 40:
            print("soakcheck:   ... and %d more" % (len(msgs) - 40), file=sys.stderr)
    return 1 if probs else 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("wait", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    o, k = {}, 3
    while k < len(argv):
        o[argv[k]] = argv[k + 1] if k + 1 < len(argv) else ""
        k += 2
    if argv[1] == "wait":
        return cmd_wait(argv[2], o["--acked"], float(o.get("--timeout", "60")))
    return cmd_check(argv[2], o)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
