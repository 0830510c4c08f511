"""Soak: four searches on one PostgreSQL study, one of them on a second host, kill -9 all night.

Three ``prunefront search`` processes on this host and one on a fake second host (the hostname
every prunefront module reads, ``socket.gethostname``, is replaced in that process: its dead
trials can only be found by their heartbeats, as a real dead machine's) share one fresh study on
the local PostgreSQL server. Every 20-40 s one of them, at random (among those in a trial, if
any), is killed with SIGKILL and started again. Kills stop ``--drain-min`` minutes before the
end, so that the searches can finish the budget; then the study is read and a table printed:

* trials lost: trials COMPLETE just before some kill that are not COMPLETE at the end;
* left RUNNING: trials still RUNNING when every search has exited;
* budget used vs asked: the trials counted against ``search.trials`` (prunefront's own count);
* candidates trained twice: COMPLETE trials that trained (did not copy) a candidate that another
  COMPLETE trial trained too (same width, pattern, sparsity, seed and byte cap);
* storage errors: exits other than 0 and -9, and log lines naming a database, journal or lock
  error (tracebacks included).

Goal: 0, 0, exact, 0, 0. Loopback and local PostgreSQL only; bounded by ``--minutes``.

    PYTHONPATH=. .venv/bin/python bench/soak.py [--minutes 10] [--trials 80] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.search._storage import open_storage, resolve_storage
from prunefront.search._trials import DUPLICATE_KEY, OWNER_KEY, budget_used

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

CONFIG = """
[task]
ref = "tiny"
options = {{ epochs = {epochs} }}

[space]
widths = [0.25, 0.5, 0.75, 1.0]
sparsity_max = 0.95
iso_levels = 2

[budget]
bytes = 6000

[target]
latency_min_time_s = 0.05
latency_max_time_s = 0.5

[search]
trials = {trials}
sampler = "{sampler}"
storage = "{storage}"
study_name = "{study}"
run_dir = "{run_dir}"
"""

AS_OTHER_HOST = """
import socket
import sys

socket.gethostname = lambda: {host!r}
from prunefront.cli import main

main(sys.argv[1:])
"""

STORAGE_ERROR = re.compile(
    r"Traceback|OperationalError|IntegrityError|UniqueViolation|JSONDecodeError|"
    r"DatabaseError|InterfaceError|did not possess lock|cannot open storage"
)


@dataclass
class Searcher:
    """One search process slot: its host, its config, and every process started in it."""

    name: str
    host: str | None  # None: this host
    config: Path
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0
    exits: list[int | None] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        """Start (or restart) the search in this slot."""
        self.runs += 1
        log = self.log_dir / f"{self.name}-{self.runs:02d}.log"
        self.logs.append(log)
        launcher = (
            ["-c", AS_OTHER_HOST.format(host=self.host)] if self.host else ["-m", "prunefront"]
        )
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, *launcher, "search", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    def alive(self) -> bool:
        """Whether its process is still running."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.exits.append(self.process.wait())

    def reap(self) -> None:
        """Record the exit of a process that ended by itself."""
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.process = None


def _study(config: Path) -> optuna.Study:
    run = load_config(config)
    storage = open_storage(resolve_storage(run.search.storage, Path(".")))
    return optuna.load_study(study_name=run.study_name(), storage=storage)


def _complete(config: Path) -> set[int]:
    try:
        trials = _study(config).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    except KeyError:  # not created yet
        return set()
    return {t.number for t in trials}


def _in_trial(config: Path, searchers: list[Searcher]) -> list[Searcher]:
    """The live searchers that own a RUNNING trial (a kill then costs a trial, the hard case)."""
    try:
        running = _study(config).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    except KeyError:
        return []
    owners = {t.system_attrs.get(OWNER_KEY, {}).get("pid") for t in running}
    return [s for s in searchers if s.alive() and s.process and s.process.pid in owners]


def _trained_twice(trials: list[optuna.trial.FrozenTrial]) -> int:
    keys = Counter(
        (
            t.user_attrs.get("width"),
            t.user_attrs.get("pattern"),
            t.user_attrs.get("sparsity_target"),
            t.user_attrs.get("seed"),
            t.user_attrs.get("max_bytes"),
        )
        for t in trials
        if t.state == TrialState.COMPLETE and DUPLICATE_KEY not in t.user_attrs
    )
    return sum(n - 1 for n in keys.values() if n > 1)


