"""core.http: one HTTP request with the standard library only."""
import json
import sys
import urllib.error
import urllib.request

params = json.loads(sys.stdin.readline() or "{}")
headers = dict(params.get("headers") or {})
body = params.get("body")
data = None
if body is not None:
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        data = str(body).encode()

req = urllib.request.Request(params["url"], data=data, method=params.get("method", "GET"), headers=headers)
try:
    with urllib.request.urlopen(req, timeout=float(params.get("timeout", 30))) as resp:
        status, resp_headers, raw = resp.status, dict(resp.headers), resp.read()
except urllib.error.HTTPError as e:
    status, resp_headers, raw = e.code, dict(e.headers), e.read()
except (urllib.error.URLError, OSError) as e:
    print(f"request failed: {e}", file=sys.stderr)
    sys.exit(1)

text = raw.decode("utf-8", "replace")
try:
    parsed = json.loads(text)
except ValueError:
    parsed = text
print(json.dumps({"status": status, "headers": resp_headers, "body": parsed}))
sys.exit(0 if status < 400 else 1)
