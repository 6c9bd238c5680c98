import os
import sys

from st2common.runners.base_action import Action


class EchoParams(Action):
    def run(self, **kwargs):
        print("printed by the action")
        self.logger.info("logged by the action")
        env = dict(os.environ)
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().decode("utf-8", "replace").split("\0")
        return {
            "kwargs": kwargs,
            "lengths": {k: len(str(v)) for k, v in kwargs.items()},
            "message": "%s, %s!" % (kwargs["greeting"], kwargs["name"]),
            "env_var": env.get("MY_VAR"),
            "environ": env,
            "argv": argv,
            "sys_argv": sys.argv,
        }
