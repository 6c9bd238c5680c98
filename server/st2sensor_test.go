package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// st2SensorPack is a pack with StackStorm Python sensors as StackStorm
// writes them: no runner_type, a class in a .py file, poll_interval, an
// inline dotted trigger; one names a class its file lacks.
func st2SensorPack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "name: st2sense\nref: st2sense\ndescription: StackStorm sensors\nversion: 1.0.0\nauthor: attune tests\nconfig:\n  greeting: hi\n",
		"sensors/counter.yaml": `---
class_name: CounterSensor
entry_point: counter_sensor.py
description: Counts in the datastore and dispatches each count.
poll_interval: 1
trigger_types:
  - name: counter.tick
    description: One count.
    payload_schema:
      type: object
      properties:
        count: {type: integer}
`,
		"sensors/counter_sensor.py": `import json

from st2reactor.sensor.base import PollingSensor


class CounterSensor(PollingSensor):
    def __init__(self, sensor_service, config=None, poll_interval=None):
        super(CounterSensor, self).__init__(sensor_service=sensor_service, config=config,
                                            poll_interval=poll_interval)
        self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)
        self._triggers = []

    def setup(self):
        self._logger.info("counter sensor set up")
        print(json.dumps({"trigger": "st2sense.counter.tick", "payload": {"count": -1}}))

    def add_trigger(self, trigger):
        self._triggers.append(trigger)

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass

    def cleanup(self):
        pass

    def poll(self):
        count = int(self.sensor_service.get_value("count") or 0) + 1
        self.sensor_service.set_value("count", str(count))
        self.sensor_service.set_value("shared", "yes", local=False)
        self.sensor_service.dispatch(trigger="st2sense.counter.tick", payload={
            "count": count,
            "interval": self.get_poll_interval(),
            "triggers": [t["type"] for t in self._triggers],
            "params": [t["parameters"] for t in self._triggers],
            "keys": [kv.name for kv in self.sensor_service.list_values(prefix="co")],
            "shared": self.sensor_service.get_value("shared", local=False),
            "config": self.config,
        }, trace_tag="count-%d" % count)
`,
		"sensors/pulse.yaml": `---
class_name: PulseSensor
entry_point: pulse_sensor.py
trigger_types:
  - name: pulse
`,
		"sensors/pulse_sensor.py": `import threading
import time

from st2reactor.sensor.base import Sensor


class PulseSensor(Sensor):
    def setup(self):
        self._stop = threading.Event()

    def run(self):
        # A short trigger name is the sensor's pack's.
        self.sensor_service.dispatch("pulse", {"sent_at": time.time()})
        self._stop.wait()

    def cleanup(self):
        self._stop.set()

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
`,
		"sensors/broken.yaml": `---
class_name: NoSuchSensor
entry_point: broken_sensor.py
trigger_types:
  - name: broken.event
`,
		"sensors/broken_sensor.py": `from st2reactor.sensor.base import Sensor


class OtherSensor(Sensor):
    def setup(self): pass
    def run(self): pass
    def cleanup(self): pass
    def add_trigger(self, trigger): pass
    def update_trigger(self, trigger): pass
    def remove_trigger(self, trigger): pass
`,
		"rules/on_tick.yaml": `---
name: on_tick
pack: st2sense
enabled: true
trigger:
  type: st2sense.counter.tick
  parameters: {path: /var/log/app.log}
criteria:
  trigger.count:
    type: equals
    pattern: 2
action:
  ref: core.echo
  parameters:
    message: "tick {{ trigger.count }} {{ trigger.config.greeting }}"
`,
		"rules/on_pulse.yaml":  "name: on_pulse\npack: st2sense\ntrigger: {type: st2sense.pulse}\naction: {ref: core.noop}\n",
		"rules/on_broken.yaml": "name: on_broken\npack: st2sense\ntrigger: {type: st2sense.broken.event}\naction: {ref: core.noop}\n",
	})
}

// TestStackStormPythonSensor: a StackStorm PollingSensor runs under
// attune's st2reactor wrapper with the pack's config, polls every
// poll_interval, keeps its count in the datastore through sensor_service,
// sees its rule's trigger through add_trigger, and its dispatches become
// events that run the rule's action; its prints stay out of the events. A
// sensor whose class is missing backs off with the reason.
func TestStackStormPythonSensor(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, eventsEnv, "-database-url", dbtest.URL(t, backend))
		gql := gqltest.New(s.url + "/graphql")
		gql.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": st2SensorPack(t)}, nil)

		second := awaitEvent(t, gql, "st2sense.counter.tick", func(ev st2Event) bool { return ev.Payload["count"] == 2.0 })
		require.Equal(t, "st2sense.counter", second.SourceRef)
		require.Equal(t, 1.0, second.Payload["interval"], "poll_interval from the sensor YAML")
		require.Equal(t, []any{"st2sense.counter.tick"}, second.Payload["triggers"], "add_trigger saw the rule's trigger")
		require.Equal(t, []any{map[string]any{"path": "/var/log/app.log"}}, second.Payload["params"])
		require.Equal(t, []any{"count"}, second.Payload["keys"])
		require.Equal(t, "yes", second.Payload["shared"])
		require.Equal(t, map[string]any{"greeting": "hi"}, second.Payload["config"])
		for _, ev := range st2Events(t, gql, "st2sense.counter.tick") {
			require.NotEqual(t, -1.0, ev.Payload["count"], "a print is not an event")
		}

		// A passive sensor's dispatch is an event by the time it returns.
		var pulse struct {
			Events struct {
				Edges []struct {
					Node struct {
						Payload   map[string]any
						CreatedAt time.Time
					}
				}
			}
		}
		eventually(t, execDeadline, "the passive sensor's event", func() bool {
			gql.Must(t, `{ events(where: {triggerRef: "st2sense.pulse"}) { edges { node { payload createdAt } } } }`, nil, &pulse)
			return len(pulse.Events.Edges) > 0
		})
		ev := pulse.Events.Edges[0].Node
		sent := time.Unix(0, int64(ev.Payload["sent_at"].(float64)*1e9))
		require.Less(t, ev.CreatedAt.Sub(sent), 2*time.Second, "stored while the dispatch waited (a generous bound for a loaded machine)")

		var key struct{ Key struct{ Value any } }
		gql.Must(t, `{ key(name: "count", pack: "st2sense") { value } }`, nil, &key)
		require.NotEmpty(t, key.Key.Value)

		eventually(t, execDeadline, "the rule's echo of the second tick", func() bool {
			var out struct {
				Executions struct {
					Edges []struct {
						Node struct{ Status, Stdout string }
					}
				}
			}
			gql.Must(t, `{ executions(where: {actionRef: "core.echo"}) { edges { node { status stdout } } } }`, nil, &out)
			for _, e := range out.Executions.Edges {
				if e.Node.Status == "SUCCEEDED" {
					require.Contains(t, e.Node.Stdout, "tick 2 hi")
					return true
				}
			}
			return false
		})

		var broken struct {
			Sensor struct{ Status, LastError string }
		}
		eventually(t, execDeadline, "the broken sensor to back off", func() bool {
			gql.Must(t, `{ sensor(ref: "st2sense.broken") { status lastError } }`, nil, &broken)
			return broken.Sensor.Status == "BACKOFF"
		})
		require.Contains(t, broken.Sensor.LastError, `has no class "NoSuchSensor"`)
		for _, ref := range []string{"st2sense.counter", "st2sense.pulse", "st2sense.broken"} {
			gql.Must(t, `mutation($r: String!) { disableSensor(ref: $r) { enabled } }`, map[string]any{"r": ref}, nil)
		}
	})
}
