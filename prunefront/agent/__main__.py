"""``python -m prunefront.agent``: the agent without typer or torch (numpy + onnxruntime only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prunefront.agent._protocol import DEFAULT_PORT
from prunefront.agent._serve import run_agent
from prunefront.errors import PrunefrontError


def main(argv: list[str] | None = None) -> None:
    """Parse the options of ``prunefront agent`` and serve; errors exit 2 with one line."""
    parser = argparse.ArgumentParser(
        prog="python -m prunefront.agent", description="prunefront profiling agent"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token-file", type=Path, default=None)
    parser.add_argument("--max-upload-mb", type=float, default=256.0)
    parser.add_argument("--max-profile-s", type=float, default=300.0)
    parser.add_argument("--queue-wait-s", type=float, default=600.0)
    parser.add_argument("--sensor-root", type=Path, default=Path("/"))
    args = parser.parse_args(argv)
    try:
        run_agent(
            host=args.host,
            port=args.port,
            token_file=args.token_file,
            max_upload_mb=args.max_upload_mb,
            max_profile_s=args.max_profile_s,
            queue_wait_s=args.queue_wait_s,
            sensor_root=args.sensor_root,
        )
    except PrunefrontError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
