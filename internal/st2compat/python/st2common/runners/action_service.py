"""The action_service handed to every action, as StackStorm's wrapper builds it."""

from st2common import _attune
from st2common.constants.keyvalue import SYSTEM_SCOPE
from st2common.runners.utils import get_logger_for_python_runner_action

__all__ = ["ActionService"]


class ActionService(object):
    """Public methods an action may call through self.action_service."""

    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name
        self._log_level = _attune.log_level
        self._datastore_service = None

    @property
    def datastore_service(self):
        if self._datastore_service is None:
            from st2common.services.datastore import ActionDatastoreService

            logger = get_logger_for_python_runner_action(self._class_name, self._log_level)
            self._datastore_service = ActionDatastoreService(logger, self._pack, self._class_name)
        return self._datastore_service

    def get_user_info(self):
        return self.datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        return self.datastore_service.list_values(local=local, prefix=prefix, limit=limit, offset=offset)

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        return self.datastore_service.get_value(name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        return self.datastore_service.set_value(
            name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)
