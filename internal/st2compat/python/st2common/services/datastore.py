"""The action's key/value store service, backed by attune's GraphQL API.

The wrapper hands this module the API's address and a token minted for the
one execution: it reaches only the key/value store, for the action's pack
(read and write) and the system-wide keys (read). The token never appears
in the environment or the command line.

Names map to attune's key store as follows: local=True (the default) is the
key of that name in the action's pack; local=False is the system-wide key.
StackStorm prefixes local names with "<pack>.<Class>:" in one flat
namespace; attune scopes keys by pack instead, so two classes of one pack
share their local keys.
"""

import json
import urllib.error
import urllib.request

from st2common import _attune
from st2common.constants.keyvalue import FULL_SYSTEM_SCOPE, SYSTEM_SCOPE

__all__ = ["BaseDatastoreService", "ActionDatastoreService", "DatastoreError", "KeyValuePair"]

_DEFAULT_LIMIT = 100
_PAGE = 1000


class DatastoreError(Exception):
    """The API refused or failed a key/value store call; code is its
    extensions.code (NOT_FOUND, FORBIDDEN, BAD_USER_INPUT…)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class KeyValuePair(object):
    """One key as list_values returns it."""

    def __init__(self, name, value, secret=False, scope=FULL_SYSTEM_SCOPE, pack=None):
        self.id = name
        self.name = name
        self.value = value
        self.secret = secret
        self.encrypted = secret
        self.scope = scope
        self.pack = pack

    def __repr__(self):
        return "<KeyValuePair name=%s,value=%s>" % (self.name, "********" if self.secret else self.value)


def _as_string(value):
    """StackStorm values are strings; attune's may be any JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


class _Client(object):
    """A minimal GraphQL client for the execution's token."""

    def __init__(self, api_url, token):
        self._url = api_url.rstrip("/") + "/graphql"
        self._token = token

    def call(self, query, variables):
        body = json.dumps({"query": query, "variables": variables}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._token:  # none when the server runs without authentication
            headers["Authorization"] = "Bearer " + self._token
        req = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            try:
                doc = json.loads(e.read().decode("utf-8"))
            except Exception:
                raise DatastoreError("key/value store call failed: HTTP %s" % (e.code,)) from None
        except urllib.error.URLError as e:
            raise DatastoreError("key/value store unreachable at %s: %s" % (self._url, e.reason)) from None
        errors = doc.get("errors") or []
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code")
            raise DatastoreError(first.get("message", "key/value store call failed"), code)
        return doc.get("data") or {}


class BaseDatastoreService(object):
    """get_value, set_value, delete_value and list_values, as StackStorm's."""

    def __init__(self, logger, pack_name, class_name):
        self._logger = logger
        self._pack_name = pack_name
        self._class_name = class_name
        self._client = None

    def get_api_client(self):
        if self._client is None:
            self._client = _Client(_attune.api_url or "", _attune.token)
        return self._client

    def _pack(self, local):
        return self._pack_name if local else None

    @staticmethod
    def _check_scope(scope):
        if scope not in (SYSTEM_SCOPE, FULL_SYSTEM_SCOPE):
            raise ValueError("Scope %s is unsupported." % (scope,))

    def get_user_info(self):
        data = self.get_api_client().call("query { viewer { name role packs } }", {})
        return data.get("viewer")

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        """The keys of the pack (local) or the system-wide ones, whose name
        starts with prefix, as KeyValuePair objects; secret values are None."""
        limit = limit or _DEFAULT_LIMIT
        offset = offset or 0
        where = {"packRef": self._pack_name if local else ""}
        if prefix:
            where["nameHasPrefix"] = prefix
        query = (
            "query($w: KeyWhereInput, $f: Int, $a: Cursor) { keys(first: $f, after: $a, where: $w,"
            " orderBy: {field: NAME}) { edges { node { name secret packRef value } }"
            " pageInfo { hasNextPage endCursor } } }"
        )
        self._logger.debug("Retrieving all the values from the datastore")
        out, after, want = [], None, offset + limit
        while len(out) < want:
            data = self.get_api_client().call(query, {"w": where, "f": min(_PAGE, want - len(out)), "a": after})
            conn = data["keys"]
            for edge in conn["edges"]:
                node = edge["node"]
                out.append(
                    KeyValuePair(
                        name=node["name"],
                        value=_as_string(node.get("value")),
                        secret=node.get("secret", False),
                        pack=node.get("packRef") or None,
                    )
                )
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        return out[offset:want]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        """The key's value as a string, or None when it does not exist (or
        cannot be read: the reason goes to the action's log)."""
        self._check_scope(scope)
        self._logger.debug("Retrieving value from the datastore (name=%s)", name)
        query = "query($n: String!, $p: String, $d: Boolean) { key(name: $n, pack: $p) { secret value(decrypt: $d) } }"
        try:
            data = self.get_api_client().call(query, {"n": name, "p": self._pack(local), "d": bool(decrypt)})
        except DatastoreError as e:
            if e.code != "NOT_FOUND":
                self._logger.exception("Exception retrieving value from datastore (name=%s): %s", name, e)
            return None
        return _as_string(data["key"].get("value"))

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        """Store str(value) under name, expiring after ttl seconds when
        given; True on success, an exception otherwise."""
        self._check_scope(scope)
        self._logger.debug("Setting value in the datastore (name=%s)", name)
        key = {"name": name, "value": str(value), "secret": bool(encrypt)}
        if ttl:
            key["ttl"] = int(ttl)
        pack = self._pack(local)
        if pack:
            key["pack"] = pack
        self.get_api_client().call("mutation($i: SetKeyInput!) { setKey(input: $i) { name } }", {"i": key})
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        """Delete the key; True when it was deleted, False otherwise."""
        self._check_scope(scope)
        self._logger.debug("Deleting value from the datastore (name=%s)", name)
        try:
            self.get_api_client().call(
                "mutation($n: String!, $p: String) { deleteKey(name: $n, pack: $p) { deletedRef } }",
                {"n": name, "p": self._pack(local)},
            )
        except DatastoreError as e:
            self._logger.exception("Exception deleting value from datastore (name=%s): %s", name, e)
            return False
        return True


class ActionDatastoreService(BaseDatastoreService):
    """The datastore service of an action, with the run's token."""

    def __init__(self, logger, pack_name, class_name, auth_token=None):
        super().__init__(logger=logger, pack_name=pack_name, class_name=class_name)
        if auth_token:
            self._client = _Client(_attune.api_url or "", auth_token)
