import json
import urllib.request

from st2common import _attune
from st2common.runners.base_action import Action

ATTEMPTS = {
    "read_packs": ("query { packs { edges { node { ref } } } }", {}),
    "read_executions": ("query { executions { edges { node { id } } } }", {}),
    "execute": ('mutation { executeAction(input: {action: "core.noop"}) { execution { id } } }', {}),
    "other_pack_key": ('query { key(name: "k", pack: "core") { value } }', {}),
    "other_pack_set": ('mutation { setKey(input: {name: "k", value: "v", pack: "core"}) { name } }', {}),
    "create_token": ('mutation { createApiToken(input: {name: "x", role: VIEWER}) { token } }', {}),
    "list_other_keys": ('query { keys(where: {packRef: "core"}) { edges { node { name } } } }', {}),
}


class Reach(Action):
    def run(self):
        out = {}
        for name, (query, variables) in sorted(ATTEMPTS.items()):
            req = urllib.request.Request(
                _attune.api_url + "/graphql",
                data=json.dumps({"query": query, "variables": variables}).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + _attune.token},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req) as resp:
                    doc = json.loads(resp.read())
            except urllib.error.HTTPError as e:
                doc = json.loads(e.read())
            errors = doc.get("errors") or []
            if errors:
                out[name] = (errors[0].get("extensions") or {}).get("code")
            else:
                out[name] = doc.get("data")
        return out
