"""The import path of the Action base class before StackStorm 2.x, which
older packs still use."""

from st2common.runners.base_action import Action

__all__ = ["Action"]
