from st2common.runners.base_action import Action


class Verdict(Action):
    def run(self, ok):
        print("about to return a verdict")
        if ok:
            return (True, ["fine", 2])
        return (False, {"reason": "nope"})
