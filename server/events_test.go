package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// eventsEnv makes the pipeline quick to observe: short leases, polls and
// backoff, and a small webhook limit. Auth is off (loopback only).
var eventsEnv = []string{
	"ATTUNE_AUTH_ENABLED=false",
	"ATTUNE_EVENTS_LEASE_TTL=3s",
	"ATTUNE_EVENTS_SENSOR_POLL=300ms",
	"ATTUNE_EVENTS_SENSOR_BACKOFF_MIN=1500ms",
	"ATTUNE_EVENTS_WEBHOOK_MAX_BYTES=4096",
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// rotateKey enables the trigger's webhook and returns its new key.
func rotateKey(t *testing.T, gql *gqltest.Client, ref string) string {
	t.Helper()
	var out struct {
		RotateWebhookKey struct {
			Key     string
			Trigger struct{ WebhookURL string }
		}
	}
	gql.Must(t, `mutation($r: String!) { rotateWebhookKey(ref: $r) { key trigger { webhookUrl } } }`, map[string]any{"r": ref}, &out)
	require.Equal(t, "/webhooks/"+ref, out.RotateWebhookKey.Trigger.WebhookURL)
	return out.RotateWebhookKey.Key
}

func sign(key, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, eventsEnv, "-database-url", dbURL)
		db, err := store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		p, err := db.Ent.Pack.Create().SetRef("hooks").Save(t.Context())
		require.NoError(t, err)
		_, err = db.Ent.Trigger.Create().SetRef("hooks.alert").SetPackRef("hooks").SetPack(p).
			SetPayloadSchema(map[string]any{"severity": map[string]any{"type": "string", "enum": []any{"info", "critical"}, "required": true}}).
			Save(t.Context())
		require.NoError(t, err)
		db.Close()
		gql := gqltest.New(s.url + "/graphql")
		key := rotateKey(t, gql, "hooks.alert")
		good := `{"severity":"critical","host":"db1"}`
		tests := []struct {
			name    string
			trigger string
			header  http.Header
			body    string
			status  int
			want    string // in the response body
		}{
			{"good key", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key}}, good, http.StatusAccepted, `"eventId"`},
			{"good HMAC", "hooks.alert", http.Header{"X-Hub-Signature-256": {sign(key, good)}}, good, http.StatusAccepted, `"eventId"`},
			{"bad key", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key + "x"}}, good, http.StatusUnauthorized, "invalid"},
			{"no key", "hooks.alert", nil, good, http.StatusUnauthorized, "invalid"},
			{"bad HMAC", "hooks.alert", http.Header{"X-Hub-Signature-256": {sign(key+"x", good)}}, good, http.StatusUnauthorized, "invalid"},
			{"HMAC of another body", "hooks.alert", http.Header{"X-Hub-Signature-256": {sign(key, good+" ")}}, good, http.StatusUnauthorized, "invalid"},
			{"too large", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key}}, `{"severity":"info","pad":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge, "exceeds"},
			{"schema-invalid payload", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key}}, `{"severity":"bad"}`, http.StatusBadRequest, `"field":"severity"`},
			{"missing required field", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key}}, `{"host":"x"}`, http.StatusBadRequest, `"field":"severity"`},
			{"not a JSON object", "hooks.alert", http.Header{"X-Attune-Webhook-Key": {key}}, `[1]`, http.StatusBadRequest, "JSON object"},
			{"unknown trigger", "hooks.nope", http.Header{"X-Attune-Webhook-Key": {key}}, good, http.StatusNotFound, "no webhook"},
			{"trigger without webhook", "core.intervaltimer", http.Header{"X-Attune-Webhook-Key": {key}}, good, http.StatusNotFound, "no webhook"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, body := do(t, http.MethodPost, s.url+"/webhooks/"+tt.trigger, tt.header, tt.body)
				require.Equal(t, tt.status, res.StatusCode, body)
				require.Contains(t, body, tt.want)
			})
		}
	})
}

// serveWebhookRule starts a server on backend (eventsEnv) with a webhook key
// on core.webhook and the rule in (a CreateRuleInput); it returns the
// server, a client of its API and the key.
func serveWebhookRule(t *testing.T, backend string, in map[string]any) (*server, *gqltest.Client, string) {
	t.Helper()
	s := startServer(t, eventsEnv, "-database-url", dbtest.URL(t, backend))
	gql := gqltest.New(s.url + "/graphql")
	key := rotateKey(t, gql, "core.webhook")
	gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": in}, nil)
	return s, gql, key
}

func TestWebhookRunsRuleToSucceededExecution(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s, gql, key := serveWebhookRule(t, backend, map[string]any{
			"ref": "e2e.greet", "trigger": "core.webhook", "action": "core.echo",
			"criteria":     map[string]any{"trigger.kind": map[string]any{"type": "equals", "pattern": "greet"}},
			"actionParams": map[string]any{"message": "{{ trigger.msg }}"},
		})

		for _, body := range []string{`{"kind":"other","msg":"not me"}`, `{"kind":"greet","msg":"hello from a webhook"}`} {
			res, out := do(t, http.MethodPost, s.url+"/webhooks/core.webhook", http.Header{"X-Attune-Webhook-Key": {key}}, body)
			require.Equal(t, http.StatusAccepted, res.StatusCode, out)
		}
		type enf struct {
			Status    string
			Reason    string
			Execution *struct{ ID string }
		}
		var got []enf
		eventually(t, execDeadline, "the rule's enforcement", func() bool {
			var out struct {
				Rule struct {
					Enforcements struct{ Edges []struct{ Node enf } }
				}
			}
			gql.Must(t, `{ rule(ref: "e2e.greet") { enforcements { edges { node { status reason execution { id } } } } } }`, nil, &out)
			got = got[:0]
			for _, e := range out.Rule.Enforcements.Edges {
				got = append(got, e.Node)
			}
			return len(got) > 0
		})
		require.Len(t, got, 1, "only the matching event is enforced")
		require.Equal(t, "PROCESSED", got[0].Status, got[0].Reason)
		require.NotNil(t, got[0].Execution)
		states := follow(t, s, got[0].Execution.ID)
		last := states[len(states)-1]
		require.Equal(t, "SUCCEEDED", last.Status, last.Error)
		require.Contains(t, string(last.Result), "hello from a webhook")
	})
}

// TestExecutionUpdatesCarryTheirEdges: a subscription by action that selects
// edges (read with each batch of changes, not per update) gets every update
// with its own action, enforcement, rule and event.
func TestExecutionUpdatesCarryTheirEdges(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s, _, key := serveWebhookRule(t, backend, map[string]any{
			"ref": "e2e.edges", "trigger": "core.webhook", "action": "core.echo",
			"actionParams": map[string]any{"message": "{{ trigger.n }}"},
		})
		ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
		defer cancel()
		updates := subscribe(t, ctx, s, `subscription { executionUpdated(actionRef: "core.echo", status: [SUCCEEDED]) {
			id parameters action { ref } enforcement { status rule { ref } event { id payload } } } }`, nil)
		type update struct {
			ExecutionUpdated struct {
				ID          string
				Parameters  map[string]any
				Action      struct{ Ref string }
				Enforcement struct {
					Status string
					Rule   struct{ Ref string }
					Event  struct {
						ID      string
						Payload map[string]any
					}
				}
			}
		}
		// The subscription starts asynchronously: webhooks go out until
		// enough updates came back; each must carry its own edges.
		sent := 0
		send := func() {
			sent++
			body, _ := json.Marshal(map[string]any{"n": fmt.Sprint("m", sent)})
			res, out := do(t, http.MethodPost, s.url+"/webhooks/core.webhook", http.Header{"X-Attune-Webhook-Key": {key}}, string(body))
			require.Equal(t, http.StatusAccepted, res.StatusCode, out)
		}
		send()
		resend := time.NewTicker(200 * time.Millisecond)
		defer resend.Stop()
		seen := map[string]bool{}
		for len(seen) < 3 {
			select {
			case data, ok := <-updates:
				require.True(t, ok, "the subscription ended")
				var u update
				require.NoError(t, json.Unmarshal(data, &u), string(data))
				e := u.ExecutionUpdated
				require.Equal(t, "core.echo", e.Action.Ref, string(data))
				require.Equal(t, "PROCESSED", e.Enforcement.Status, string(data))
				require.Equal(t, "e2e.edges", e.Enforcement.Rule.Ref, string(data))
				require.Equal(t, e.Enforcement.Event.Payload["n"], e.Parameters["message"], "the execution's own event: %s", data)
				seen[e.ID] = true
			case <-resend.C:
				send()
				send()
			case <-ctx.Done():
				t.Fatalf("only %d updates after %d webhooks", len(seen), sent)
			}
		}
	})
}

func TestTimersFireOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	args := []string{"-database-url", dbURL, "-roles", "api,worker,timers"}
	a := startDoomed(t, eventsEnv, args...)
	b := startDoomed(t, eventsEnv, args...)
	gql := gqltest.New(a.url + "/graphql")
	gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
		"ref": "e2e.tick", "trigger": "core.intervaltimer", "action": "core.noop",
		"triggerParams": map[string]any{"unit": "seconds", "interval": 1},
	}}, nil)

	type tick struct {
		Payload struct {
			ScheduledAt     string  `json:"scheduled_at"`
			IntervalSeconds float64 `json:"interval_seconds"`
			Count           int     `json:"execution_count"`
		}
		RuleRef  string
		Enforced struct{ TotalCount int }
	}
	ticks := func() []tick {
		var out struct {
			Events struct{ Edges []struct{ Node tick } }
		}
		gql.Must(t, `{ events(first: 1000, where: {triggerRef: "core.intervaltimer"}, orderBy: {field: CREATED_AT}) {
			edges { node { payload ruleRef enforced: enforcements { totalCount } } } } }`, nil, &out)
		var ts []tick
		for _, e := range out.Events.Edges {
			ts = append(ts, e.Node)
		}
		return ts
	}
	requireOnce := func(ts []tick) {
		t.Helper()
		seen := map[string]bool{}
		for _, tk := range ts {
			require.False(t, seen[tk.Payload.ScheduledAt], "tick %s fired twice", tk.Payload.ScheduledAt)
			seen[tk.Payload.ScheduledAt] = true
			require.Equal(t, "e2e.tick", tk.RuleRef)
			require.InDelta(t, 1, tk.Payload.IntervalSeconds, 0)
		}
	}
	eventually(t, 30*time.Second, "three ticks", func() bool { return len(ticks()) >= 3 })
	ts := ticks()
	requireOnce(ts)
	for i := 1; i < len(ts); i++ {
		require.Equal(t, ts[i-1].Payload.Count+1, ts[i].Payload.Count, "consecutive ticks, none skipped or doubled")
	}

	// Kill the leader; the other node takes the lease over once it expires.
	leader, follower := a, b
	if !strings.Contains(a.out.String(), `msg="leading timers"`) {
		leader, follower = b, a
	}
	require.NoError(t, leader.cmd.Process.Kill())
	<-leader.done
	gql = gqltest.New(follower.url + "/graphql")
	before := len(ticks())
	eventually(t, 30*time.Second, "ticks from the other node", func() bool { return len(ticks()) >= before+3 })
	require.Contains(t, follower.out.String(), `msg="leading timers"`)
	ts = ticks()
	requireOnce(ts)
	// No tick is ever enforced twice; the follower's ticks seen so far are
	// each enforced once. (An evaluation the killed leader had taken waits
	// for the queue's rescue, worker.rescue_after, so it is not awaited here.)
	fired := map[string]bool{}
	for _, tk := range ts[before:] {
		fired[tk.Payload.ScheduledAt] = true
	}
	eventually(t, 30*time.Second, "every tick enforced once", func() bool {
		enforced := 0
		for _, tk := range ticks() {
			require.LessOrEqual(t, tk.Enforced.TotalCount, 1, "tick %s enforced twice", tk.Payload.ScheduledAt)
			if fired[tk.Payload.ScheduledAt] {
				enforced += tk.Enforced.TotalCount
			}
		}
		return enforced == len(fired)
	})
}

// sensorPack is a pack whose shell sensor reads its input line, crashes
// on its first run (after emitting one event) and then emits one event
// echoing its input and stays up.
func sensorPack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml":           "ref: sp\nversion: 1.0.0\n",
		"triggers/ping.yaml":  "description: a ping\n",
		"sensors/pinger.yaml": "runner_type: shell\nentry_point: pinger.sh\ntrigger_types: [sp.ping]\n",
		"sensors/pinger.sh": `#!/usr/bin/env bash
