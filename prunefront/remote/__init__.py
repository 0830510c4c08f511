"""Remote and mobile targets: profile candidates on the device they will ship to.

``profile_remote(model, example_inputs, "remote://host:port", ...)`` exports the candidate to
ONNX, checks the export, sends it to a ``prunefront agent`` running on the device (or, for
``adb://SERIAL``, pushes it and runs an on-device benchmark binary), and returns the same
``ProfileResult`` a local profile returns. A device that does not answer raises
``RemoteUnavailable`` after bounded retries, so a search records the failure and goes on.
"""

from __future__ import annotations

from prunefront.agent import (
    AgentClient,
    RemoteRejected,
    RemoteTarget,
    RemoteUnavailable,
    is_remote_target,
    parse_target,
    read_token,
)
from prunefront.remote._profile import (
    check_agent,
    input_specs,
    profile_file_on_adb,
    profile_remote,
    result_from_document,
)

__all__ = [
    "AgentClient",
    "RemoteRejected",
    "RemoteTarget",
    "RemoteUnavailable",
    "check_agent",
    "input_specs",
    "is_remote_target",
    "parse_target",
    "profile_file_on_adb",
    "profile_remote",
    "read_token",
    "result_from_document",
]
