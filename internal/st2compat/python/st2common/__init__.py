"""attune's StackStorm compatibility package for Python actions.

This is not StackStorm's st2common: it is attune's own small package that
offers the names StackStorm packs import (the Action base class, the logger,
the datastore service) so that their actions run unchanged under attune.
"""

__version__ = "3.8.0"
