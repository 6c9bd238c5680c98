"""Helpers of the Python runner: the action's logger, its config dict and
the instantiation of its class, as StackStorm's runner provides them."""

import logging
import sys

__all__ = ["PackConfigDict", "get_logger_for_python_runner_action", "get_action_class_instance"]

_CONFIG_MISSING = (
    'Config for pack "%s" is missing key "%s".\n'
    "Set it in the pack's config (attune: the pack's config, or a default in its config.schema.yaml)."
)

_LOGGERS = {}


class PackConfigDict(dict):
    """The pack's config: a dict whose missing keys raise a ValueError that
    names the pack and the key, as StackStorm's does."""

    def __init__(self, pack_name, *args):
        super().__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            raise ValueError(_CONFIG_MISSING % (self._pack_name, key)) from None


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """A logger named actions.python.<action_name> that writes to stderr,
    which attune captures as the execution's stderr."""
    name = "actions.python.%s" % (action_name,)
    logger = _LOGGERS.get(name)
    if logger is not None:
        return logger
    level = getattr(logging, str(log_level).upper(), logging.DEBUG)
    if not isinstance(level, int):
        level = logging.DEBUG
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    _LOGGERS[name] = logger
    return logger


def get_action_class_instance(action_cls, config=None, action_service=None):
    """Instantiate action_cls with config and action_service; a class whose
    constructor takes no action_service gets it assigned afterwards."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as e:
        if "unexpected keyword argument 'action_service'" not in str(e):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance
