"""The agent's HTTP server: token check, size limit, one profile at a time, JSON answers.

Built on the standard library's ``ThreadingHTTPServer`` (no new dependency on the device).
Order of checks for every request: the token (constant-time comparison, 401 before anything
else is read), then the declared body size (411/413, before the body is read), then the body
(400 unless it is a self-contained ONNX model), then the request header (400 naming the bad
key). Profiles run one at a time behind a lock, so that two measurements never share the
device; a request waits its turn (``queue_wait_s``) or gets 429. Logs name requests and
outcomes, never the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prunefront.agent._info import describe_agent_device
from prunefront.agent._onnx_scan import scan_onnx
from prunefront.agent._protocol import (
    DEFAULT_PORT,
    INFO_PATH,
    PROFILE_HEADER,
    PROFILE_PATH,
    PROTOCOL_VERSION,
    ProfileRequest,
    ProtocolError,
)
from prunefront.agent._runner import profile_onnx
from prunefront.errors import PrunefrontError
from prunefront.sensors import discover_sensors

__all__ = ["AgentConfig", "AgentServer", "is_loopback"]

log = logging.getLogger("prunefront.agent")
_DRAIN_CHUNK = 1 << 16
_DRAIN_S = 2.0  # the longest an unread body is drained after an error answer


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """How the agent listens and what it allows.

    Attributes:
        token: The shared secret every request must carry (never logged or printed).
        host: Address to bind; loopback unless told otherwise.
        port: TCP port (0 picks a free one).
        max_upload_bytes: Largest model accepted (413 above).
        max_profile_s: Longest a profile may take; longer requests are refused (400) and a run
            that overruns is stopped (422).
        queue_wait_s: How long a request waits for the running profile to finish before 429.
        max_waiting: How many requests may wait at once (more get 429 at once).
        socket_timeout_s: Idle time after which a slow client's connection is dropped.
        sensor_root: Filesystem root the power sensors are read below.
    """

    token: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_upload_bytes: int = 256 * 2**20
    max_profile_s: float = 300.0
    queue_wait_s: float = 600.0
    max_waiting: int = 4
    socket_timeout_s: float = 60.0
    sensor_root: Path = Path("/")

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise PrunefrontError("the agent token must be at least 16 characters long")
        if self.max_upload_bytes < 1 or self.max_profile_s <= 0 or self.queue_wait_s < 0:
            raise PrunefrontError(
                "max_upload_bytes must be >= 1, max_profile_s > 0 and queue_wait_s >= 0"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AgentServer(ThreadingHTTPServer):
    """The agent: ``serve_forever()`` answers ``/v1/info`` and ``/v1/profile``.

    Args:
        config: Address, token and limits.
    """

    daemon_threads = True

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.profile_lock = threading.Lock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        super().__init__((config.host, config.port), _Handler)
        if not is_loopback(config.host):
            log.warning(
                "listening on %s:%d, reachable from the network: anyone with the token can make "
                "this device run ONNX models, and traffic is not encrypted (prefer an SSH tunnel "
                "or a trusted network)",
                config.host,
                self.server_address[1],
            )

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return int(self.server_address[1])

    def enter_queue(self) -> bool:
        """Count a waiting request; ``False`` when too many already wait."""
        with self._waiting_lock:
            if self._waiting >= self.config.max_waiting:
                return False
            self._waiting += 1
            return True

    def leave_queue(self) -> None:
        """Uncount a waiting request."""
        with self._waiting_lock:
            self._waiting -= 1

    def info(self) -> dict[str, Any]:
        """The ``/v1/info`` document."""
        import onnxruntime as ort

        config = self.config
        return {
            "protocol": PROTOCOL_VERSION,
            "agent": "prunefront-agent",
            "device": describe_agent_device(),
            "providers": list(ort.get_available_providers()),
            "sensors": [s.to_dict() for s in discover_sensors(config.sensor_root)],
            "limits": {
                "max_upload_bytes": config.max_upload_bytes,
                "max_profile_s": config.max_profile_s,
                "queue_wait_s": config.queue_wait_s,
            },
            "busy": self.profile_lock.locked(),
        }


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "prunefront-agent/1"
    _body_read = False  # set once the request body has been consumed

    def setup(self) -> None:
        # A client that stops sending or reading must not hold a thread forever.
        self.request.settimeout(self.server.config.socket_timeout_s)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.client_address[0], format % args)

    def _send(
        self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(document, allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _error(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        drain: bool = True,
    ) -> None:
        log.info("%s refused with %d: %s", self.client_address[0], status, message)
        self._send(status, {"error": message, "status": status}, headers)
        if drain:
            self._drain()

    def _drain(self) -> None:
        """Read and drop an unread body (bounded in bytes and in time) so the client sees the
        answer, not a reset; a client that drips its body is cut off after ``_DRAIN_S``."""
        if self._body_read:
            return
        try:
            remaining = min(
                int(self.headers.get("Content-Length") or 0), self.server.config.max_upload_bytes
            )
            self.connection.settimeout(_DRAIN_S)
            deadline = time.monotonic() + _DRAIN_S
            while remaining > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read(min(_DRAIN_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        except (OSError, ValueError):
            pass

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        expected = self.server.config.token.encode()
        # Compare even when the scheme is wrong, so timing says nothing about which part failed.
        ok = hmac.compare_digest(given.strip().encode(), expected)
        if scheme.lower() == "bearer" and ok:
            return True
        # Answer and close without reading a byte of an unauthenticated body.
        self._error(401, "missing or wrong token", {"WWW-Authenticate": "Bearer"}, drain=False)
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path != INFO_PATH:
            self._error(404, f"no such endpoint {self.path!r}; use {INFO_PATH} or {PROFILE_PATH}")
            return
        self._send(200, self.server.info())

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path != PROFILE_PATH:
            self._error(404, f"no such endpoint {self.path!r}; POST to {PROFILE_PATH}")
            return
        try:
            model, request = self._read_request()
        except ProtocolError as error:
            self._error(error.status, str(error))
            return
        self._profile(model, request)

    def _read_request(self) -> tuple[bytes, ProfileRequest]:
        limit = self.server.config.max_upload_bytes
        length_text = self.headers.get("Content-Length")
        if length_text is None or "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            raise ProtocolError("Content-Length is required", status=411)
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            raise ProtocolError(f"Content-Length = {length_text!r}: not a byte count")
        if length > limit:
            raise ProtocolError(
                f"the model is {length} bytes; this agent accepts at most {limit}", status=413
            )
        model = self.rfile.read(length)
        self._body_read = True
        if len(model) != length:
            raise ProtocolError(f"the body ended after {len(model)} of {length} bytes")
        try:
            header = json.loads(self.headers.get(PROFILE_HEADER) or "")
        except json.JSONDecodeError:
            raise ProtocolError(f"header {PROFILE_HEADER} must hold the request as JSON") from None
        request = ProfileRequest.from_dict(header)
        budget = request.budget_s()
        if budget > self.server.config.max_profile_s:
            raise ProtocolError(
                f"latency.max_time_s + energy_window (idle_s + max_window_s) = {budget:g} s "
                f"exceeds this agent's limit of {self.server.config.max_profile_s:g} s"
            )
        return model, request

    def _profile(self, model: bytes, request: ProfileRequest) -> None:
        config = self.server.config
        try:
            summary = scan_onnx(model)
        except ProtocolError as error:
            self._error(error.status, str(error))
            return
        if not self.server.enter_queue():
            self._error(429, "busy: too many profiles are waiting", {"Retry-After": "5"})
            return
        arrived = time.monotonic()
        try:
            acquired = self.server.profile_lock.acquire(timeout=config.queue_wait_s)
        finally:
            self.server.leave_queue()
        if not acquired:
            self._error(
                429,
                f"busy: another profile ran for over {config.queue_wait_s:g} s",
                {"Retry-After": "5"},
            )
            return
        started = time.monotonic()
        failure: tuple[int, str] | None = None
        try:
            log.info("profiling a %d-byte model (%d nodes)", len(model), summary.nodes)
            document = profile_onnx(
                model,
                request,
                sensor_root=config.sensor_root,
                deadline_s=started + config.max_profile_s,
            )
        except ProtocolError as error:
            failure = (error.status, str(error))
        except Exception as error:  # a bug or a runtime crash: answer instead of dropping
            log.exception("profile failed")
            failure = (500, f"the agent failed: {type(error).__name__}: {error}")
        finally:
            finished = time.monotonic()
            # Free the device before answering: the next profile may start at once.
            self.server.profile_lock.release()
        if failure is not None:
            self._error(*failure)
            return
        document["model"] = {"size_bytes": len(model), **summary.to_dict()}
        document["timing"] = {
            "queued_s": started - arrived,
            "started_s": started,
            "finished_s": finished,
            "clock": "agent monotonic",
        }
        log.info("profile done in %.2f s", finished - started)
        self._send(200, document)
