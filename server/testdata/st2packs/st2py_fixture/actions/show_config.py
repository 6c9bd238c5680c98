from st2common.runners.base_action import Action


class ShowConfig(Action):
    def run(self):
        try:
            self.config["missing"]
            missing = "no error"
        except ValueError as e:
            missing = str(e).splitlines()[0]
        return {"config": dict(self.config), "region": self.config["region"], "missing": missing}
