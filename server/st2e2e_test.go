package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// TestStackStormSensorToPythonAction is issue 19's end to end: the
// project's own StackStorm-format pack (testdata/st2packs/st2e2e_fixture)
// is installed and configured, its rule enabled; its PollingSensor reads
// the pack's config and dispatches a poll's disk usage; the StackStorm
// rule's criteria pick the one hot poll and render its Jinja parameters
// from the trigger; the python-script action runs with them and the pack's
// config (a schema default included) and returns the report in
// StackStorm's result shape.
func TestStackStormSensorToPythonAction(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, authEnv("ATTUNE_EVENTS_LEASE_TTL=3s", "ATTUNE_EVENTS_SENSOR_POLL=300ms",
			"ATTUNE_EVENTS_SENSOR_BACKOFF_MIN=1500ms"), "-database-url", dbURL)
		s.token = testAdminToken
		admin := client(s, s.token)
		// The pack ships its rule disabled; the operator configures the
		// pack first, so the sensor starts with the config.
		installSt2Pack(t, s, "st2e2e_fixture", map[string]any{"watch_host": "web-1", "greeting": "Heads up"})
		admin.Must(t, `mutation { enableRule(ref: "st2e2e_fixture.disk_full") { rule { enabled } } }`, nil, nil)
		t.Cleanup(func() {
			admin.Do(t, `mutation { disableRule(ref: "st2e2e_fixture.disk_full") { rule { enabled } } }`, nil)
		})

		const trigger = "st2e2e_fixture.disk.usage"
		hot := awaitEvent(t, admin, trigger, func(ev st2Event) bool { return ev.Payload["poll"] == 2.0 })
		require.Equal(t, map[string]any{"host": "web-1", "path": "/", "used_percent": 90.0, "poll": 2.0}, hot.Payload,
			"the sensor's dispatch, with the host and the path (a schema default) from the pack's config")
		require.Equal(t, "st2e2e_fixture.disk_sensor", hot.SourceRef)
		require.Empty(t, hot.RuleRef, "meant for every rule of the trigger")

		// The event's enforcement names the rule and links the execution.
		type enforced struct {
			ID, RuleRef, Status, Reason string
			Executions                  struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		enforcements := func(eventID string) []enforced {
			var out struct {
				Node struct {
					Enforcements struct{ Edges []struct{ Node enforced } }
				}
			}
			admin.Must(t, `query($id: ID!) { node(id: $id) { ... on Event {
				enforcements { edges { node { id ruleRef status reason executions { edges { node { id } } } } } } } } }`,
				map[string]any{"id": eventID}, &out)
			var got []enforced
			for _, e := range out.Node.Enforcements.Edges {
				got = append(got, e.Node)
			}
			return got
		}
		var enf enforced
		eventually(t, execDeadline, "the hot event's enforcement and its execution", func() bool {
			got := enforcements(hot.ID)
			if len(got) == 0 || len(got[0].Executions.Edges) == 0 {
				return false
			}
			require.Len(t, got, 1)
			enf = got[0]
			return true
		})
		require.Equal(t, "st2e2e_fixture.disk_full", enf.RuleRef)
		require.Equal(t, "PROCESSED", enf.Status, enf.Reason)
		require.Len(t, enf.Executions.Edges, 1)
		execID := enf.Executions.Edges[0].Node.ID

		follow(t, s, execID)
		var run struct {
			Node struct {
				ActionRef   string
				Status      string
				Error       string
				Parameters  map[string]any
				Result      json.RawMessage
				Enforcement struct{ ID string }
			}
		}
		admin.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution {
			actionRef status error parameters result enforcement { id } } } }`, map[string]any{"id": execID}, &run)
		require.Equal(t, "SUCCEEDED", run.Node.Status, "%+v", run.Node)
		require.Equal(t, "st2e2e_fixture.report", run.Node.ActionRef)
		require.Equal(t, enf.ID, run.Node.Enforcement.ID)
		// The rule's Jinja rendered from the trigger, cast to the declared
		// types (beside the runner's parameters with their defaults).
		for k, want := range map[string]any{"host": "web-1", "used": 90.0, "poll": 2.0} {
			require.Equal(t, want, run.Node.Parameters[k], "parameter %s of %v", k, run.Node.Parameters)
		}
		require.JSONEq(t, `{
			"result": "Heads up: web-1 is 90% full (int, poll 2)",
			"stdout": "reporting web-1\n",
			"stderr": "",
			"exit_code": 0
		}`, string(run.Node.Result))

		// The cool polls matched no criteria: events without enforcements.
		var cool int
		for _, ev := range st2Events(t, admin, trigger) {
			if ev.Payload["poll"] != 2.0 {
				cool++
				require.Empty(t, enforcements(ev.ID), "poll %v", ev.Payload["poll"])
			}
		}
		require.Positive(t, cool, "the first poll is cool")
	})
}
