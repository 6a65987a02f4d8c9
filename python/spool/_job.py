"""Checking a job the way lib/job.c does, for the spool-directory writer.

A job is a JSON object with a ``scriptName`` string or a ``command`` argv
template (or both); the reserved key ``spool`` holds the queue's options
(spool-layout.md, "Job"). A job that the library would refuse is refused here
with the same words, before anything is written.
"""

import datetime
import re

from ._errors import SpoolError

JOB_MAX = 1 << 20
ID_RE = re.compile(r"^[0-9a-f]{24}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")
TAGS_MAX = 16
DEF_MAX_ATTEMPTS = 3
LEASE_MAX_S = 7 * 24 * 3600
TIMEOUT_MAX_S = 365 * 24 * 3600
COMMAND_ARGS_MAX = 256
COMMAND_ARG_MAX = 4096
KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
OPTIONS = "priority, delay, notBefore, maxAttempts, timeout, lease, retryDelay, tags"


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int_opt(opts, key, lo, hi):
    v = opts[key]
    if not _num(v) or v != v or v < lo or v > hi:
        raise SpoolError('"spool"."%s" must be a number from %d to %d' % (key, lo, hi))
    return int(v)


def _iso_ms(s):
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|\+00:00)$", s)
    if not m:
        raise ValueError(s)
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    frac = int((m.group(7) or "0")[:3].ljust(3, "0"))
    t = datetime.datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000 + (1000 if sec == 60 else 0) + frac


def placeholders(arg):
    """The keys named by ``{key}`` in one argument of a command template.

    ``{{`` and ``}}`` stand for a literal brace. ValueError says what is
    wrong with a brace that is neither.
    """
    keys, i = [], 0
    while i < len(arg):
        c = arg[i]
        if c == "{" and arg.startswith("{{", i):
            i += 2
        elif c == "}" and arg.startswith("}}", i):
            i += 2
        elif c == "{":
            m = KEY_RE.match(arg, i + 1)
            if not m or not arg.startswith("}", m.end()):
                raise ValueError("'{' at byte %d opens no {key} (letters, digits, _ -; "
                                 "write {{ for a brace)" % i)
            keys.append(m.group(0))
            i = m.end() + 1
        elif c == "}":
            raise ValueError("'}' at byte %d closes nothing (write }} for a brace)" % i)
        else:
            i += 1
    return keys


def check_command(job):
    """Check ``job["command"]``: the rules of lib/command.c."""
    cmd = job["command"]
    if not isinstance(cmd, list) or not cmd or len(cmd) > COMMAND_ARGS_MAX:
        raise SpoolError('"command" must be an array of 1 to %d strings' % COMMAND_ARGS_MAX)
    for n, arg in enumerate(cmd):
        if not isinstance(arg, str) or len(arg.encode()) > COMMAND_ARG_MAX or "\0" in arg:
            raise SpoolError('"command"[%d] must be a string of at most %d bytes' % (n, COMMAND_ARG_MAX))
        if n == 0 and not arg:
            raise SpoolError('"command"[0], the program, is empty')
        try:
            keys = placeholders(arg)
        except ValueError as e:
            raise SpoolError('"command"[%d]: %s' % (n, e)) from None
        for k in keys:
            if k not in job and k != "_id":
                raise SpoolError('"command"[%d] names {%s}, which is not a field of the job' % (n, k))


def check(job, now_ms):
    """Check ``job`` (a dict); return its options, as the order file has them.

    Raises SpoolError with the library's reason when the job is not valid.
    """
    if not isinstance(job, dict):
        raise SpoolError("a job must be a JSON object")
    script = job.get("scriptName")
    has_script = isinstance(script, str) and script != ""
    if "command" in job:
        check_command(job)
    elif not has_script:
        raise SpoolError('job has no "scriptName" string')
    o = {"priority": 0, "notBefore": 0, "maxAttempts": DEF_MAX_ATTEMPTS, "timeout": 0,
         "lease": 0, "retryDelay": 0, "tags": []}
    opts = job.get("spool")
    if opts is None and "spool" not in job:
        return o
    if not isinstance(opts, dict):
        raise SpoolError('"spool" must be an object of job options')
    for key in opts:
        if key == "priority":
            o["priority"] = _int_opt(opts, key, -1000, 1000)
        elif key == "maxAttempts":
            o["maxAttempts"] = _int_opt(opts, key, 1, 999)
        elif key == "timeout":
            o["timeout"] = _int_opt(opts, key, 0, TIMEOUT_MAX_S)
        elif key == "lease":
            o["lease"] = _int_opt(opts, key, 1, LEASE_MAX_S)
        elif key == "retryDelay":
            o["retryDelay"] = _int_opt(opts, key, 0, LEASE_MAX_S)
        elif key == "delay":
            v = _int_opt(opts, key, 0, TIMEOUT_MAX_S)
            if v > 0:
                o["notBefore"] = max(o["notBefore"], now_ms + v * 1000)
        elif key == "notBefore":
            v = opts[key]
            if isinstance(v, str):
                try:
                    ms = _iso_ms(v)
                except ValueError:
                    raise SpoolError('"spool"."notBefore" must be an ISO-8601 UTC time like '
                                     '2026-01-31T12:00:00Z') from None
            else:
                ms = _int_opt(opts, key, 0, 9999999999999)
            o["notBefore"] = max(o["notBefore"], ms)
        elif key == "tags":
            tags = opts[key]
            if not isinstance(tags, list) or len(tags) + len(o["tags"]) > TAGS_MAX:
                raise SpoolError('"spool"."tags" must be an array of at most %d tags' % TAGS_MAX)
            for q, t in enumerate(tags):
                if not isinstance(t, str) or not TAG_RE.match(t) or t[0] in ".-":
                    raise SpoolError('"spool"."tags"[%d] is not a valid tag (letters, digits, '
                                     '_ . : -, at most 32)' % q)
                o["tags"].append(t)
        else:
            raise SpoolError('unknown job option "spool"."%s" (known: %s)' % (key, OPTIONS))
    return o
