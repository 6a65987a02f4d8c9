"""spool: a Python client for the spool job queue (standard library only).

Connect to a boss (``spoold``) over HTTP, or open a spool directory directly
(a shared file system, or the machine the spool is on), then submit jobs and
sweeps, wait for them and read their results::

    import spool
    c = spool.connect("http://127.0.0.1:8080", token_file="~/.spool-token")
    # or: c = spool.open_spool("/shared/spool")
    sw = c.sweep({"name": "lr", "base": {"scriptName": "nn.py", "epochs": 20},
                  "grid": {"learningRate": [0.01, 0.03, 0.1]}})
    c.wait(sw)                        # a progress line on stderr until all end
    for r in c.results(sw):           # dicts: id, state, params, outcome, ...
        print(r["params"], r["outcome"])
    c.results(sw).to_frame()          # a pandas DataFrame, if pandas imports
    c.leaderboard(key="loss", sweep="lr")

Every failure raises SpoolError, whose ``message`` is the server's (or the
spool library's) own words and ``status`` the HTTP status when there was one.
The boss URL and token file default to ``$SPOOL_BOSS`` and
``$SPOOL_TOKEN_FILE``, the spool directory to ``$SPOOL_DIR``, as for
``spoolctl``.
"""

import json
import os
import shutil
import subprocess
import sys
import time

from ._errors import SpoolError, SpoolTimeout
from ._token import read_token_file
from ._http import Boss
from ._dir import SpoolDir

__all__ = ["connect", "open_spool", "Client", "Sweep", "Results", "SpoolError",
           "SpoolTimeout", "read_token_file"]
__version__ = "1.0"

FINAL = ("done", "failed", "cancelled")
BOOKKEEPING = ("_id", "sweep", "spool")


def connect(url=None, token=None, token_file=None, spoolctl=None, timeout=60):
    """A Client for the boss at ``url`` (default ``$SPOOL_BOSS``).

    The bearer token is ``token``, else read from ``token_file`` (default
    ``$SPOOL_TOKEN_FILE``) by the rule every spool program follows: trailing
    white space ignored, no blanks or control characters inside.
    """
    url = url or os.environ.get("SPOOL_BOSS")
    if not url:
        raise SpoolError("no boss URL: give one, or set $SPOOL_BOSS")
    token_file = token_file or (None if token else os.environ.get("SPOOL_TOKEN_FILE"))
    if token is None and token_file:
        token = read_token_file(os.path.expanduser(token_file))
    return Client(Boss(url, token, timeout), spoolctl)


def open_spool(path=None, create=False, spoolctl=None, nosync=False):
    """A Client on the spool directory ``path`` (default ``$SPOOL_DIR``).

    With ``create`` a missing spool is made first (by ``spoolctl init``).
    """
    path = path or os.environ.get("SPOOL_DIR")
    if not path:
        raise SpoolError("no spool directory: give one, or set $SPOOL_DIR")
    path = os.path.expanduser(path)
    exe = find_spoolctl(spoolctl)
    if create and not os.path.exists(os.path.join(path, "format")):
        _run([exe, "--spool", path, "init"])
    c = Client(SpoolDir(path, nosync), exe)
    c._nosync = nosync
    return c


def find_spoolctl(given=None):
    """The spoolctl program: given, ``$SPOOLCTL``, the checkout's or install
    prefix's ``bin/spoolctl`` (found from this package's place), or $PATH."""
    if given:
        return given
    if os.environ.get("SPOOLCTL"):
        return os.environ["SPOOLCTL"]
    d = os.path.dirname(os.path.abspath(__file__))
    for _ in range(6):
        d = os.path.dirname(d)
        p = os.path.join(d, "bin", "spoolctl")
        if os.access(p, os.X_OK):
            return p
    return shutil.which("spoolctl") or "spoolctl"


def _run(argv, stdin=None, ok=(0,)):
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True)
    except OSError as e:
        raise SpoolError("cannot run '%s': %s (set $SPOOLCTL to the spoolctl program)"
                         % (argv[0], e.strerror)) from None
    if p.returncode not in ok:
        msg = p.stderr.decode("utf-8", "replace").strip().replace("spoolctl: ", "")
        raise SpoolError(msg or "'%s' exited %d" % (" ".join(argv), p.returncode))
    return p.stdout.decode("utf-8", "replace")


class Sweep:
    """A submitted sweep: its ``name``, its jobs' ``ids`` and ``jobs`` (dicts)."""

    def __init__(self, name, ids, jobs, params):
        self.name, self.ids, self.jobs, self.params = name, ids, jobs, params

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return "Sweep(%r, %d jobs)" % (self.name, len(self.ids))


class Results(list):
    """A list of result rows (dicts), one per job::

        {"id", "state", "attempt", "worker", "params": {varying parameters},
         "outcome": {what the script reported} or None,
         "run": {the runner's figures: worker, wallMs, cpuMs, maxRssKb, exit,
                 ...} or None, "job": {the job}}
    """

    def to_frame(self):
        """The rows as a pandas DataFrame: one column per parameter, per
        outcome member (``outcome.KEY`` where a parameter has that name) and
        per run figure (``run.wallMs``, ``run.maxRssKb``, ...)."""
        try:
            import pandas
        except ImportError:
            raise SpoolError("to_frame() needs pandas, which does not import here "
                             "(apt-get install python3-pandas, or pip install pandas); "
                             "the rows are plain dicts meanwhile") from None
        flat = []
        for r in self:
            row = {"id": r["id"], "state": r["state"], "attempt": r["attempt"]}
            row.update(r["params"])
            for k, v in (r["outcome"] or {}).items():
                if k != "_run":
                    row["outcome." + k if k in row else k] = v
            for k, v in (r.get("run") or {}).items():
                row["run." + k] = v
            flat.append(row)
        return pandas.DataFrame(flat)


class Client:
    """Submit, watch and read jobs; made by connect() or open_spool()."""

    def __init__(self, backend, spoolctl=None):
        self._b = backend
        self._spoolctl = spoolctl or find_spoolctl()
        self._nosync = False

    def __repr__(self):
        return "spool.Client(%r)" % self._b.where()

    def close(self):
        """Close the connection to the boss (a spool directory holds none)."""
        if isinstance(self._b, Boss):
            self._b.close()

    # ---- putting jobs in -------------------------------------------------

    def submit(self, jobs):
        """Submit one job (a dict: returns its id) or a list (returns ids).

        Every job is checked before any is stored; a bad one raises
        SpoolError naming it and stores nothing. A job that names its own
        ``_id`` (24 hex digits) is stored once however often it is sent.
        """
        one = isinstance(jobs, dict)
        ids = self._b.submit([jobs] if one else list(jobs))
        return ids[0] if one else ids

    def _ctl(self, *args, stdin=None, ok=(0,)):
        argv = [self._spoolctl]
        if isinstance(self._b, SpoolDir):
            argv += ["--spool", self._b.path] + (["--nosync"] if self._nosync else [])
        return _run(argv + list(args), stdin, ok)

    def sweep(self, spec, requeue_failed=False):
        """Submit a sweep: ``spec`` is a dict or the path of a JSON file
        (spoolctl's format: name, base, grid, random). Returns a Sweep.

        Each job's id comes from its content (as spoolctl computes it), so a
        sweep submitted again adds only what is missing; with
        ``requeue_failed`` its failed jobs are queued again.
        """
        if isinstance(spec, (str, os.PathLike)):
            with open(spec, "rb") as f:
                text = f.read()
            spec = json.loads(text)
        else:
            text = json.dumps(spec).encode()
        out = self._ctl("sweep", "--dry-run", "-", stdin=text)
        jobs = []
        for line in out.splitlines():
            jid, _, doc = line.partition(" ")
            job = json.loads(doc)
            jobs.append(dict([("_id", jid)] + list(job.items())))
        ids = self.submit(jobs) if jobs else []
        if requeue_failed:
            for jid, o in self._orders(ids).items():
                if o["state"] == "failed":
                    self.requeue(jid)
        params = list(spec.get("grid", {})) + list(spec.get("random", {}).get("params", {}))
        return Sweep(spec.get("name"), ids, jobs, params)

    # ---- watching --------------------------------------------------------

    def _ids(self, target):
        if isinstance(target, Sweep):
            return list(target.ids)
        if isinstance(target, str):
            if len(target) == 24 and all(c in "0123456789abcdef" for c in target):
                return [target]
            return self._b.sweep_ids(target)	# a sweep's name
        return list(target)

    def _orders(self, ids):
        """{id: {"id", "state", "attempt", "worker"}} of the ids that exist."""
        out = {}
        for jid, o in self._b.orders(ids).items():
            out[jid] = {"id": jid, "state": o["state"], "attempt": o.get("attempt", 0),
                        "worker": o.get("worker"), "_raw": o}
        return out

    def status(self, target):
        """Counts per state of ``target`` (ids, a Sweep or a sweep's name)."""
        ids = self._ids(target)
        counts = {s: 0 for s in ("new", "assigned", "held", "done", "failed", "cancelled")}
        orders = self._orders(ids)
        for o in orders.values():
            counts[o["state"]] = counts.get(o["state"], 0) + 1
        counts["missing"] = len(ids) - len(orders)
        counts["total"] = len(ids)
        return counts

    def wait(self, target, progress=True, timeout=None, interval=1.0):
        """Wait until every job of ``target`` (an id, ids, a Sweep or a
        sweep's name) is done, failed or cancelled; return the counts.

        With ``progress`` a line like ``[######....] 12/24 done, 2 running,
        10 queued, 0 failed`` is kept on stderr (redrawn in place on a
        terminal, a new line per change otherwise). SpoolTimeout after
        ``timeout`` seconds.
        """
        ids = self._ids(target)
        deadline = None if timeout is None else time.monotonic() + timeout
        tty = sys.stderr.isatty()
        last = None
        while True:
            c = self.status(ids)
            line = _progress_line(c)
            if progress and line != last:
                sys.stderr.write(("\r\033[K" + line) if tty else line + "\n")
                sys.stderr.flush()
                last = line
            if sum(c[s] for s in FINAL) + c["missing"] >= c["total"]:
                if progress and tty:
                    sys.stderr.write("\n")
                if c["missing"]:
                    raise SpoolError("%d of the jobs do not exist" % c["missing"])
                return c
            if deadline is not None and time.monotonic() >= deadline:
                if progress and tty:
                    sys.stderr.write("\n")
                raise SpoolTimeout("timed out: " + line)
            time.sleep(interval)

    # ---- reading ---------------------------------------------------------

    def results(self, target):
        """One row per job of ``target`` (ids, a Sweep or a sweep's name), in
        the order of its ids, as a Results list (see Results)."""
        ids = self._ids(target)
        orders = self._orders(ids)
        jobs = {jid: self._b.job(jid) for jid in ids if jid in orders}
        if isinstance(target, Sweep) and target.params:
            params = list(target.params)
        else:
            params = _varying(list(jobs.values()))
        rows = Results()
        for jid in ids:
            o = orders.get(jid)
            if not o:
                continue
            job = jobs[jid] or {}
            out = self._b.outcome(o["_raw"])
            run = out.get("_run") if isinstance(out, dict) else None
            rows.append({"id": jid, "state": o["state"], "attempt": o["attempt"],
                         "worker": o["worker"],
                         "params": {k: job.get(k) for k in params},
                         "outcome": out, "run": run if isinstance(run, dict) else None,
                         "job": job})
        return rows

    def leaderboard(self, key="loss", order="asc", limit=10, sweep=None):
        """The best outcomes of done jobs by the numeric outcome member
        ``key``: the boss's leaderboard object (API.md), whose "rows" hold
        rank, id, value, outcome and job."""
        if order not in ("asc", "desc"):
            raise SpoolError("order is 'asc' or 'desc', not %r" % (order,))
        if isinstance(sweep, Sweep):
            sweep = sweep.name
        if isinstance(self._b, Boss):
            return self._b.leaderboard(key, order, limit, sweep)
        args = ["top", "--json", "--key", key, "--order", order, "--limit", str(limit)]
        if sweep:
            args += ["--sweep", sweep]
        # exit 3: an empty board (no such key or sweep), as the boss answers it
        return json.loads(self._ctl(*args, ok=(0, 3)))

    def log(self, jid):
        """The stdout and stderr kept of every attempt of order ``jid``, each
        after a line ``=== attempt N ===``."""
        return self._b.log(jid)

    # ---- changing --------------------------------------------------------

    def _change(self, jid, verb):
        if isinstance(self._b, Boss):
            return self._b.change(jid, verb).get("state")
        self._ctl(verb, jid)
        return self._orders([jid])[jid]["state"]

    def cancel(self, jid):
        """Cancel an order (a running claim is fenced); its new state."""
        return self._change(jid, "cancel")

    def requeue(self, jid):
        """Queue an order again with no attempts used; its new state."""
        return self._change(jid, "requeue")


def _varying(jobs):
    """The job members worth a column: those whose values differ between
    the jobs (all of a lone job's), bookkeeping aside."""
    keys = []
    for j in jobs:
        for k in (j or {}):
            if k not in BOOKKEEPING and k not in keys:
                keys.append(k)
    if len(jobs) < 2:
        return [k for k in keys if k not in ("scriptName", "command")]
    enc = lambda v: json.dumps(v, sort_keys=True)
    return [k for k in keys if len({enc((j or {}).get(k)) for j in jobs}) > 1]


def _progress_line(c):
    width = 30
    finished = c["done"] + c["failed"] + c["cancelled"]
    fill = finished * width // c["total"] if c["total"] else 0
    s = "[%s%s] %d/%d done, %d running, %d queued, %d failed" % (
        "#" * fill, "." * (width - fill), c["done"], c["total"], c["assigned"],
        c["new"] + c["held"], c["failed"])
    if c["cancelled"]:
        s += ", %d cancelled" % c["cancelled"]
    return s
