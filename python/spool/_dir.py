"""A spool directory read and written directly, as spool-layout.md says.

Submitting follows the layout's recipe for a submit exactly: the job is
written to ``tmp/STAMP.job``, fsynced, published once (``link``, which fails
rather than replace) as ``jobs/FF/ID.json``, its directory fsynced; then the
order is written to ``tmp/NAME.order``, fsynced, renamed to ``new/NAME`` (the
commit point) and ``new/`` fsynced. A crash at any step leaves what the
library's recovery mends. Reading lists the state directories; the other
changes (cancel, requeue) and sweep expansion go through the ``spoolctl``
program so that there is one copy of those rules.
"""

import datetime
import errno
import json
import os
import threading
import time

from ._errors import SpoolError
from . import _job

STATES = ("new", "assigned", "held", "done", "failed", "cancelled")
FANNED = ("done", "failed", "cancelled")
FORMAT = "spool-layout 1\n"

_lock = threading.Lock()
_counter = [int.from_bytes(os.urandom(6), "big")]


def now_ms():
    return int(time.time() * 1000)


def new_id():
    """A fresh id: 12 hex digits of ms since the epoch, 12 of a 48-bit counter."""
    with _lock:
        _counter[0] = (_counter[0] + 1) & ((1 << 48) - 1)
        c = _counter[0]
    return "%012x%012x" % (now_ms() & ((1 << 48) - 1), c)


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def parse_name(name):
    """An order file name as a dict, or None when it is not one."""
    f = name.split(".", 8)
    if len(f) not in (6, 9) or len(f[3]) != 24 or not _job.ID_RE.match(f[3]):
        return None
    try:
        o = {"id": f[3], "priority": 1000 - int(f[0]), "due": int(f[1]), "attempt": int(f[4])}
    except ValueError:
        return None
    if len(f) == 9:
        o.update(deadline=int(f[6]), token=f[7], worker=f[8])
    return o


