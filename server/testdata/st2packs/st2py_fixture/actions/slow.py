import time

from st2common.runners.base_action import Action


class Slow(Action):
    def run(self):
        time.sleep(60)
        return "woke up"
