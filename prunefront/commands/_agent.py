"""``prunefront agent``: serve ONNX profiles on this device to a remote search.

Importing this module imports typer but never torch: the agent runs on devices that have only
numpy and ONNX Runtime (``python -m prunefront.agent`` does without typer too). The agent package
loads inside the command, so ``prunefront --help`` does not pay for numpy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8765
"""``prunefront.agent.DEFAULT_PORT``, not imported: the agent package loads numpy (a test keeps
them equal)."""

__all__ = ["agent"]


def agent(
    host: Annotated[
        str,
        typer.Option("--host", help="Address to bind; non-loopback addresses are warned about."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port (0: any free port).")
    ] = DEFAULT_PORT,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="The shared secret (created, mode 0600, if missing; default "
            "~/.config/prunefront/agent-token).",
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest model accepted, in MiB.")
    ] = 256.0,
    max_profile_s: Annotated[
        float, typer.Option("--max-profile-s", help="Longest one profile may run, in seconds.")
    ] = 300.0,
    queue_wait_s: Annotated[
        float,
        typer.Option("--queue-wait-s", help="How long a request waits for a running profile."),
    ] = 600.0,
    sensor_root: Annotated[
        Path, typer.Option("--sensor-root", help="Read power sensors below this root (tests).")
    ] = Path("/"),
) -> None:
    """Run the profiling agent on this device: serve ONNX profiles to a remote search."""
    from prunefront.agent import run_agent

    run_agent(
        host=host,
        port=port,
        token_file=token_file,
        max_upload_mb=max_upload_mb,
        max_profile_s=max_profile_s,
        queue_wait_s=queue_wait_s,
        sensor_root=sensor_root,
    )
