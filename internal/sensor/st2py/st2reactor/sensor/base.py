"""StackStorm's sensor base classes, as attune runs them.

A sensor subclasses Sensor (passive: run() blocks and dispatches) or
PollingSensor (active: poll() every poll_interval seconds). attune's
wrapper instantiates the class with a sensor_service and the pack's
config, calls setup(), add_trigger() for each trigger instance the rules
use, then run(); cleanup() when the sensor is stopped.
"""

import abc
import time

__all__ = ["BaseSensor", "Sensor", "PollingSensor"]


class BaseSensor(abc.ABC):
    """Base of both sensor kinds; not instantiated directly."""

    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self):
        """Runs once before run()."""

    @abc.abstractmethod
    def run(self):
        """Runs the sensor."""

    @abc.abstractmethod
    def cleanup(self):
        """Runs when the sensor stops."""

    @abc.abstractmethod
    def add_trigger(self, trigger):
        """Runs for each trigger instance a rule uses."""

    @abc.abstractmethod
    def update_trigger(self, trigger):
        """Runs when a trigger instance changes."""

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        """Runs when a trigger instance goes away."""


class Sensor(BaseSensor):
    """Base of passive sensors: run() blocks, dispatching as things happen."""

    @abc.abstractmethod
    def run(self):
        pass


class PollingSensor(BaseSensor):
    """Base of active sensors: poll() runs every poll_interval seconds."""

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        """Polls the outside system once."""

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
