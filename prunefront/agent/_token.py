"""The agent's shared secret: created once with owner-only permissions, read by both sides.

The agent reads its token from a file (``--token-file``; default
``~/.config/prunefront/agent-token``) and creates it with 32 random bytes if it does not exist.
The token is never printed or logged: the user copies the file to the machine that runs the
search (``scp``) and points ``--token-file`` at the copy. Clients take, in order: an explicit
token, a token file, ``$PRUNEFRONT_AGENT_TOKEN``, the default file.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from prunefront.errors import PrunefrontError

__all__ = [
    "DEFAULT_TOKEN_FILE",
    "TOKEN_ENV",
    "load_or_create_token",
    "read_token",
    "token_file_is_private",
]

DEFAULT_TOKEN_FILE = Path("~/.config/prunefront/agent-token")
TOKEN_ENV = "PRUNEFRONT_AGENT_TOKEN"
_MIN_LENGTH = 16


def _check(token: str, source: str) -> str:
    clean = token.strip()
    if len(clean) < _MIN_LENGTH or any(c.isspace() for c in clean) or not clean.isprintable():
        raise PrunefrontError(
            f"{source}: the token must be at least {_MIN_LENGTH} printable characters without "
            "spaces"
        )
    return clean


def load_or_create_token(path: Path | str | None = None) -> tuple[str, Path, bool]:
    """Read the agent's token from ``path``, creating it (mode 0600) if it is missing.

    Returns:
        ``(token, path, created)``.

    Raises:
        PrunefrontError: the file cannot be read or written, or holds no valid token.
    """
    target = Path(path if path is not None else DEFAULT_TOKEN_FILE).expanduser()
    try:
        if target.exists():
            return _check(target.read_text(), f"token file {target}"), target, False
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
    except OSError as error:
        raise PrunefrontError(f"token file {target}: {error.strerror or error}") from None
    return token, target, True


def token_file_is_private(path: Path) -> bool:
    """Whether only the owner can read ``path`` (no group/other permission bits)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)


def read_token(token: str | None = None, token_file: Path | str | None = None) -> str:
    """The token a client sends: explicit, else the file, else the environment, else the default.

    Raises:
        PrunefrontError: none found, or the file cannot be read.
    """
    if token is not None:
        return _check(token, "token")
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            return _check(path.read_text(), f"--token-file {path}")
        except OSError as error:
            raise PrunefrontError(f"--token-file {path}: {error.strerror or error}") from None
    if os.environ.get(TOKEN_ENV):
        return _check(os.environ[TOKEN_ENV], f"${TOKEN_ENV}")
    default = DEFAULT_TOKEN_FILE.expanduser()
    if default.is_file():
        return _check(default.read_text(), f"token file {default}")
    raise PrunefrontError(
        f"no agent token: pass --token-file (a copy of the file the agent created), or set "
        f"${TOKEN_ENV}"
    )
