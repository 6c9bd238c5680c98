package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// st2TriggerPack is a pack written as StackStorm writes one: a webhook rule
// on core.st2.webhook matching trigger.body.name, a sensor defining a
// dotted trigger inline, an action with notify settings.
func st2TriggerPack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "name: st2hooks\nref: st2hooks\ndescription: StackStorm-format triggers\nversion: 1.0.0\nauthor: attune tests\n",
		"rules/on_deploy.yaml": `---
name: on_deploy
pack: st2hooks
description: Echo the deployed app's name.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: deploy/app
criteria:
  trigger.body.name:
    type: equals
    pattern: billing
action:
  ref: core.echo
  parameters:
    message: "deployed {{ trigger.body.name }} by {{ trigger.headers_lower['x-actor'] }}"
`,
		"sensors/watch_sensor.yaml": `---
class_name: WatchSensor
entry_point: watch.sh
runner_type: shell
description: Emits one line event and stays up.
trigger_types:
  - name: file_watch.line
    pack: st2hooks
    description: A line appended to a watched file.
    payload_schema:
      type: object
      properties:
        line: {type: string}
`,
		"sensors/watch.sh": `#!/usr/bin/env bash
read -r input
echo '{"trigger": "st2hooks.file_watch.line", "payload": {"line": "hello"}}'
exec sleep 600
`,
		"actions/hello.yaml": `---
name: hello
runner_type: shell
entry_point: hello.sh
parameters:
  who: {type: string, default: world}
notify:
  on-success:
    message: "said hello to {{ action_parameters.who }}"
    data: {who: "{{ action_parameters.who }}"}
    routes: [chat, pager]
  on-failure:
    routes: [oncall]
`,
		"actions/hello.sh": "#!/usr/bin/env bash\necho hello\n",
	})
}

type st2Event struct {
	ID        string
	Payload   map[string]any
	RuleRef   string
	SourceRef string
}

// st2Events lists the events of a trigger, oldest first.
func st2Events(t *testing.T, gql *gqltest.Client, trigger string) []st2Event {
	t.Helper()
	var out struct {
		Events struct{ Edges []struct{ Node st2Event } }
	}
	gql.Must(t, `query($t: String!) { events(where: {triggerRef: $t}, orderBy: {field: CREATED_AT}) {
		edges { node { id payload ruleRef sourceRef } } } }`, map[string]any{"t": trigger}, &out)
	evs := make([]st2Event, len(out.Events.Edges))
	for i, e := range out.Events.Edges {
		evs[i] = e.Node
	}
	return evs
}