read -r input
if [ ! -f crashed ]; then
  touch crashed
  echo '{"trigger": "sp.ping", "payload": {"run": 1}}'
  echo "first run: crashing on purpose" >&2
  exit 3
fi
echo "{\"trigger\": \"sp.ping\", \"payload\": {\"run\": 2, \"input\": $input}}"
echo "not an event, just a log line"
exec sleep 600
`,
	})
}

func TestSensorLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, eventsEnv, "-database-url", dbtest.URL(t, backend))
		gql := gqltest.New(s.url + "/graphql")
		gql.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": sensorPack(t)}, nil)

		type sensorState struct {
			Status    string
			LastError string
			Restarts  int
			Enabled   bool
		}
		state := func() sensorState {
			var out struct{ Sensor sensorState }
			gql.Must(t, `{ sensor(ref: "sp.pinger") { status lastError restarts enabled } }`, nil, &out)
			return out.Sensor
		}
		require.Equal(t, "STOPPED", state().Status, "no rule uses its trigger yet")

		gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
			"ref": "sp.on_ping", "pack": "sp", "trigger": "sp.ping", "action": "core.noop",
			"triggerParams": map[string]any{"every": 5},
		}}, nil)

		eventually(t, 30*time.Second, "the crash to be seen", func() bool { return state().Status == "BACKOFF" })
		st := state()
		require.Equal(t, 1, st.Restarts)
		require.Contains(t, st.LastError, "crashing on purpose")
		eventually(t, 30*time.Second, "the restart", func() bool { return state().Status == "RUNNING" })
		// Its metrics (authentication is off: /metrics is open), from the
		// same process.
		running := map[string]string{"sensor": "sp.pinger", "state": "RUNNING"}
		eventually(t, 30*time.Second, "the sensor's metrics", func() bool {
			return sample(scrape(t, s.url+"/metrics", ""), "attune_sensor_state", running) == 1
		})
		got := scrape(t, s.url+"/metrics", "")
		require.Equal(t, 1.0, sample(got, "attune_sensor_restarts_total", map[string]string{"sensor": "sp.pinger"}))
		require.Equal(t, 0.0, sample(got, "attune_sensor_state", map[string]string{"sensor": "sp.pinger", "state": "BACKOFF"}))
		require.Equal(t, 1.0, sample(got, "attune_pack_installs_total", map[string]string{"status": "succeeded"}))
		require.Equal(t, 1.0, sample(got, "attune_pack_install_step_duration_seconds", map[string]string{"step": "register", "status": "done"}))

		type event struct {
			Payload      map[string]any
			SourceRef    string
			Enforcements struct {
				Edges []struct {
					Node struct {
						Status    string
						Execution *struct{ Status string }
					}
				}
			}
		}
		var events []event
		eventually(t, 30*time.Second, "both events enforced and run", func() bool {
			var out struct {
				Events struct{ Edges []struct{ Node event } }
			}
			gql.Must(t, `{ events(where: {triggerRef: "sp.ping"}, orderBy: {field: CREATED_AT}) { edges { node {
				payload sourceRef enforcements { edges { node { status execution { status } } } } } } } }`, nil, &out)
			events = events[:0]
			for _, e := range out.Events.Edges {
				en := e.Node.Enforcements.Edges
				if len(en) != 1 || en[0].Node.Execution == nil || en[0].Node.Execution.Status != "SUCCEEDED" {
					return false
				}
				events = append(events, e.Node)
			}
			return len(events) == 2
		})
		require.Equal(t, "sp.pinger", events[0].SourceRef)
		input, _ := json.Marshal(events[1].Payload["input"])
		require.Contains(t, string(input), `"trigger_params":{"every":5}`, "the sensor got its rules on stdin")
		require.Contains(t, string(input), `"ref":"sp.on_ping"`)

		gql.Must(t, `mutation { disableSensor(ref: "sp.pinger") { enabled } }`, nil, nil)
		eventually(t, 30*time.Second, "the sensor to stop", func() bool { return state().Status == "STOPPED" })
		require.False(t, state().Enabled)
		require.Equal(t, 1, state().Restarts, "a stop is not a crash")
		got = scrape(t, s.url+"/metrics", "")
		require.Equal(t, -1.0, sample(got, "attune_sensor_state", running), "a sensor no longer run here has no state")
		require.Equal(t, 1.0, sample(got, "attune_sensor_restarts_total", map[string]string{"sensor": "sp.pinger"}))
		require.Equal(t, 2.0, sample(got, "attune_events_total", map[string]string{"trigger": "sp.ping"}))
		require.Equal(t, 2.0, sample(got, "attune_enforcements_total", map[string]string{"rule": "sp.on_ping", "status": "PROCESSED"}))
	})
}

// TestBadTimerParametersAreRefusedAtCreateRule: a cron expression or time
// zone the timer cannot use is refused when the rule is made.
func TestBadTimerParametersAreRefusedAtCreateRule(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	gql := gqltest.New(s.url + "/graphql")
	for _, params := range []map[string]any{
		{"expression": "bogus"},
		{"expression": "0 * * * * *", "timezone": "Mars/Olympus"},
	} {
		e := gql.Fail(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
			"ref": "ops.cron", "trigger": "core.crontimer", "action": "core.noop", "triggerParams": params,
		}})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		require.Contains(t, e.Message, "triggerParams")
	}
}
