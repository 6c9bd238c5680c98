"""attune's compatibility package for StackStorm sensors (st2reactor.sensor.base)."""
