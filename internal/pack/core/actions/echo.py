import json
import sys

params = json.loads(sys.stdin.readline() or "{}")
print(params.get("message", ""))
