"""A journal file that survives a torn last line (power cut, full disk, kill -9 mid-write).

Optuna's ``JournalFileBackend`` appends one JSON record per line. When the last line is cut
short, Optuna appends the next record onto the half line; the merged line no longer decodes and
every later read raises ``JSONDecodeError``: the whole study becomes unreadable.

``RepairingJournalBackend`` fixes both sides:

* before appending, under the journal's own lock, a last line without its newline is moved to a
  side file (``study.journal.torn-...``) and the journal cut back to its last whole record; the
  torn record was never completely written, so nothing that was stored is lost;
* reading, a line that does not decode (left by an older version that appended onto a torn
  line) yields the whole record that follows the torn bytes, or a no-op that keeps the records'
  numbering, instead of an error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file
from optuna.storages.journal._storage import JournalOperation

__all__ = ["RepairingJournalBackend", "cut_torn_tail"]

_RECORD_START = b'{"op_code"'
_NO_OP = {"op_code": JournalOperation.DISCARD_TRIALS}  # counts one record, changes nothing
_TAIL_CHUNK_BYTES = 1 << 16


def _last_newline(handle: Any, size: int) -> int:
    """The offset just after the last newline in the file (0 if there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK_BYTES)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def cut_torn_tail(path: Path) -> Path | None:
    """Move a last line that lacks its newline to a side file; returns that file, or None.

    Call it only while holding the journal's lock (no writer is half-way through a line).
    """
    with open(path, "r+b") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return None
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        keep = _last_newline(handle, size)
        handle.seek(keep)
        torn = handle.read()
        side = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        with open(side, "wb") as out:
            out.write(torn)
            out.flush()
            os.fsync(out.fileno())
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    print(
        f"prunefront: {path}: its last record was cut short (power loss, a full disk or a kill "
        f"mid-write); moved its {len(torn)} bytes to {side} and continued from the record before",
        file=sys.stderr,
    )
    return side


def _decode(line: bytes) -> dict[str, Any]:
    """The record on ``line``; for a record appended onto torn bytes, that whole record."""
    try:
        return dict(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError):
        pass
    start = line.find(_RECORD_START, 1)
    while start > 0:
        try:
            return dict(json.loads(line[start:]))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError):
            start = line.find(_RECORD_START, start + 1)
    return dict(_NO_OP)


class RepairingJournalBackend(JournalFileBackend):
    """Optuna's journal file, with a torn tail cut before appending and damaged lines read."""

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        """The records from number ``log_number_from`` on; a torn last line is not read yet."""
        with open(self._file_path, "rb") as handle:
            remaining = os.fstat(handle.fileno()).st_size
            start = 0
            if log_number_from in self._log_number_offset:
                handle.seek(self._log_number_offset[log_number_from])
                start = log_number_from
                remaining -= self._log_number_offset[log_number_from]
            for log_number, line in enumerate(handle, start=start):
                remaining -= len(line)
                if remaining < 0 or not line.endswith(b"\n"):
                    break  # written after we looked, or torn: not a record (yet)
                self._log_number_offset.setdefault(
                    log_number + 1, self._log_number_offset[log_number] + len(line)
                )
                if log_number >= log_number_from:
                    yield _decode(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append ``logs`` after cutting a torn last line, under the journal's lock."""
        with get_lock_file(self._lock):
            cut_torn_tail(Path(self._file_path))
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            with open(self._file_path, "ab") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
