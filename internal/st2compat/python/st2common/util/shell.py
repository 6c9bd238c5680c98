"""Shell quoting helpers StackStorm packs import."""

import shlex
import subprocess

__all__ = ["quote_unix", "quote_windows"]


def quote_unix(value):
    """Quote value as one token of a POSIX shell command line."""
    return shlex.quote(value)


def quote_windows(value):
    """Quote value as one token of a Windows command line."""
    return subprocess.list2cmdline([value])
