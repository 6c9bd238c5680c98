from lib.base import PackBase


class UsesBase(PackBase):
    def run(self):
        return {"region": self.region, "has_service": self.action_service is not None}