// awaitEvent waits for the first event of trigger that ok accepts.
func awaitEvent(t *testing.T, gql *gqltest.Client, trigger string, ok func(st2Event) bool) st2Event {
	t.Helper()
	var got st2Event
	eventually(t, execDeadline, "an event of "+trigger, func() bool {
		for _, ev := range st2Events(t, gql, trigger) {
			if ok == nil || ok(ev) {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

func createRule(t *testing.T, gql *gqltest.Client, in map[string]any) {
	t.Helper()
	gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": in}, nil)
}

// TestStackStormWebhooks: a StackStorm pack's webhook rule runs when its
// url is POSTed to /api/v1/webhooks/<url> with StackStorm's auth (an
// attune token in any of StackStorm's places), the rule on
// trigger.body.name sees {headers, body}; the execution's end fires
// core.st2.generic.actiontrigger with StackStorm's payload; an action's
// notify settings fire core.st2.generic.notifytrigger per route; the
// sensor's dotted inline trigger registers under the pack and its process
// fires core.st2.sensor.process_spawn.
func TestStackStormWebhooks(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		env := authEnv("ATTUNE_EVENTS_LEASE_TTL=3s", "ATTUNE_EVENTS_SENSOR_POLL=300ms")
		s := startServer(t, env, "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		viewer := newToken(t, admin, "viewer", "VIEWER", nil)
		admin.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": st2TriggerPack(t)}, nil)

		// The dotted inline trigger is the pack's.
		var tr struct{ Trigger struct{ Ref, PackRef string } }
		admin.Must(t, `{ trigger(ref: "st2hooks.file_watch.line") { ref packRef } }`, nil, &tr)
		require.Equal(t, "st2hooks", tr.Trigger.PackRef)

		createRule(t, admin, map[string]any{
			"ref": "st2hooks.after_echo", "pack": "st2hooks", "trigger": "core.st2.generic.actiontrigger", "action": "core.noop",
			"criteria": map[string]any{"trigger.action_ref": map[string]any{"type": "equals", "pattern": "core.echo"}},
		})
		createRule(t, admin, map[string]any{
			"ref": "st2hooks.on_chat", "pack": "st2hooks", "trigger": "core.st2.generic.notifytrigger", "action": "core.noop",
			"criteria": map[string]any{"trigger.route": map[string]any{"type": "equals", "pattern": "chat"}},
		})

		hook := s.url + "/api/v1/webhooks/deploy/app"
		body := `{"name": "billing", "version": 7}`
		plain := http.Header{"Content-Type": {"application/json"}, "X-Actor": {"ops"}}
		with := func(k, v string) http.Header {
			h := plain.Clone()
			h.Set(k, v)
			return h
		}
		cases := []struct {
			name   string
			target string
			header http.Header
			body   string
			status int
			want   string
		}{
			{"no token", hook, plain, body, http.StatusUnauthorized, "Token or API key required"},
			{"bad token", hook, with("X-Auth-Token", "att_nope"), body, http.StatusUnauthorized, "faultstring"},
			{"viewer", hook, with("St2-Api-Key", viewer), body, http.StatusForbidden, "OPERATOR"},
			{"unknown hook", s.url + "/api/v1/webhooks/nope", with("X-Auth-Token", testAdminToken), body, http.StatusNotFound, "Webhook nope not registered with st2"},
			{"not JSON", hook, with("X-Auth-Token", testAdminToken), "{", http.StatusBadRequest, "not valid JSON"},
			{"st2 hook without trigger", s.url + "/api/v1/webhooks/st2", with("X-Auth-Token", testAdminToken), `{"payload": {}}`, http.StatusBadRequest, "Trigger not specified."},
			{"no match", hook, with("X-Auth-Token", testAdminToken), `{"name": "other"}`, http.StatusAccepted, `"other"`},
			{"api key query", hook + "?st2-api-key=" + url.QueryEscape(testAdminToken), plain, body, http.StatusAccepted, `"billing"`},
			{"token query", hook + "/?x-auth-token=" + url.QueryEscape(testAdminToken), plain, body, http.StatusAccepted, `"billing"`},
			{"St2-Api-Key", hook, with("St2-Api-Key", testAdminToken), body, http.StatusAccepted, `"billing"`},
		}
		for _, tc := range cases {
			res, out := do(t, http.MethodPost, tc.target, tc.header, tc.body)
			require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, out)
			require.Contains(t, out, tc.want, tc.name)
		}

		// Four accepted calls, one event each (one rule has the url); the
		// payload is StackStorm's, without the credentials.
		evs := st2Events(t, admin, "core.st2.webhook")
		require.Len(t, evs, 4)
		ev := evs[1]
		require.Equal(t, "st2hooks.on_deploy", ev.RuleRef)
		require.Equal(t, map[string]any{"name": "billing", "version": 7.0}, ev.Payload["body"])
		headers := ev.Payload["headers"].(map[string]any)
		require.Equal(t, "ops", headers["X-Actor"])
		require.NotEmpty(t, headers["Host"])
		require.Equal(t, "ops", ev.Payload["headers_lower"].(map[string]any)["x-actor"])
		require.NotContains(t, evs[3].Payload["headers"], "St2-Api-Key", "credentials stay out of the payload")

		// Three matched trigger.body.name and ran core.echo.
		type echo struct {
			ID     string
			Status string
			Result json.RawMessage
		}
		var runs []echo
		eventually(t, execDeadline, "three echo executions to succeed", func() bool {
			var out struct {
				Executions struct{ Edges []struct{ Node echo } }
			}
			admin.Must(t, `{ executions(where: {actionRef: "core.echo"}) { edges { node { id status result } } } }`, nil, &out)
			runs = runs[:0]
			for _, e := range out.Executions.Edges {
				if e.Node.Status == "SUCCEEDED" {
					runs = append(runs, e.Node)
				}
			}
			return len(runs) == 3
		})
		require.Contains(t, string(runs[0].Result), "deployed billing by ops")

		// Each echo's end fired the action trigger with StackStorm's payload.
		at := awaitEvent(t, admin, "core.st2.generic.actiontrigger", func(ev st2Event) bool {
			return ev.Payload["execution_id"] == runs[0].ID
		})
		require.Equal(t, "succeeded", at.Payload["status"])
		require.Equal(t, "core.echo", at.Payload["action_ref"])
		require.Equal(t, "core.echo", at.Payload["action_name"])
		require.Equal(t, "local-shell-script", at.Payload["runner_ref"])
		require.Equal(t, "deployed billing by ops", at.Payload["parameters"].(map[string]any)["message"])
		require.NotNil(t, at.Payload["result"])
		_, err := time.Parse("2006-01-02 15:04:05.999999-07:00", at.Payload["start_timestamp"].(string))
		require.NoError(t, err, at.Payload["start_timestamp"])
		eventually(t, execDeadline, "the action trigger's rule to run", func() bool {
			var out struct{ Executions struct{ TotalCount int } }
			admin.Must(t, `{ executions(where: {actionRef: "core.noop", status: SUCCEEDED}) { totalCount } }`, nil, &out)
			return out.Executions.TotalCount >= 1
		})

		// StackStorm's generic hook: {trigger, payload}.
		res, out := do(t, http.MethodPost, s.url+"/api/v1/webhooks/st2", with("X-Auth-Token", testAdminToken),
			`{"trigger": "st2hooks.file_watch.line", "payload": {"line": "from the st2 hook"}}`)
		require.Equal(t, http.StatusAccepted, res.StatusCode, out)
		awaitEvent(t, admin, "st2hooks.file_watch.line", func(ev st2Event) bool { return ev.Payload["line"] == "from the st2 hook" })

		// notify: on-success fires once per route; the rule takes "chat".
		var ex struct {
			ExecuteAction struct{ Execution struct{ ID string } }
		}
		admin.Must(t, `mutation { executeAction(input: {action: "st2hooks.hello", parameters: {who: "ann"}}) { execution { id } } }`, nil, &ex)
		id := ex.ExecuteAction.Execution.ID
		var routes []string
		eventually(t, execDeadline, "both notify routes", func() bool {
			routes = routes[:0]
			for _, ev := range st2Events(t, admin, "core.st2.generic.notifytrigger") {
				if ev.Payload["execution_id"] == id {
					routes = append(routes, ev.Payload["route"].(string))
					require.Equal(t, "said hello to ann", ev.Payload["message"])
					require.Equal(t, "succeeded", ev.Payload["status"])
					require.Equal(t, ev.Payload["route"], ev.Payload["channel"])
					data := ev.Payload["data"].(map[string]any)
					require.Equal(t, "ann", data["who"])
					require.Contains(t, data["result"], "hello")
				}
			}
			return len(routes) == 2
		})
		require.ElementsMatch(t, []string{"chat", "pager"}, routes)

		// A rule on the dotted trigger starts the sensor; its process
		// fires process_spawn, and its event reaches the rule.
		createRule(t, admin, map[string]any{
			"ref": "st2hooks.on_spawn", "pack": "st2hooks", "trigger": "core.st2.sensor.process_spawn", "action": "core.noop",
		})
		createRule(t, admin, map[string]any{
			"ref": "st2hooks.on_line", "pack": "st2hooks", "trigger": "st2hooks.file_watch.line", "action": "core.noop",
			"criteria": map[string]any{"trigger.line": map[string]any{"type": "equals", "pattern": "hello"}},
		})
		spawn := awaitEvent(t, admin, "core.st2.sensor.process_spawn", nil)
		require.Equal(t, "st2hooks.watch_sensor", spawn.Payload["id"])
		require.NotZero(t, spawn.Payload["pid"])
		line := awaitEvent(t, admin, "st2hooks.file_watch.line", func(ev st2Event) bool { return ev.Payload["line"] == "hello" })
		require.Equal(t, "st2hooks.watch_sensor", line.SourceRef)
		admin.Must(t, `mutation { disableSensor(ref: "st2hooks.watch_sensor") { enabled } }`, nil, nil)
	})
}

// TestStackStormTimers: StackStorm's interval (unit seconds, delta 1),
// cron (second "*/1") and date timers fire with StackStorm's payload.
func TestStackStormTimers(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, eventsEnv, "-database-url", dbtest.URL(t, backend))
		gql := gqltest.New(s.url + "/graphql")
		paris, err := time.LoadLocation("Europe/Paris")
		require.NoError(t, err)
		at := time.Now().Add(2 * time.Second).In(paris).Format("2006-01-02 15:04:05")
		rules := map[string]map[string]any{
			"core.st2.IntervalTimer": {"unit": "seconds", "delta": 1},
			"core.st2.CronTimer":     {"second": "*/1", "timezone": "Asia/Tokyo"},
			"core.st2.DateTimer":     {"date": at, "timezone": "Europe/Paris"},
		}
		i := 0
		for trigger, params := range rules {
			i++
			createRule(t, gql, map[string]any{
				"ref": "st2timers.r" + strconv.Itoa(i), "trigger": trigger, "action": "core.noop", "triggerParams": params,
			})
		}
		for trigger := range rules {
			ev := awaitEvent(t, gql, trigger, nil)
			fired, err := time.Parse("2006-01-02 15:04:05.999999-07:00", ev.Payload["executed_at"].(string))
			require.NoError(t, err, "executed_at is Python's str() of a UTC time: %v", ev.Payload["executed_at"])
			require.WithinDuration(t, time.Now(), fired, time.Minute)
			require.Contains(t, ev.Payload, "schedule")
		}
		// The interval keeps firing: a second tick, a second apart.
		awaitEvent(t, gql, "core.st2.IntervalTimer", func(ev st2Event) bool {
			return len(st2Events(t, gql, "core.st2.IntervalTimer")) >= 2
		})
		for j := 1; j <= i; j++ {
			gql.Must(t, `mutation($r: String!) { disableRule(ref: $r) { rule { ref } } }`, map[string]any{"r": "st2timers.r" + strconv.Itoa(j)}, nil)
		}

		// StackStorm's parameters are checked: a bad unit, an impossible hour.
		for trigger, params := range map[string]map[string]any{
			"core.st2.IntervalTimer": {"unit": "fortnights", "delta": 1},
			"core.st2.CronTimer":     {"hour": 25},
			"core.st2.DateTimer":     {"date": "someday"},
		} {
			e := gql.Fail(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
				"ref": "st2timers.bad", "trigger": trigger, "action": "core.noop", "triggerParams": params,
			}})
			require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		}
	})
}
