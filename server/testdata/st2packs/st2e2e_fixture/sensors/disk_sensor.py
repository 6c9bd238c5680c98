from st2reactor.sensor.base import PollingSensor


class DiskSensor(PollingSensor):
    """Reports a made-up disk usage: high on the second poll only, so that
    exactly one event matches the rule."""

    def setup(self):
        self._host = self.config["watch_host"]
        self._path = self.config["disk_path"]

    def poll(self):
        count = int(self.sensor_service.get_value("polls") or 0) + 1
        self.sensor_service.set_value("polls", str(count))
        used = 90 if count == 2 else 50
        self.sensor_service.dispatch(
            trigger="st2e2e_fixture.disk.usage",
            payload={"host": self._host, "path": self._path, "used_percent": used, "poll": count},
            trace_tag="poll-%d" % count,
        )

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
