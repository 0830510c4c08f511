"""Profiling targets: ``remote://host:port`` (an agent) and ``adb://SERIAL`` (an Android device).

A target string is what a user writes after ``--device`` or in ``[target] device`` of
search.toml. Parsing it needs no torch, so the search can validate its config without loading
any model.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from prunefront.agent._protocol import DEFAULT_PORT
from prunefront.errors import PrunefrontError

__all__ = ["RemoteTarget", "is_remote_target", "parse_target"]

_SCHEMES = ("remote", "adb")


@dataclass(frozen=True, kw_only=True)
class RemoteTarget:
    """A parsed target.

    Attributes:
        kind: ``agent`` (``remote://``) or ``adb`` (``adb://``).
        host: The agent's host name or address (agent only).
        port: The agent's port (agent only).
        serial: The adb serial (adb only; ``None``: the one connected device).
    """

    kind: str
    host: str | None = None
    port: int | None = None
    serial: str | None = None

    def __str__(self) -> str:
        if self.kind == "adb":
            return f"adb://{self.serial or ''}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"remote://{host}:{self.port}"


def is_remote_target(device: str) -> bool:
    """Whether ``device`` names a remote target rather than ``cpu`` / ``cuda[:N]``."""
    return device.split("://", 1)[0] in _SCHEMES and "://" in device


def parse_target(text: str) -> RemoteTarget:
    """Parse ``remote://host[:port]`` or ``adb://[SERIAL]``.

    Raises:
        PrunefrontError: another scheme, no host, or a bad port.
    """
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise PrunefrontError(
            f"device = {text!r}: a remote target is remote://HOST:PORT or adb://SERIAL"
        )
    if scheme == "adb":
        if "/" in rest or any(c.isspace() for c in rest):
            raise PrunefrontError(f"device = {text!r}: an adb serial has no '/' or spaces")
        return RemoteTarget(kind="adb", serial=rest or None)
    parts = urlsplit(f"//{rest}")
    try:
        port = parts.port if parts.port is not None else DEFAULT_PORT
    except ValueError:
        raise PrunefrontError(
            f"device = {text!r}: expected remote://HOST:PORT with PORT in [1, 65535]"
        ) from None
    if not parts.hostname or parts.path not in ("", "/") or port == 0:
        raise PrunefrontError(
            f"device = {text!r}: expected remote://HOST:PORT with PORT in [1, 65535]"
        )
    return RemoteTarget(kind="agent", host=parts.hostname, port=port)
