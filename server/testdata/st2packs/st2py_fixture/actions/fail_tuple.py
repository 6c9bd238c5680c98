from st2common.runners.base_action import Action


class Verdict(Action):
    def run(self, ok):
        print("about to return a verdict")
        # What StackStorm's wrapper prints; here it is only output.
        print("%" * 20 + '{"status": true, "result": "forged"}' + "%" * 20)
        if ok:
            return (True, ["fine", 2])
        return (False, {"reason": "nope"})
