#!/usr/bin/env bash
# core.echo: print the message parameter. Parameters arrive as one JSON line
# on stdin (never in argv, where ps would show them).
exec python3 -c 'import json, sys; print(json.loads(sys.stdin.readline() or "{}").get("message", ""))'
