"""Running an external engine (pdftocairo, tesseract) from a render process: a child process bounded in
time, killed with its parent, whose failure becomes a DocumentError with the given errorCode."""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence

from core.errors import DocumentError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # The render process may itself be killed (a page timeout recycles the pool): take the engine along.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run(command: Sequence[str], timeout_s: float, error_code: str, env: dict[str, str] | None = None) -> bytes:
    """Run `command` and return its standard output; raise DocumentError(error_code) when the engine is
    missing, fails or runs past `timeout_s` (it is killed then)."""
    if shutil.which(command[0]) is None:
        raise DocumentError(error_code, f"{command[0]} is not installed")
    try:
        done = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,  # only prctl, in the child before exec
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(error_code, f"{command[0]} ran past {timeout_s}s") from None
    if done.returncode != 0:
        raise DocumentError(error_code, f"{command[0]} failed: {done.stderr[-500:].decode(errors='replace')}")
    return done.stdout
