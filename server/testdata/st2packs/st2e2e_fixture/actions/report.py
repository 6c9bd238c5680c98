from st2common.runners.base_action import Action


class Report(Action):
    def run(self, host, used, poll):
        print("reporting %s" % host)
        return "%s: %s is %d%s full (%s, poll %s)" % (
            self.config["greeting"], host, used, self.config["unit"], type(used).__name__, poll)
