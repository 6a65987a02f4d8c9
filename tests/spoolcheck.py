#!/usr/bin/env python3
"""Check a spool directory from the outside, by its files alone.

    spoolcheck.py SPOOL [--ids FILE] [--restored] [--quiet]

Fails (exit 1, a line per problem) when a file outside tmp/ is half-written
(every order, job, outcome and late file must parse as JSON), when a state
directory holds something that is not an order name, when an order is in two
states, when an order has no job, or when an id listed in FILE (one per line)
is in no state. With --restored (a spool restored from a tar of a live
spool) an order without its job is allowed in failed/: its submit was under
way while tar ran, and fsck --repair fails such orders. Prints "STATE COUNT" lines and "ID STATE" lines for FILE's ids
to stdout unless --quiet.
"""
import json
import os
import sys

STATES = ["new", "assigned", "held", "done", "failed", "cancelled"]


def walk(spool, d):
    for dirpath, _, names in os.walk(os.path.join(spool, d)):
        for name in names:
            yield os.path.join(dirpath, name), name


def main(argv):
    spool = argv[1]
    ids_file = argv[argv.index("--ids") + 1] if "--ids" in argv else None
    quiet = "--quiet" in argv
    restored = "--restored" in argv
    bad, where, jobs = [], {}, set()

    def parses(path):
        try:
            with open(path, "rb") as f:
                json.loads(f.read().decode("utf-8"))
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            bad.append("half-written: %s: %s" % (os.path.relpath(path, spool), e))

    for st in STATES:
        for path, name in walk(spool, st):
            parts = name.split(".")
            if name.startswith(".") or len(parts) < 6 or len(parts[3]) != 24:
                if st == "new":	# a drop a person made: not ours to judge here
                    continue
                bad.append("not an order name: %s" % os.path.relpath(path, spool))
                continue
            where.setdefault(parts[3], []).append(st)
            parses(path)
    for d in ("jobs", "outcomes", "late"):
        for path, name in walk(spool, d):
            parses(path)
            if d == "jobs":
                jobs.add(name.split(".")[0])
    for i, sts in sorted(where.items()):
        if len(sts) > 1:
            bad.append("order %s in two states: %s" % (i, " ".join(sts)))
        if i not in jobs and not (restored and sts == ["failed"]):
            bad.append("order %s has no job" % i)
    out = []
    if ids_file:
        for line in open(ids_file):
            i = line.strip()
            if not i:
                continue
            if i not in where:
                bad.append("id %s is in no state" % i)
            else:
                out.append("%s %s" % (i, where[i][0]))
    if not quiet:
        for st in STATES:
            print(st, sum(1 for s in where.values() if s[0] == st))
        print("\n".join(out))
    for b in bad[:50]:
        print("spoolcheck:", b, file=sys.stderr)
    if len(bad) > 50:
        print("spoolcheck: ... %d problems in all" % len(bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
