#!/usr/bin/python3
# Prints its argv (without the script), working directory, $MY_VAR and stdin
# as one JSON object, then exits with its last argument.
import json
import os
import sys

print(json.dumps({
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "my_var": os.environ.get("MY_VAR"),
    "st2_pack": os.environ.get("ST2_ACTION_PACK_NAME"),
    "stdin": sys.stdin.read(),
}))
sys.exit(int(sys.argv[-1] or 0))
