"""attune's wrapper for StackStorm python-script actions.

Run as `python -u attune_st2_wrapper.py <entry point>`, with file descriptor 3
open for writing. It reads one JSON object, from the file named by
ATTUNE_PARAMETERS_FILE or else from the first line of stdin:

    {"parameters": {...}, "config": {...}, "pack": "p", "log_level": "DEBUG",
     "api_url": "http://...", "token": "...", "execution_id": 1}

imports the entry point as a module (never as __main__, so a demo block
does not run), picks its Action class, instantiates it with the pack's
config and calls run(**parameters). It writes one JSON object to fd 3:

    {"status": true|false|null, "result": <what run() returned>}
    {"error": "<one line>"}            the action could not load, or raised

The action's own output stays on stdout and stderr; fd 3 is taken away
before the action is imported, so nothing the action prints (nor its child
processes) can write to it by accident. Exit codes: 0 when run() returned,
1 when loading or run() raised (the traceback is on stderr), 220 when run()
returned a status that is not a bool, run()'s own sys.exit code otherwise.
"""

import importlib.util
import inspect
import json
import os
import sys
import traceback

RESULT_FD = 3
INVALID_STATUS_EXIT_CODE = 220

INVALID_STATUS = (
    "Status returned from the action run() method must either be True or False, got: %r\n"
    "An action that returns a tuple of two items must return (status, result) with a bool status,\n"
    "or return a list instead of a tuple.\n"
)


def _take_channel():
    fd = os.dup(RESULT_FD)  # dup'ed descriptors are not inherited by child processes
    os.close(RESULT_FD)
    return os.fdopen(fd, "w", encoding="utf-8")


def _read_input():
    path = os.environ.pop("ATTUNE_PARAMETERS_FILE", None)
    if path:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
    else:
        raw = sys.stdin.readline()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise TypeError("the wrapper's input must be a JSON object")
    return data


def _fix_path(here, actions_dir):
    """The wrapper's and the actions' directories go last: a pack's action
    file named like a standard module (http.py) never shadows it, and a
    library the pack installed (the real six) wins over attune's subset."""
    def same(a, b):
        return os.path.realpath(a or ".") == os.path.realpath(b)

    kept = [p for p in sys.path if p and not same(p, here) and not same(p, actions_dir)]
    sys.path[:] = kept + [here, actions_dir]


def _one_line(text):
    text = str(text).strip()
    return text.splitlines()[0] if text else ""


def _describe(exc):
    msg = _one_line(exc)
    return "%s: %s" % (type(exc).__name__, msg) if msg else type(exc).__name__


def _default(obj):
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def _encode(status, result):
    try:
        return json.dumps({"status": status, "result": result}, allow_nan=False, default=_default)
    except (TypeError, ValueError, RecursionError):
        return json.dumps({"status": status, "result": str(result)})


def _action_class(module, entry):
    from st2common.runners.base_action import Action

    classes = [k for _, k in inspect.getmembers(module, inspect.isclass) if k.__module__ == module.__name__]
    found = [k for k in classes if issubclass(k, Action) and not inspect.isabstract(k)]
    if not found:
        # StackStorm registers any class of the file with a run method.
        found = [k for k in classes if callable(getattr(k, "run", None)) and not inspect.isabstract(k)]
    if not found:
        raise Exception('File "%s" has no action class (a subclass of Action with a run method)' % (entry,))
    return found[0]


class _Failed(Exception):
    def __init__(self, line, code=1):
        super().__init__(line)
        self.line = line
        self.code = code


def _load(entry, pack, config):
    from st2common.runners.action_service import ActionService
    from st2common.runners.utils import get_action_class_instance

    name = os.path.splitext(os.path.basename(entry))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, entry)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cls = _action_class(module, entry)
    except Exception as e:
        traceback.print_exc()
        raise _Failed('Failed to load action class from file "%s": %s' % (entry, _describe(e))) from None
    try:
        return get_action_class_instance(cls, config=config, action_service=ActionService(pack, cls.__name__))
    except Exception as e:
        traceback.print_exc()
        raise _Failed("Failed to instantiate action class %s: %s" % (cls.__name__, _describe(e))) from None


def main():
    channel = _take_channel()
    here = os.path.dirname(os.path.realpath(__file__))
    entry = os.path.realpath(sys.argv[1])
    sys.argv = [entry]

    def report(doc):
        sys.stdout.flush()
        sys.stderr.flush()
        channel.write(doc)
        channel.flush()

    try:
        data = _read_input()
    except Exception as e:
        report(json.dumps({"error": "the wrapper could not read its input: " + _describe(e)}))
        return 1
    _fix_path(here, os.path.dirname(entry))

    from st2common import _attune

    _attune.api_url = data.get("api_url")
    _attune.token = data.get("token")
    _attune.pack = data.get("pack")
    _attune.execution_id = data.get("execution_id")
    _attune.log_level = data.get("log_level") or "DEBUG"
    config = data.get("config") or {}
    if not isinstance(config, dict):
        report(json.dumps({"error": "the pack's config must be an object"}))
        return 1
    parameters = data.get("parameters") or {}

    try:
        action = _load(entry, _attune.pack, config)
    except _Failed as f:
        report(json.dumps({"error": f.line}))
        return f.code

    try:
        output = action.run(**parameters)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            sys.stderr.write("%s\n" % (e.code,))
        report(json.dumps({"status": None, "result": None, "exit": code}))
        return code
    except BaseException as e:
        traceback.print_exc()
        report(json.dumps({"error": _describe(e)}))
        return 1

    status, result = None, output
    if isinstance(output, tuple) and len(output) == 2:
        status, result = output
    if status is not None and not isinstance(status, bool):
        sys.stderr.write(INVALID_STATUS % (status,))
        report(json.dumps({"error": "run() returned a status that is not True or False: %r" % (status,)}))
        return INVALID_STATUS_EXIT_CODE
    report(_encode(status, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
