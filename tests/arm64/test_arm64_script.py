"""What the arm64 tests need, said before they run: the binfmt check and the agent's requirements.

``scripts/arm64-agent.sh check`` decides whether the slow arm64 tests run or skip; these fast
tests point it at fake ``binfmt_misc`` folders so every reason it gives is checked on any host.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "arm64-agent.sh"

HANDLER = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: {flags}
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def _check(binfmt: Path, machine: str = "x86_64") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARM64_BINFMT_MISC": str(binfmt), "ARM64_HOST_MACHINE": machine}
    return subprocess.run(
        [str(SCRIPT), "check"], capture_output=True, text=True, env=env, check=False
    )


def _binfmt(tmp_path: Path, handler: str | None) -> Path:
    folder = tmp_path / "binfmt_misc"
    folder.mkdir()
    (folder / "status").write_text("enabled\n")
    if handler is not None:
        (folder / "qemu-aarch64").write_text(handler)
    return folder


def test_check_says_binfmt_misc_is_not_mounted(tmp_path: Path) -> None:
    done = _check(tmp_path / "absent")
    assert done.returncode == 3
    assert "binfmt_misc is not mounted" in done.stdout


def test_check_says_no_qemu_handler_is_registered(tmp_path: Path) -> None:
    done = _check(_binfmt(tmp_path, None))
    assert done.returncode == 3
    assert "no qemu-aarch64 binfmt handler" in done.stdout
    assert "qemu-user-static binfmt-support" in done.stdout


def test_check_says_the_handler_is_disabled(tmp_path: Path) -> None:
    done = _check(_binfmt(tmp_path, HANDLER.format(flags="PF").replace("enabled", "disabled")))
    assert done.returncode == 3
    assert "update-binfmts --enable qemu-aarch64" in done.stdout


def test_check_refuses_a_handler_that_cannot_run_in_a_chroot(tmp_path: Path) -> None:
    done = _check(_binfmt(tmp_path, HANDLER.format(flags="P")))
    assert done.returncode == 3
    assert "F flag" in done.stdout


def test_check_accepts_an_enabled_fixed_binary_handler(tmp_path: Path) -> None:
    done = _check(_binfmt(tmp_path, HANDLER.format(flags="PF")))
    assert done.returncode == 0, done.stdout
    assert "arm64 binaries run here" in done.stdout


def test_check_accepts_an_arm64_host_without_emulation(tmp_path: Path) -> None:
    done = _check(tmp_path / "absent", machine="aarch64")
    assert done.returncode == 0
    assert "(aarch64)" in done.stdout


def _requirement_bounds(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*([<>=!~].*?)?\s*(#.*)?", line)
        if match and match.group(1):
            found[match.group(1).lower()] = (match.group(2) or "").replace(" ", "")
    return found


def test_the_agent_requirements_are_numpy_and_onnxruntime_with_pyproject_bounds() -> None:
    text = (REPO / "requirements-agent.txt").read_text().splitlines()
    agent = _requirement_bounds([line for line in text if line and not line.startswith("#")])
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = _requirement_bounds(project)
    assert sorted(agent) == ["numpy", "onnxruntime"]
    for name, bound in agent.items():
        assert bound == bounds[name], f"{name}: {bound!r} here, {bounds[name]!r} in pyproject"


@pytest.mark.parametrize("command", ["prepare", "run", "exec"])
def test_the_script_refuses_to_touch_a_root_without_root(command: str) -> None:
    drop: list[str] = []
    if os.geteuid() == 0:  # run it as nobody
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to drop privileges")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o777)
        args = [str(SCRIPT), command, folder, *(["true"] if command == "exec" else [])]
        done = subprocess.run([*drop, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{command} needs root" in done.stderr
