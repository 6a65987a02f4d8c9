"""A boss (spoold) spoken to over HTTP, as API.md says.

One persistent connection (spoold keeps connections open); a GET that finds
the connection closed by the server is sent again once on a new one. Every
answer that is not 2xx raises SpoolError with the server's own message.
"""

import http.client
import json
import urllib.parse

from ._errors import SpoolError

SUBMIT_BATCH = 512


class Boss:
    """The backend of a client connected to a boss."""

    def __init__(self, url, token=None, timeout=60):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SpoolError("'%s' is not a boss URL (like http://127.0.0.1:8080)" % url)
        self.url = url.rstrip("/")
        self._scheme, self._host, self._port = u.scheme, u.hostname, u.port
        self._prefix = u.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._conn = None

    def where(self):
        return self.url

    def close(self):
        if self._conn:
            self._conn.close()
            self._conn = None

    def _connect(self):
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._timeout)

    def request(self, method, path, body=None, ok=(200, 201), raw=False):
        """Send one request; the decoded JSON answer (text with raw).

        A status outside ``ok`` raises SpoolError carrying the server's
        "error" message and the status.
        """
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = "Bearer " + self._token
        data = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request(method, self._prefix + path, body=data, headers=headers)
                resp = self._conn.getresponse()
                text = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if attempt or method != "GET":
                    raise SpoolError("%s %s%s: %s" % (method, self.url, path, e)) from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise SpoolError("cannot reach the boss at %s: %s" % (self.url, e)) from None
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        if resp.status not in ok:
            msg = text.decode("utf-8", "replace").strip()
            try:
                msg = json.loads(msg).get("error", msg)
            except (ValueError, AttributeError):
                pass
            raise SpoolError("%s %s: %s" % (method, path, msg or resp.reason), resp.status)
        if raw:
            return text.decode("utf-8", "replace")
        if not text:
            return None
        return json.loads(text)

    def submit(self, jobs):
        ids = []
        for i in range(0, len(jobs), SUBMIT_BATCH):
            ans = self.request("POST", "/v1/jobs", jobs[i:i + SUBMIT_BATCH])
            ids.extend(ans["ids"])
        return ids

    def orders(self, ids=None):
        if ids is not None and len(ids) <= 16:
            out = {}
            for i in ids:
                try:
                    out[i] = self.request("GET", "/v1/orders/" + i)
                except SpoolError as e:
                    if e.status != 404:
                        raise
            return out
        rows = self.request("GET", "/v1/orders?limit=100000")
        if isinstance(rows, dict):
            rows = rows.get("orders", [])
        want = set(ids) if ids is not None else None
        return {o["_id"]: o for o in rows if want is None or o["_id"] in want}

    def job(self, jid):
        return self.request("GET", "/v1/jobs/" + jid)

    def outcome(self, order):
        if order.get("state") not in ("done", "failed"):
            return None
        try:
            return self.request("GET", "/v1/outcomes/" + order["_id"])
        except SpoolError as e:
            if e.status == 404:
                return None
            raise

    def sweep_ids(self, name):
        ids = []
        for jid in self.orders():
            j = self.job(jid)
            if isinstance(j, dict) and j.get("sweep") == name:
                ids.append(jid)
        return sorted(ids)

    def leaderboard(self, key, order, limit, sweep):
        q = {"key": key, "order": order, "limit": str(limit)}
        if sweep:
            q["sweep"] = sweep
        return self.request("GET", "/v1/leaderboard?" + urllib.parse.urlencode(q))

    def change(self, jid, verb):
        return self.request("POST", "/v1/orders/%s/%s" % (jid, verb))

    def log(self, jid):
        return self.request("GET", "/v1/orders/%s/log" % jid, raw=True)
