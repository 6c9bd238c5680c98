from st2common.runners.base_action import Action


class BadStatus(Action):
    def run(self):
        return ("yes", 1)
