"""Start the agent: read or create the token, bind, log what it serves, stop cleanly on signals.

Shared by ``prunefront agent`` (typer) and ``python -m prunefront.agent`` (argparse, for devices
without typer). The one line ``listening on HOST:PORT`` goes to stdout once the socket is bound,
so scripts and tests can wait for it (and learn the port when ``--port 0`` picked one); every
other message goes to the log on stderr. Neither ever contains the token.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
from pathlib import Path
from types import FrameType

from prunefront.agent._server import AgentConfig, AgentServer, log
from prunefront.agent._token import load_or_create_token, token_file_is_private
from prunefront.errors import PrunefrontError

__all__ = ["run_agent"]


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_agent(
    *,
    host: str,
    port: int,
    token_file: Path | None,
    max_upload_mb: float,
    max_profile_s: float,
    queue_wait_s: float,
    sensor_root: Path,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM).

    Raises:
        PrunefrontError: bad limits, an unreadable token file, or the address is in use.
    """
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s prunefront-agent %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for option, value, lowest in (
        ("--max-upload-mb", max_upload_mb, "> 0"),
        ("--max-profile-s", max_profile_s, "> 0"),
        ("--queue-wait-s", queue_wait_s, ">= 0"),
    ):
        # NaN passes every comparison, inf is no limit: both broke the agent later.
        if not math.isfinite(value) or value < 0 or (lowest == "> 0" and value == 0):
            raise PrunefrontError(f"{option} = {value}: must be a finite number {lowest}")
    if not 0 <= port <= 65535:
        raise PrunefrontError(f"--port = {port}: must be in [0, 65535]")
    token, path, created = load_or_create_token(token_file)
    if created:
        log.info(
            "created a new token in %s: copy that file to the client (it is not printed)", path
        )
    else:
        log.info("using the token in %s", path)
    if not token_file_is_private(path):
        log.warning("token file %s is readable by other users: chmod 600 it", path)
    config = AgentConfig(
        token=token,
        host=host,
        port=port,
        max_upload_bytes=int(max_upload_mb * 2**20),
        max_profile_s=max_profile_s,
        queue_wait_s=queue_wait_s,
        sensor_root=sensor_root,
    )
    try:
        server = AgentServer(config)
    except OSError as error:
        raise PrunefrontError(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None
    info = server.info()
    available = [s["name"] for s in info["sensors"] if s["available"]]
    log.info(
        "ONNX Runtime %s, providers %s, power sensors %s",
        info["device"]["onnxruntime_version"],
        info["providers"],
        available or "none readable",
    )
    print(f"listening on {host}:{server.port}", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.server_close()
