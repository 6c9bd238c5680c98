"""attune's wrapper for StackStorm Python sensors.

Run as: python attune_st2sensor.py <sensor file>, with the sensor's spec as
one JSON line on stdin ({sensor, pack, class_name, poll_interval, config,
rules}) and ATTUNE_SENSOR_SOCKET naming the supervisor's Unix socket, over
which dispatches and datastore calls go as JSON lines (one request, one
answer). Anything the sensor prints goes to stderr, which attune logs.
"""

import importlib.util
import inspect
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback

from st2reactor.sensor.base import BaseSensor, PollingSensor

SYSTEM_SCOPE = "system"
USER_SCOPE = "user"


class _Channel(object):
    """Request/answer over the supervisor's socket; safe across threads."""

    def __init__(self, path):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._file = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, op, **args):
        args["op"] = op
        line = json.dumps(args, default=str).encode() + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            answer = self._file.readline()
        if not answer:
            raise RuntimeError("attune's sensor supervisor closed the connection")
        answer = json.loads(answer)
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error") or "refused")
        return answer.get("result")


class KeyValuePair(object):
    """A datastore item as list_values returns it."""

    def __init__(self, item):
        self.name = item.get("name")
        self.value = item.get("value")
        self.secret = bool(item.get("secret"))
        self.encrypted = self.secret
        self.scope = item.get("scope", SYSTEM_SCOPE)
        self.expire_timestamp = None

    def __repr__(self):
        return "KeyValuePair(name=%r)" % (self.name,)


class SensorService(object):
    """What a sensor reaches as self.sensor_service."""

    def __init__(self, channel, pack, class_name, logger):
        self._channel = channel
        self._pack = pack
        self._class_name = class_name
        self._logger = logger

    def get_logger(self, name):
        logger = logging.getLogger("%s.%s" % (self._logger.name, name))
        logger.propagate = True
        return logger

    def get_user_info(self):
        return {"username": "sensor_service"}

    def dispatch(self, trigger, payload=None, trace_tag=None):
        """Emits an event of trigger (a ref, or a dict with type/ref)."""
        if isinstance(trigger, dict):
            trigger = trigger.get("type") or trigger.get("ref")
        try:
            self._channel.call("dispatch", trigger=trigger, payload=payload or {}, trace_tag=trace_tag)
        except Exception as e:  # StackStorm logs a refused dispatch and goes on
            self._logger.warning("dispatch of %s refused: %s", trigger, e)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        tag = getattr(trace_context, "trace_tag", None)
        return self.dispatch(trigger, payload=payload, trace_tag=tag)

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        items = self._channel.call("list_values", local=local, prefix=prefix or "")
        items = items[offset or 0:]
        if limit:
            items = items[:limit]
        return [KeyValuePair(i) for i in items]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        return self._channel.call("get_value", name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        self._channel.call("set_value", name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        return bool(self._channel.call("delete_value", name=name, local=local, scope=scope))


def _load_class(path, class_name):
    """The sensor class named class_name in the file at path."""
    here = os.path.dirname(os.path.abspath(path))
    if here not in sys.path:
        sys.path.append(here)
    name, _ = os.path.splitext(os.path.basename(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = [n for n, c in inspect.getmembers(module, inspect.isclass)
                 if issubclass(c, BaseSensor) and c.__module__ == module.__name__]
        raise SystemExit('Sensor module %s has no class "%s" (sensor classes found: %s)'
                         % (path, class_name, ", ".join(found) or "none"))
    if not (inspect.isclass(cls) and issubclass(cls, BaseSensor)):
        raise SystemExit('"%s" in %s is not a st2reactor.sensor.base.Sensor or PollingSensor' % (class_name, path))
    return cls


def main():
    sensor_file = sys.argv[1]
    spec = json.loads(sys.stdin.readline() or "{}")
    # The sensor's own prints must never pass for events: stdout is stderr.
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    pack, class_name = spec.get("pack", ""), spec.get("class_name", "")
    logger = logging.getLogger("SensorWrapper.%s.%s" % (pack, class_name))
    channel = _Channel(os.environ["ATTUNE_SENSOR_SOCKET"])
    cls = _load_class(sensor_file, class_name)
    kwargs = {"sensor_service": SensorService(channel, pack, class_name, logger),
              "config": spec.get("config") or {}}
    if spec.get("poll_interval") and issubclass(cls, PollingSensor):
        kwargs["poll_interval"] = spec["poll_interval"]
    sensor = cls(**kwargs)

    def stop(signum, frame):
        logger.info("Invoking cleanup on sensor")
        try:
            sensor.cleanup()
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("Running sensor initialization code")
    sensor.setup()
    seen = set()
    for r in spec.get("rules") or []:
        params = r.get("trigger_params") or {}
        key = (r.get("trigger"), json.dumps(params, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        ref = r.get("trigger") or ""
        tpack, _, tname = ref.partition(".")
        sensor.add_trigger({"id": "%s:%s" % key, "uid": "trigger:%s:%s" % key, "ref": ref, "type": ref,
                            "pack": tpack, "name": tname, "parameters": params})
    if isinstance(sensor, PollingSensor):
        logger.info("Running sensor in active mode (poll interval=%ss)", sensor.get_poll_interval())
    else:
        logger.info("Running sensor in passive mode")
    try:
        sensor.run()
    except Exception as e:
        traceback.print_exc()
        raise SystemExit('Sensor "%s" run method raised an exception: %s.' % (class_name, e))
    sensor.cleanup()


if __name__ == "__main__":
    main()
