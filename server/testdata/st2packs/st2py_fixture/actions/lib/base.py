from st2common.runners.base_action import Action


class PackBase(Action):
    """A pack's own base class, as many packs write one: an old-style
    constructor that takes the config only."""

    def __init__(self, config):
        super(PackBase, self).__init__(config)
        self.region = self.config.get("region")
