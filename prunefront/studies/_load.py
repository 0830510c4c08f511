"""Open a finished (or running) study for reading: from a run folder or a storage URL.

Shared by ``status``, ``report``, ``select`` and ``export``.

Reading never writes: a missing journal or SQLite file is an error, not a new empty study, and
RDB storages are opened without creating tables. Passwords in URLs never reach a message.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import optuna
from optuna.storages import BaseStorage

from prunefront.errors import PrunefrontError
from prunefront.studies._journal import RepairingJournalBackend

__all__ = [
    "JOURNAL_NAME",
    "POSTGRES_INSTALL",
    "mask_url",
    "missing_driver",
    "open_storage",
    "open_study",
    "root_message",
]

JOURNAL_NAME = "study.journal"
"""The journal file of a run folder (``--run DIR`` reads ``DIR/study.journal``)."""

POSTGRES_INSTALL = "pip install 'prunefront[postgres]'"
"""The command that installs the PostgreSQL driver (psycopg) that ``postgresql://`` URLs use."""

_SECRET_QUERY_KEYS = {"password", "passwd", "pwd", "token", "secret", "sslpassword"}


def mask_url(url: str) -> str:
    """Return ``url`` with any password (userinfo or query parameter) replaced by ``***``.

    Args:
        url: A storage URL such as ``postgresql://user:secret@host/db``.

    Returns:
        The URL safe to print.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable: still hide anything between ':' and '@'.
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
    masked = url
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        if ":" in userinfo:
            hidden = userinfo.split(":", 1)[0] + ":***"
            masked = masked.replace(f"//{parts.netloc}", f"//{hidden}@{host}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
            )
            masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


def root_message(error: BaseException) -> str:
    """The first line of the error at the root of ``error``'s chain.

    Optuna wraps a refused connection in ``StorageInternalError`` ("... e.g. exceeding max
    length"); the cause says what happened ("Connection refused").
    """
    seen = {id(error)}
    while (inner := error.__cause__ or error.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        error = inner
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def missing_driver(url: str, error: BaseException) -> str | None:
    """What to install when ``error`` (opening ``url``) is a missing database driver, else None.

    Optuna wraps the driver's ``ModuleNotFoundError`` in an ``ImportError`` that names no module;
    the chain names it. A ``postgresql://`` or ``postgresql+psycopg://`` URL needs psycopg,
    which prunefront's ``postgres`` extra installs.
    """
    seen: set[int] = set()
    found: BaseException | None = error
    imported = False
    name = None
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, ImportError):
            imported = True
            name = found.name or name
        found = found.__cause__ or found.__context__
    if not imported:
        return None
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme in ("postgresql", "postgresql+psycopg"):
        return f"the PostgreSQL driver psycopg is not installed: {POSTGRES_INSTALL}"
    module = name or scheme.partition("+")[2] or scheme
    if scheme.startswith("postgresql+"):
        return (
            f"the URL asks for the PostgreSQL driver {module!r}, which is not installed: install "
            f"it, or use postgresql://... after {POSTGRES_INSTALL}"
        )
    return f"the database driver {module!r} is not installed"


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _journal(path: Path, label: str) -> BaseStorage:
    if not path.is_file():
        raise PrunefrontError(f"{label}: no study journal at {path}")
    from optuna.storages import JournalStorage

    try:
        return JournalStorage(RepairingJournalBackend(str(path)))
    except (OSError, ValueError) as error:
        raise PrunefrontError(f"{label}: cannot read journal {path}: {error}") from None


def open_storage(*, storage: str | None = None, run: Path | None = None) -> BaseStorage:
    """Open the storage named by exactly one of ``storage`` (URL or journal path) and ``run``.

    Args:
        storage: An Optuna storage URL (``sqlite:///...``, ``postgresql://...``) or a journal
            file (``journal:PATH`` or a plain path).
        run: A run folder holding ``study.journal``.

    Returns:
        The storage, opened for reading.

    Raises:
        PrunefrontError: neither or both given, the folder or file is missing, or the database
            cannot be reached (the message masks passwords).
    """
    if (storage is None) == (run is None):
        raise PrunefrontError("give exactly one of --storage URL and --run DIR")
    if run is not None:
        if not run.is_dir():
            raise PrunefrontError(f"--run: {run} is not a directory")
        return _journal(run / JOURNAL_NAME, "--run")
    url = str(storage)
    if url.startswith("journal:"):  # the search's own spelling of a journal file
        return _journal(Path(url.removeprefix("journal:")), "--storage")
    if "://" not in url:
        return _journal(Path(url), "--storage")
    shown = mask_url(url)
    if url.startswith("sqlite:///"):
        db = url.removeprefix("sqlite:///").split("?", 1)[0]
        if db and db != ":memory:" and not Path(db).is_file():
            raise PrunefrontError(f"--storage {shown}: database file {db} does not exist")
    try:
        return optuna.storages.RDBStorage(url, skip_table_creation=True)
    except ImportError as error:
        hint = missing_driver(url, error) or f"missing database driver ({error})"
        raise PrunefrontError(f"--storage {shown}: {hint}") from None
    except Exception as error:  # sqlalchemy raises many types; all mean "cannot open"
        message = root_message(error).replace(url, shown)
        secret = _password(url)
        if secret:
            message = message.replace(secret, "***")
        raise PrunefrontError(f"--storage {shown}: cannot open: {message}") from None


def open_study(
    study_name: str | None, *, storage: str | None = None, run: Path | None = None
) -> optuna.Study:
    """Load study ``study_name`` for reading (None: the storage's only study).

    Args:
        study_name: The study's name, or None when the storage holds exactly one study.
        storage: Storage URL or journal path (see :func:`open_storage`).
        run: Run folder holding ``study.journal``.

    Returns:
        The loaded study.

    Raises:
        PrunefrontError: the storage cannot be opened, or it holds no study of that name (the
            message lists the studies it does hold), or several when no name was given.
    """
    opened = open_storage(storage=storage, run=run)
    names = sorted(s.study_name for s in opened.get_all_studies())
    where = str(run / JOURNAL_NAME) if run is not None else mask_url(str(storage))
    held = ", ".join(repr(n) for n in names) if names else "none"
    if study_name is None:
        if len(names) != 1:
            raise PrunefrontError(
                f"--study is required: {where} holds {len(names)} studies ({held})"
            )
        study_name = names[0]
    if study_name not in names:
        raise PrunefrontError(f"--study {study_name!r} not found in {where}; studies there: {held}")
    return optuna.load_study(study_name=study_name, storage=opened)
