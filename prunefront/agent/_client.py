"""The HTTP client of an agent, with bounded retries and errors a search can act on.

Connection failures (refused, reset, dropped mid-answer, timed out) and ``429 busy`` are retried
``retries`` times with exponential back-off; after that ``RemoteUnavailable`` says what happened,
how often and for how long, so a search can record a failed trial and go on when the device has
rebooted. A refusal (401 token, 413 size, 400/422 request or model) is not retried: it would
fail again, so it raises ``RemoteRejected`` at once. Torch-free.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from prunefront.agent._protocol import (
    INFO_PATH,
    MODEL_CONTENT_TYPE,
    PROFILE_HEADER,
    PROFILE_PATH,
    ProfileRequest,
)
from prunefront.errors import PrunefrontError

__all__ = ["AgentClient", "RemoteRejected", "RemoteUnavailable"]


class RemoteUnavailable(PrunefrontError):
    """The device did not answer after the bounded retries (down, rebooting, unreachable)."""


class RemoteRejected(PrunefrontError):
    """The device answered but refused the request; ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _describe(error: BaseException, timeout_s: float) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (the agent is not running, or the port is wrong)"
    if isinstance(error, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return "the agent closed the connection mid-request (stopped, crashed or rebooted)"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    return f"{type(error).__name__}: {error}"


class AgentClient:
    """Talks to one agent.

    Args:
        host: The agent's host.
        port: The agent's port.
        token: The shared secret (see ``read_token``).
        timeout_s: Socket timeout of one attempt; a profile answer can take as long as the
            agent's queue wait plus its profile, so keep it generous.
        retries: Extra attempts after a connection failure or 429.
        backoff_s: Wait before the first retry; doubled before each next one.
        sleep: How to wait (tests pass a fake).
    """

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        *,
        timeout_s: float = 900.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0 or backoff_s < 0 or timeout_s <= 0:
            raise PrunefrontError("retries and backoff_s must be >= 0, timeout_s > 0")
        self.host, self.port = host, port
        self._token = token
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"AgentClient({self.host!r}, {self.port})"  # never the token

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def info(self) -> dict[str, Any]:
        """The agent's ``/v1/info`` document."""
        return self._request("GET", INFO_PATH, None, {})

    def profile(self, model: bytes, request: ProfileRequest) -> dict[str, Any]:
        """Send ``model`` and return the agent's result document.

        Raises:
            RemoteUnavailable: no answer after the retries.
            RemoteRejected: the agent refused the token, the size, the request or the model.
        """
        headers = {
            "Content-Type": MODEL_CONTENT_TYPE,
            PROFILE_HEADER: json.dumps(request.to_dict(), separators=(",", ":")),
        }
        return self._request("POST", PROFILE_PATH, model, headers)

    def _once(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any], str | None]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            all_headers = {"Authorization": f"Bearer {self._token}", **headers}
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            raw = response.read()
            retry_after = response.getheader("Retry-After")
        finally:
            connection.close()
        try:
            document = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            document = {"error": raw[:200].decode("utf-8", "replace")}
        return response.status, document, retry_after

    def _request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        started = time.monotonic()
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                status, document, retry_after = self._once(method, path, body, headers)
            except (OSError, http.client.HTTPException) as error:
                last = _describe(error, self.timeout_s)
                continue
            if status == 200:
                return document
            message = str(document.get("error") or f"HTTP {status}")
            if status == 429:
                last = f"busy: {message}"
                if retry_after and retry_after.isdigit():
                    self._sleep(min(float(retry_after), 60.0))
                continue
            raise RemoteRejected(self._rejection(status, message), status=status)
        elapsed = time.monotonic() - started
        raise RemoteUnavailable(
            f"agent at {self.address} unavailable after {self.retries + 1} attempts over "
            f"{elapsed:.1f} s: {last}"
        )

    def _rejection(self, status: int, message: str) -> str:
        if status == 401:
            return (
                f"agent at {self.address} refused the token (401): use a copy of the agent's "
                "token file (--token-file)"
            )
        if status == 413:
            return f"agent at {self.address} refused the model as too large (413): {message}"
        return f"agent at {self.address} refused the request ({status}): {message}"
