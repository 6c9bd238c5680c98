"""StackStorm's st2common.log: named loggers (the standard library's)."""

import logging

AUDIT = 5
logging.addLevelName(AUDIT, "AUDIT")

getLogger = logging.getLogger

__all__ = ["getLogger", "AUDIT"]
