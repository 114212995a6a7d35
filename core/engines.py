"""The external engines this host has for workers to run (pdftocairo, Tesseract's languages), found once per
process."""

import shutil
import subprocess
from functools import cache


@cache
def installed(command: str) -> bool:
    """Whether `command` (pdftocairo, say) is on this host's PATH."""
    return shutil.which(command) is not None


@cache
def tesseract_languages() -> frozenset[str]:
    """Tesseract's installed languages (codes such as "eng"); empty when Tesseract is not installed."""
    if shutil.which("tesseract") is None:
        return frozenset()
    try:
        done = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    lines = (done.stdout or done.stderr).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and line.strip() != "osd")
