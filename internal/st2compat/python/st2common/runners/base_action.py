"""The base class of StackStorm Python actions (attune's implementation)."""

import abc

from st2common import _attune
from st2common.runners.utils import PackConfigDict, get_logger_for_python_runner_action

__all__ = ["Action"]


class Action(object, metaclass=abc.ABCMeta):
    """Base class of Python actions: subclasses implement run(**parameters).

    self.config is the pack's config, self.logger writes to the execution's
    stderr, and self.action_service reads and writes the key/value store.
    """

    description = None

    def __init__(self, config=None, action_service=None):
        self.config = PackConfigDict(_attune.pack or "unknown", config or {})
        self.action_service = action_service
        self.logger = get_logger_for_python_runner_action(
            action_name=self.__class__.__name__, log_level=_attune.log_level or "debug"
        )

    @abc.abstractmethod
    def run(self, **kwargs):
        pass