class SpoolDir:
    """The backend of a client opened on a spool directory."""

    def __init__(self, path, nosync=False):
        self.path = os.path.abspath(path)
        self.nosync = nosync or os.environ.get("SPOOL_NOSYNC") == "1"
        try:
            with open(os.path.join(self.path, "format")) as f:
                fmt = f.read()
        except FileNotFoundError:
            raise SpoolError("'%s' is not a spool (it has no 'format' file); create one with "
                             "'spoolctl --spool %s init'" % (path, path)) from None
        except OSError as e:
            raise SpoolError("cannot open spool '%s': %s" % (path, e.strerror)) from None
        if fmt != FORMAT:
            raise SpoolError("'%s' is a spool of another format (%r)" % (path, fmt.strip()))

    def where(self):
        return self.path

    # ---- writing ---------------------------------------------------------

    def _p(self, *parts):
        return os.path.join(self.path, *parts)

    def _sync_dir(self, rel):
        if self.nosync:
            return
        fd = os.open(self._p(rel), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _stage(self, tmpname, data):
        """Write tmp/TMPNAME, fsync and close it (checking close)."""
        path = self._p("tmp", tmpname)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if not self.nosync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        return path

    def _find(self, jid):
        """(state, file name) of order jid, or None."""
        fan = jid[-2:]
        key = "." + jid + "."
        for st in STATES:
            d = self._p(st, fan) if st in FANNED else self._p(st)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for n in names:
                if key in n and not n.startswith("."):
                    p = parse_name(n)
                    if p and p["id"] == jid:
                        return st, n
        return None

    def _queue_order(self, jid, stamp, opts, created):
        tagged = "t" if opts["tags"] else "-"
        due = max(opts["notBefore"], created)
        name = "%04d.%013d.%s.%s.000.%s" % (1000 - opts["priority"], due, stamp, jid, tagged)
        doc = ('{"_id":"%s","jobId":"%s","createdDate":"%s","createdMs":%d,"priority":%d,'
               '"notBefore":%d,"maxAttempts":%d,"timeout":%d,"lease":%d,"retryDelay":%d,'
               '"tags":%s}\n' % (jid, jid, iso(created), created, opts["priority"],
                                 opts["notBefore"], opts["maxAttempts"], opts["timeout"],
                                 opts["lease"], opts["retryDelay"],
                                 json.dumps(opts["tags"], separators=(",", ":"))))
        tmp = self._stage(name + ".order", doc.encode())
        os.rename(tmp, self._p("new", name))	# the commit point
        self._sync_dir("new")

    def _resubmit(self, jid, stamp, opts, now):
        """The job is stored: it is accepted once its order exists. An order
        staged in tmp/ by a submit that crashed is queued (as the library's
        recovery does); a job with no order at all gets a new one."""
        if self._find(jid) is not None:
            return
        for n in os.listdir(self._p("tmp")):
            p = parse_name(n[:-6]) if n.endswith(".order") else None
            if p and p["id"] == jid and "token" not in p:
                try:
                    os.rename(self._p("tmp", n), self._p("new", n[:-6]))
                    self._sync_dir("new")
                    return
                except FileNotFoundError:	# recovered by someone else meanwhile
                    if self._find(jid) is not None:
                        return
        self._queue_order(jid, stamp, opts, now)

    def _submit_one(self, job):
        now = now_ms()
        opts = _job.check(job, now)
        stamp = new_id()
        given = job.get("_id")
        named = isinstance(given, str) and bool(_job.ID_RE.match(given))
        jid = given if named else stamp
        rest = {k: v for k, v in job.items() if k != "_id"}
        body = json.dumps(rest, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        doc = ('{"_id":"%s"%s%s\n' % (jid, "," if rest else "", body[1:])).encode()
        if len(doc) > _job.JOB_MAX:
            raise SpoolError("job is %d bytes, more than the %d allowed" % (len(doc), _job.JOB_MAX))
        fan = jid[-2:]
        dest = self._p("jobs", fan, jid + ".json")
        if named and os.path.exists(dest):
            self._resubmit(jid, stamp, opts, now)
            return jid
        tmp = self._stage(stamp + ".job", doc)
        try:
            os.link(tmp, dest)		# publish once: never replaces
        except FileExistsError:
            os.unlink(tmp)
            self._resubmit(jid, stamp, opts, now)
            return jid
        except BaseException:
            os.unlink(tmp)
            raise
        os.unlink(tmp)
        self._sync_dir(os.path.join("jobs", fan))
        self._queue_order(jid, stamp, opts, now)
        return jid

    def submit(self, jobs):
        for n, job in enumerate(jobs):	# everything checked before anything is written
            try:
                _job.check(job, now_ms())
                json.dumps(job, allow_nan=False)
            except SpoolError as e:
                raise SpoolError("job %d: %s; nothing stored" % (n, e.message)) from None
            except ValueError as e:
                raise SpoolError("job %d: %s; nothing stored" % (n, e)) from None
        try:
            return [self._submit_one(j) for j in jobs]
        except OSError as e:
            raise SpoolError("cannot submit to '%s': %s" % (self.path, e)) from None

    # ---- reading ---------------------------------------------------------

    def orders(self, ids=None):
        """{id: order dict with "state"} for every order (or those of ``ids``)."""
        want = set(ids) if ids is not None else None
        out = {}
        for st in STATES:
            dirs = [self._p(st, "%02x" % k) for k in range(256)] if st in FANNED else [self._p(st)]
            for d in dirs:
                try:
                    names = os.listdir(d)
                except FileNotFoundError:
                    continue
                for n in names:
                    if n.startswith("."):
                        continue
                    o = parse_name(n)
                    if not o or (want is not None and o["id"] not in want):
                        continue
                    o["state"] = st
                    o["file"] = n
                    out[o["id"]] = o
        return out

    def _read_json(self, *parts):
        try:
            with open(self._p(*parts), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None

    def job(self, jid):
        return self._read_json("jobs", jid[-2:], jid + ".json")

    def outcome(self, order):
        if order["state"] not in ("done", "failed") or "token" not in order:
            return None
        jid = order["id"]
        return self._read_json("outcomes", jid[-2:], "%s.%03d.%s.json" % (jid, order["attempt"], order["token"]))

    def sweep_ids(self, name):
        """Ids of the stored jobs whose "sweep" is name."""
        ids = []
        for k in range(256):
            d = self._p("jobs", "%02x" % k)
            for n in os.listdir(d):
                if n.endswith(".json") and _job.ID_RE.match(n[:-5]):
                    j = self._read_json("jobs", "%02x" % k, n)
                    if isinstance(j, dict) and j.get("sweep") == name:
                        ids.append(n[:-5])
        return sorted(ids)

    def log(self, jid):
        d = self._p("logs", jid[-2:])
        try:
            names = sorted(n for n in os.listdir(d) if n.startswith(jid + ".") and n.endswith(".log"))
        except FileNotFoundError:
            names = []
        if not names:
            raise SpoolError("order '%s' has no logs" % jid)
        parts = []
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                parts.append("=== attempt %d ===\n" % int(n.split(".")[1]) +
                             f.read().decode("utf-8", "replace"))
        return "".join(parts)
