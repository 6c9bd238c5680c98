from st2common.runners.base_action import Action


def helper():
    raise ValueError("boom: bad input\nsecond line of the message")


class Raises(Action):
    def run(self):
        print("before the exception")
        helper()
