"""The HTTP half of `lightbox verify`, and the checklist both halves record into.

``Checklist`` collects PASS/FAIL/SKIP lines (an exception in a check is a FAIL
with its message, never a crash). ``HttpChecks`` asks the bridge on the
configured port: that it is this box (``/api/info`` device_id), every GET
endpoint, the event stream, the security headers, and auth on the no-op write
``POST /api/params {}``. Talks HTTP with urllib only; knows nothing of MQTT,
Flask or the render loop.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from appliance.ops.checks import FAIL, PASS, SKIP, Check
from appliance.settings import Settings, read_secret

#: GET endpoints of the bridge that must answer 200 (CONTRACT.md section 4).
GET_ENDPOINTS = ("/", "/api/health", "/api/state", "/api/animations", "/api/metrics",
                 "/api/info", "/api/config", "/api/config/backup", "/api/config/history",
                 "/api/images", "/metrics", "/api/openapi.json")
SSE_ENDPOINT = "/api/events"
BRIDGE_IS_THIS_BOX = "bridge is this box (/api/info device_id)"
#: The keys of ``state`` that make up what the panel shows (``version`` is not one).
LOOK_KEYS = ("state", "brightness", "effect", "params", "started_at", "active")
#: The write both paths use: no parameter named, so every value stays as it is.
NO_OP_PARAMS = b"{}"


def look(state: dict[str, Any]) -> dict[str, Any]:
    """The part of a state that the panel shows."""
    return {k: state.get(k) for k in LOOK_KEYS}


def look_changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Name what differs between two looks ("" when nothing does)."""
    a, b = look(before), look(after)
    return ", ".join(f"{k} {a[k]!r} -> {b[k]!r}" for k in LOOK_KEYS if a[k] != b[k])


class Checklist:
    """The lines of a checklist run, in order."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.checks: list[Check] = []
        self.settings: Settings | None = None
        #: The retained state the round trip saw (the write check compares against it).
        self.state: dict[str, Any] | None = None
        #: Why the write checks must not run (None: they may).
        self.no_writes: str | None = None

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record one result."""
        self.checks.append(Check(PASS if ok else FAIL, name, detail))
        return ok

    def skip(self, name: str, reason: str) -> None:
        """Record a check that was not run, with the reason."""
        self.checks.append(Check(SKIP, name, reason))

    def failed_since(self, start: int) -> list[str]:
        """Names of the checks that failed from index ``start`` on."""
        return [c.name for c in self.checks[start:] if c.level is FAIL]

    def guard(self, name: str, fn: Callable[[], tuple[bool, str]]) -> bool:
        """Run one check; an exception is a FAIL with its message, never a crash."""
        try:
            ok, detail = fn()
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return self.add(name, ok, detail)


class HttpChecks(Checklist):
    """The bridge's checks (run after the MQTT ones, which may forbid the writes)."""

    def check_http(self) -> None:
        assert self.settings is not None
        b = self.settings.bridge
        host = "127.0.0.1" if b.host in ("0.0.0.0", "::", "") else b.host
        root = f"http://{host}:{b.port}"
        token = read_secret(b.auth_token_file) if b.auth_token_file else None
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        if not self.guard(BRIDGE_IS_THIS_BOX, lambda: self._identity(root, auth)):
            reason = f"the bridge at {root} is not confirmed to be {self.settings.device_id}"
            for path in GET_ENDPOINTS:
                self.skip(f"GET {path}", reason)
            self.no_writes = self.no_writes or reason
        else:
            self._http_reads(root, auth)
        self._http_writes(root, auth, token)

    def _identity(self, root: str, auth: dict[str, str]) -> tuple[bool, str]:
        """The bridge that answers must speak for the device these settings describe."""
        assert self.settings is not None
        want = self.settings.device_id
        status, _, body = _http("GET", root + "/api/info", auth, None, self.timeout_s)
        if status != 200:
            return False, f"GET {root}/api/info: {status} {body[:160]!r}"
        got = json.loads(body).get("device_id")
        if got != want:
            return False, (f"{root} answers for device_id {got!r}, the settings say {want!r}: "
                           "another LightBox (or another dev run) holds this port")
        return True, f"{root} is {want}"

    def _http_reads(self, root: str, auth: dict[str, str]) -> None:
        for path in GET_ENDPOINTS:
            def one(p: str = path) -> tuple[bool, str]:
                status, headers, body = _http("GET", root + p, auth, None, self.timeout_s)
                detail = f"{status} {headers.get('Content-Type', '')}".strip()
                if status != 200:
                    detail += f": {body[:200]!r}"
                return status == 200, detail

            self.guard(f"GET {path}", one)

        def sse() -> tuple[bool, str]:
            status, headers, _ = _http("GET", root + SSE_ENDPOINT, auth, None, self.timeout_s,
                                       read_body=False)
            ctype = headers.get("Content-Type", "")
            return status == 200 and "text/event-stream" in ctype, f"{status} {ctype}"

        self.guard(f"GET {SSE_ENDPOINT} (stream opens)", sse)

        def headers_ok() -> tuple[bool, str]:
            _, headers, _ = _http("GET", root + "/", auth, None, self.timeout_s)
            want = ("Content-Security-Policy", "X-Content-Type-Options")
            missing = [h for h in want if h not in headers]
            return not missing, "missing " + ", ".join(missing) if missing else "present"

        self.guard("security headers", headers_ok)

    def _http_writes(self, root: str, auth: dict[str, str], token: str | None) -> None:
        """The no-op ``POST /api/params {}``: refused without the token, applied with it."""
        no_token_name = "writes need the token (401 without)"
        with_token_name = "write with the token (a no-op, state unchanged)"
        if self.no_writes is not None:
            self.skip(no_token_name, self.no_writes)
            self.skip(with_token_name, self.no_writes)
            return
        url = root + "/api/params"
        if token is None:
            self.add(no_token_name, False,
                     "bridge.auth_token_file is not set: anyone on the LAN can write")
        else:
            def no_token() -> tuple[bool, str]:
                status, _, _ = _http("POST", url, {}, NO_OP_PARAMS, self.timeout_s)
                return status == 401, f"POST {url} {{}} without token: {status}"

            self.guard(no_token_name, no_token)

        def with_token() -> tuple[bool, str]:
            before = self.state or {}
            status, _, body = _http("POST", url, auth, NO_OP_PARAMS, self.timeout_s)
            if status != 200:
                return False, f"POST {url} {{}}: {status} {body[:160]!r}"
            changed = look_changes(before, json.loads(body).get("state") or {})
            if changed:
                return False, f"the panel changed during the check: {changed}"
            return True, f"POST {url} {{}}: 200, {before.get('effect')} unchanged"

        self.guard(with_token_name, with_token)


def _http(method: str, url: str, headers: dict[str, str], body: bytes | None,
          timeout_s: float, read_body: bool = True) -> tuple[int, dict[str, str], bytes]:
    hdrs = {"Accept": "application/json, text/html;q=0.9, */*;q=0.5", **headers}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            data = resp.read() if read_body else b""
            return resp.status, dict(resp.headers.items()), data
    except urllib.error.HTTPError as err:
        data = err.read() if read_body else b""
        return err.code, dict(err.headers.items()), data
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, {}, f"no answer: {reason}".encode()
