import json
import sys

import attune_greeting

params = json.loads(sys.stdin.readline() or "{}")
print(json.dumps({
    "greeting": attune_greeting.greet(params.get("name", "world")),
    "library": attune_greeting.__file__,
}))