def _reaped(trials: list[optuna.trial.FrozenTrial]) -> str:
    reasons = [t.user_attrs.get("fail_reason", "") for t in trials if t.state == TrialState.FAIL]
    by_pid = sum("died" in r for r in reasons)
    by_heartbeat = sum("heartbeats" in r for r in reasons)
    return f"{len(reasons)} ({by_pid} by pid on this host, {by_heartbeat} by heartbeat)"


def _storage_errors(searchers: list[Searcher]) -> list[str]:
    found = []
    for searcher in searchers:
        for code in searcher.exits:
            if code not in (0, -signal.SIGKILL, 130):  # 130: stopped at the end of the soak
                found.append(f"{searcher.name} exited with {code}")
        for log in searcher.logs:
            for line in log.read_text(errors="replace").splitlines():
                if STORAGE_ERROR.search(line):
                    found.append(f"{log.name}: {line.strip()[:160]}")
    return found


def main() -> None:
    """Run the soak and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="whole soak, drain included")
    parser.add_argument("--drain-min", type=float, default=3.0, help="last minutes, no kills")
    parser.add_argument("--trials", type=int, default=80)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sampler", default="random")
    parser.add_argument("--storage", default=POSTGRES)
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill schedule")
    parser.add_argument("--out", type=Path, default=None, help="logs and run folders")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    out = args.out or Path(tempfile.mkdtemp(prefix="prunefront-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    study = f"soak-{uuid.uuid4().hex[:8]}"
    searchers = []
    for name, host in (("local-a", None), ("local-b", None), ("local-c", None), ("other", "n2")):
        run_dir = out / ("run" if host is None else f"run-{host}")  # each host its own folder
        config = out / f"{name}.toml"
        config.write_text(
            CONFIG.format(
                epochs=args.epochs,
                trials=args.trials,
                sampler=args.sampler,
                storage=args.storage,
                study=study,
                run_dir=run_dir,
            )
        )
        searchers.append(Searcher(name, host, config, out))
    print(f"soak: study {study} in {args.storage}, logs in {out}", flush=True)
    started = time.time()
    end = started + args.minutes * 60
    kills_end = end - args.drain_min * 60
    for searcher in searchers:
        searcher.start()
    complete_before_kills: set[int] = set()
    kills: Counter[str] = Counter()
    next_kill = started + rng.uniform(20, 40)
    while time.time() < end:
        time.sleep(0.5)
        for searcher in searchers:
            searcher.reap()
        if not any(s.alive() for s in searchers):
            break  # the budget is done: every search exited by itself
        if time.time() >= next_kill and time.time() < kills_end:
            busy = _in_trial(searchers[0].config, searchers)
            victim = rng.choice(busy or [s for s in searchers if s.alive()])
            complete_before_kills |= _complete(victim.config)
            victim.kill()
            kills[victim.name] += 1
            elapsed = time.time() - started
            print(f"{elapsed:6.0f} s: kill -9 {victim.name} (run {victim.runs})", flush=True)
            victim.start()
            next_kill = time.time() + rng.uniform(20, 40)
    timed_out = [s.name for s in searchers if s.alive()]
    stopping = [s for s in searchers if s.alive() and s.process is not None]
    for searcher in stopping:  # out of time: stop them as a user would (Ctrl-C)
        assert searcher.process is not None
        searcher.process.send_signal(signal.SIGTERM)
    for searcher in stopping:
        assert searcher.process is not None
        searcher.exits.append(searcher.process.wait(timeout=90))
    trials = _study(searchers[0].config).get_trials(deepcopy=False)
    states = Counter(t.state.name for t in trials)
    final_complete = {t.number for t in trials if t.state == TrialState.COMPLETE}
    lost = sorted(complete_before_kills - final_complete)
    errors = _storage_errors(searchers)
    used = budget_used(trials)
    rows = [
        ("wall time", f"{(time.time() - started) / 60:.1f} min"),
        ("kills (kill -9 + restart)", f"{sum(kills.values())} ({dict(kills)})"),
        ("trials in the study", f"{len(trials)} {dict(states)}"),
        ("trials failed by a kill, reaped", _reaped(trials)),
        ("trials lost", f"{len(lost)} {lost if lost else ''}".strip()),
        ("trials left RUNNING", str(states.get("RUNNING", 0))),
        ("budget used vs asked", f"{used} / {args.trials}"),
        ("candidates trained twice", str(_trained_twice(trials))),
        ("storage errors", str(len(errors))),
        ("searches still running at the end", ", ".join(timed_out) or "none"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for error in errors[:20]:
        print(f"  {error}")


if __name__ == "__main__":
    main()
