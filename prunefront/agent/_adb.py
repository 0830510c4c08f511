"""Driving an Android device through ``adb``, behind a small runner interface that tests replace.

``AdbRunner.run(args)`` runs ``adb <args>`` and returns its exit status and output; the real
one (``SubprocessAdbRunner``) calls the ``adb`` binary, ``ReplayedAdb`` answers from recorded
outputs (matched by regular expression on the command line) so the backend is tested without
adb or a phone. ``AdbDevice`` adds what the backend needs: is the device there and authorised,
push a file, run a shell command, test for an executable. Every failure is a one-line
``AdbError`` that says what to do.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prunefront.errors import PrunefrontError

__all__ = [
    "AdbDevice",
    "AdbError",
    "AdbResult",
    "AdbRunner",
    "ReplayedAdb",
    "SubprocessAdbRunner",
    "parse_adb_devices",
]


class AdbError(PrunefrontError):
    """adb, the device or the benchmark binary is missing or failed."""


@dataclass(frozen=True)
class AdbResult:
    """What one ``adb`` invocation returned."""

    returncode: int
    stdout: str
    stderr: str = ""


class AdbRunner(Protocol):
    """Runs ``adb`` with arguments (without the ``adb`` itself)."""

    def run(self, args: Sequence[str], *, timeout_s: float) -> AdbResult:
        """Run ``adb *args`` and return its result; raise ``AdbError`` if adb cannot start."""
        ...


class SubprocessAdbRunner:
    """The real runner: the ``adb`` binary from ``PATH`` (or ``adb_path``).

    Raises:
        AdbError: adb is not installed.
    """

    def __init__(self, adb_path: str | None = None) -> None:
        found = adb_path or shutil.which("adb")
        if found is None:
            raise AdbError(
                "adb not found on PATH: install Android platform-tools "
                "(https://developer.android.com/tools/releases/platform-tools)"
            )
        self.adb = found

    def run(self, args: Sequence[str], *, timeout_s: float) -> AdbResult:
        """Run ``adb *args`` with a timeout."""
        try:
            done = subprocess.run(
                [self.adb, *args], capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise AdbError(
                f"adb {shlex.join(args[:3])} ... did not finish in {timeout_s:g} s"
            ) from None
        except OSError as error:
            raise AdbError(f"cannot run {self.adb}: {error.strerror or error}") from None
        return AdbResult(done.returncode, done.stdout, done.stderr)


@dataclass
class ReplayedAdb:
    """A fake runner answering from recorded outputs.

    Args:
        rules: ``(pattern, result)`` pairs; the first pattern that ``re.search``-es the command
            line (arguments joined by spaces) answers. Unmatched commands fail like adb does.

    Attributes:
        calls: Every command line run, in order (tests assert on them).
    """

    rules: Sequence[tuple[str, AdbResult]]
    calls: list[str] = field(default_factory=list)

    def run(self, args: Sequence[str], *, timeout_s: float) -> AdbResult:
        """Answer with the first matching recorded result."""
        line = " ".join(args)
        self.calls.append(line)
        for pattern, result in self.rules:
            if re.search(pattern, line):
                return result
        return AdbResult(1, "", f"replayed adb: no recorded answer for {line!r}")


def parse_adb_devices(text: str) -> dict[str, str]:
    """``adb devices`` output -> serial -> state (``device``, ``unauthorized``, ``offline``)."""
    devices = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
            devices[parts[0]] = parts[1]
    return devices


class AdbDevice:
    """One Android device reached through an ``AdbRunner``.

    Args:
        runner: How adb is run.
        serial: The device's serial (``adb devices``); ``None``: the only connected device.
        timeout_s: Timeout of quick commands (push and benchmarks pass their own).
    """

    def __init__(self, runner: AdbRunner, serial: str | None, *, timeout_s: float = 60.0) -> None:
        self.runner, self.serial, self.timeout_s = runner, serial, timeout_s

    def _args(self, *args: str) -> list[str]:
        return ["-s", self.serial, *args] if self.serial else list(args)

    def check(self) -> str:
        """Make sure the device is connected and authorised; return its serial.

        Raises:
            AdbError: adb failed, no device, several devices without a serial, or the device is
                unauthorised or offline.
        """
        result = self.runner.run(["devices"], timeout_s=self.timeout_s)
        if result.returncode != 0:
            raise AdbError(f"adb devices failed: {(result.stderr or result.stdout).strip()[:200]}")
        devices = parse_adb_devices(result.stdout)
        if self.serial is None:
            ready = [s for s, state in devices.items() if state == "device"]
            if len(ready) != 1:
                raise AdbError(
                    f"adb:// without a serial needs exactly one connected device, found "
                    f"{sorted(devices) or 'none'}: use adb://SERIAL"
                )
            self.serial = ready[0]
            return self.serial
        state = devices.get(self.serial)
        if state is None:
            raise AdbError(
                f"device {self.serial} not found by adb (connected: {sorted(devices) or 'none'}); "
                "check the cable, or run `adb connect HOST:PORT` for adb over Wi-Fi"
            )
        if state == "unauthorized":
            raise AdbError(f"device {self.serial} is unauthorized: accept the USB debugging prompt")
        if state != "device":
            raise AdbError(f"device {self.serial} is {state}: reconnect it")
        return self.serial

    def shell(self, command: str, *, timeout_s: float | None = None) -> AdbResult:
        """Run ``command`` in ``adb shell`` (adb >= 1.0.32 passes its exit status through)."""
        return self.runner.run(self._args("shell", command), timeout_s=timeout_s or self.timeout_s)

    def push(self, local: str, remote: str, *, timeout_s: float = 300.0) -> None:
        """Copy ``local`` to ``remote`` on the device.

        Raises:
            AdbError: the push failed (with adb's message).
        """
        result = self.runner.run(self._args("push", local, remote), timeout_s=timeout_s)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise AdbError(f"adb push {local} failed: {message[-1] if message else 'no output'}")

    def is_executable(self, path: str) -> bool:
        """Whether ``path`` exists on the device and may be executed."""
        result = self.shell(f"test -x {shlex.quote(path)} && echo yes || echo no")
        return result.stdout.strip().endswith("yes")
