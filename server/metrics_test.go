package main

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// metricsListening matches the log line announcing the metrics listener.
var metricsListening = regexp.MustCompile(`msg="metrics listening" url=(\S+)`)

// scrape reads url (a /metrics) with token (none when empty) and parses it.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	res, body := do(t, http.MethodGet, url, h, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return families
}

// sample is the value of the series of family with exactly labels (a
// histogram's sample count), or -1 when there is none.
func sample(families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	f, ok := families[family]
	if !ok {
		return -1
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// seriesOf lists a family's series as label sets, for failure messages.
func seriesOf(families map[string]*dto.MetricFamily, family string) []string {
	var out []string
	if f, ok := families[family]; ok {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out = append(out, strings.Join(ls, ","))
		}
	}
	sort.Strings(out)
	return out
}

// TestMetrics does known work on a real server (three executions of two
// actions, one failing; webhooks matching and not matching a rule and one
// for an unknown trigger; a failed pack upload; GraphQL operations known,
// unknown and refused) and checks the counts /metrics reports, exactly, on
// the separate metrics listener; and that /metrics on the main listener
// needs a METRICS (or ADMIN) token.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, authEnv(append(slices.Clone(eventsEnv), "ATTUNE_AUTH_ENABLED=true", "ATTUNE_METRICS_LISTEN=:0")...),
			"-database-url", dbURL)
		s.token = testAdminToken
		m := metricsListening.FindStringSubmatch(s.out.String())
		require.NotNil(t, m, "the metrics listener's log line")
		require.True(t, strings.HasPrefix(m[1], "http://127.0.0.1:"), "a bare port listens on loopback: %s", m[1])
		separate := m[1]
		admin := client(s, testAdminToken)

		t.Run("auth", func(t *testing.T) {
			viewer := newToken(t, admin, "metrics-viewer", "VIEWER", nil)
			prom := newToken(t, admin, "prometheus", "METRICS", nil)
			for _, tt := range []struct {
				name, token string
				status      int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"invalid token", "att_nope", http.StatusUnauthorized},
				{"viewer", viewer, http.StatusForbidden},
				{"metrics", prom, http.StatusOK},
				{"admin", testAdminToken, http.StatusOK},
			} {
				h := http.Header{}
				if tt.token != "" {
					h.Set("Authorization", "Bearer "+tt.token)
				}
				res, body := do(t, http.MethodGet, s.url+"/metrics", h, "")
				require.Equal(t, tt.status, res.StatusCode, "%s: %s", tt.name, body)
				if tt.status == http.StatusOK {
					require.True(t, strings.Contains(body, "\nattune_queue_depth_up 1\n"), "%s: the metrics", tt.name)
				}
			}
			// The METRICS role reads nothing through the API.
			e := client(s, prom).Fail(t, `query Unlisted { viewer { name } }`, nil)
			require.Equal(t, "FORBIDDEN", e.Code())
			// The separate listener needs no token.
			scrape(t, separate, "")
		})

		addPack(t, dbURL, map[string]string{"ok.sh": "#!/bin/sh\necho ok\n", "fail.sh": "#!/bin/sh\necho no >&2\nexit 3\n"})
		for _, ref := range []string{"e2e.ok", "e2e.fail", "e2e.ok"} {
			states := follow(t, s, execute(t, s, ref, nil))
			want := map[string]string{"e2e.ok": "SUCCEEDED", "e2e.fail": "FAILED"}[ref]
			require.Equal(t, want, states[len(states)-1].Status)
		}

		key := rotateKey(t, admin, "core.webhook")
		admin.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
			"ref": "hooks.greet", "trigger": "core.webhook", "action": "core.echo",
			"criteria":     map[string]any{"trigger.kind": map[string]any{"type": "equals", "pattern": "greet"}},
			"actionParams": map[string]any{"message": "{{ trigger.msg }}"},
		}}, nil)
		for _, hook := range []struct {
			trigger, body string
			status        int
		}{
			{"core.webhook", `{"kind":"other"}`, http.StatusAccepted},
			{"core.webhook", `{"kind":"greet","msg":"hi"}`, http.StatusAccepted},
			{"hooks.unknown", `{}`, http.StatusNotFound},
		} {
			res, out := do(t, http.MethodPost, s.url+"/webhooks/"+hook.trigger, http.Header{"X-Attune-Webhook-Key": {key}}, hook.body)
			require.Equal(t, hook.status, res.StatusCode, out)
		}
		require.Equal(t, "BAD_USER_INPUT", uploadTiny(t, admin).Errors[0].Code())
		admin.Must(t, `query Viewer { viewer { name } }`, nil, nil)
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", admin.Fail(t, `query NotOurs { nope }`, nil).Code())

		// The rule's execution finishes on its own: wait for its count.
		var got map[string]*dto.MetricFamily
		eventually(t, execDeadline, "the rule's execution to finish", func() bool {
			got = scrape(t, separate, "")
			return sample(got, "attune_executions_finished_total",
				map[string]string{"action": "core.echo", "pack": "core", "status": "SUCCEEDED"}) == 1
		})
		for _, c := range []struct {
			family string
			labels map[string]string
			want   float64
		}{
			{"attune_executions_requested_total", map[string]string{"action": "e2e.ok", "pack": "e2e"}, 2},
			{"attune_executions_requested_total", map[string]string{"action": "e2e.fail", "pack": "e2e"}, 1},
			{"attune_executions_requested_total", map[string]string{"action": "core.echo", "pack": "core"}, 1},
			{"attune_executions_finished_total", map[string]string{"action": "e2e.ok", "pack": "e2e", "status": "SUCCEEDED"}, 2},
			{"attune_executions_finished_total", map[string]string{"action": "e2e.fail", "pack": "e2e", "status": "FAILED"}, 1},
			{"attune_execution_duration_seconds", map[string]string{"pack": "e2e", "status": "SUCCEEDED"}, 2},
			{"attune_execution_duration_seconds", map[string]string{"pack": "e2e", "status": "FAILED"}, 1},
			{"attune_queue_wait_seconds", map[string]string{"queue": "default"}, 4},
			{"attune_webhook_requests_total", map[string]string{"trigger": "core.webhook", "code": "202"}, 2},
			{"attune_webhook_requests_total", map[string]string{"trigger": "other", "code": "404"}, 1},
			{"attune_events_total", map[string]string{"trigger": "core.webhook"}, 2},
			{"attune_rule_evaluations_total", map[string]string{"rule": "hooks.greet", "outcome": "matched"}, 1},
			{"attune_rule_evaluations_total", map[string]string{"rule": "hooks.greet", "outcome": "unmatched"}, 1},
			{"attune_enforcements_total", map[string]string{"rule": "hooks.greet", "status": "PROCESSED"}, 1},
			{"attune_pack_installs_total", map[string]string{"status": "failed"}, 1},
			// An upload starts with its extract step, which fails here.
			{"attune_pack_install_step_duration_seconds", map[string]string{"step": "extract", "status": "failed"}, 1},
			{"attune_graphql_operations_total", map[string]string{"operation": "Viewer", "type": "query", "code": "none"}, 1},
			{"attune_graphql_operations_total", map[string]string{"operation": "other", "type": "query", "code": "FORBIDDEN"}, 1},
			// Refused before its operation was known: the name is the
			// request's operationName, absent here.
			{"attune_graphql_operations_total", map[string]string{"operation": "anonymous", "type": "unknown", "code": "GRAPHQL_VALIDATION_FAILED"}, 1},
			{"attune_graphql_operations_total", map[string]string{"operation": "anonymous", "type": "mutation", "code": "BAD_USER_INPUT"}, 1},
			// executeAction three times, rotateWebhookKey, createRule
			// and createApiToken twice, all without a name.
			{"attune_graphql_operations_total", map[string]string{"operation": "anonymous", "type": "mutation", "code": "none"}, 7},
			{"attune_graphql_operations_total", map[string]string{"operation": "anonymous", "type": "subscription", "code": "none"}, 3},
			{"attune_graphql_operation_duration_seconds", map[string]string{"operation": "Viewer", "type": "query"}, 1},
			{"attune_queue_depth_up", map[string]string{}, 1},
			{"attune_queue_jobs", map[string]string{"queue": "default", "state": "available"}, 0},
			{"attune_queue_jobs", map[string]string{"queue": "events", "state": "running"}, 0},
		} {
			require.Equal(t, c.want, sample(got, c.family, c.labels), "%s%v; series: %v", c.family, c.labels, seriesOf(got, c.family))
		}
		for _, family := range []string{"go_goroutines", "process_resident_memory_bytes", "go_sql_max_open_connections"} {
			require.Contains(t, got, family)
		}
		require.Contains(t, seriesOf(got, "go_sql_max_open_connections"), "db_name=write")
	})
}

// TestMetricsInquiries: two core.ask inquiries, one answered, the other
// canceled, count two pending, one responded and one canceled exactly; the
// pending gauge, read from the database at scrape time, follows them.
func TestMetricsInquiries(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, []string{"ATTUNE_METRICS_LISTEN=:0"}, "-database-url", dbtest.URL(t, backend))
		url := metricsListening.FindStringSubmatch(s.out.String())[1]
		gql := client(s, s.token)
		pending := func() float64 { return sample(scrape(t, url, ""), "attune_inquiries_pending", map[string]string{}) }
		require.Equal(t, 0.0, pending())
		ask := func() string {
			id := execute(t, s, "core.ask", nil)
			var inq string
			eventually(t, execDeadline, "the inquiry of execution "+id, func() bool {
				var out struct {
					Inquiries struct {
						Edges []struct{ Node struct{ ID, Status string } }
					}
				}
				gql.Must(t, `query($e: ID!) { inquiries(where: {executionID: $e}) { edges { node { id status } } } }`,
					map[string]any{"e": id}, &out)
				if len(out.Inquiries.Edges) == 0 {
					return false
				}
				inq = out.Inquiries.Edges[0].Node.ID
				return true
			})
			return inq
		}

		answered := ask()
		require.Equal(t, 1.0, pending())
		_, e := respond(gql, t, answered, map[string]any{"continue": true})
		require.Nil(t, e)
		require.Equal(t, 0.0, pending())
		canceled := ask()
		require.Equal(t, 1.0, pending())
		gql.Must(t, `mutation($id: ID!) { cancelInquiry(id: $id) { id } }`, map[string]any{"id": canceled}, nil)
		require.Equal(t, 0.0, pending())

		got := scrape(t, url, "")
		for status, want := range map[string]float64{"pending": 2, "responded": 1, "canceled": 1, "timeout": -1} {
			require.Equal(t, want, sample(got, "attune_inquiries_total", map[string]string{"status": status}),
				"%s; series: %v", status, seriesOf(got, "attune_inquiries_total"))
		}
	})
}

// TestMetricsCountPerNode: with an API node and a worker-only node on one
// PostgreSQL, each counts what it did (the API node the request, the
// worker the run), and the worker, which has no main listener, is scraped
// on metrics.listen. Both report the same cluster-wide queue depth.
func TestMetricsCountPerNode(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	api := startServer(t, []string{"ATTUNE_METRICS_LISTEN=127.0.0.1:0"}, "-database-url", dbURL, "-roles", "api")
	worker := start(t, []string{"ATTUNE_METRICS_LISTEN=:0"}, "-data-dir", t.TempDir(), "-database-url", dbURL, "-roles", "worker")
	var workerURL string
	eventually(t, startTimeout, "the worker's metrics listener", func() bool {
		m := metricsListening.FindStringSubmatch(worker.out.String())
		if m != nil {
			workerURL = m[1]
		}
		return m != nil
	})
	apiURL := metricsListening.FindStringSubmatch(api.out.String())[1]
	addPack(t, dbURL, map[string]string{"ok.sh": "#!/bin/sh\necho ok\n"})
	states := follow(t, api, execute(t, api, "e2e.ok", nil))
	require.Equal(t, "SUCCEEDED", states[len(states)-1].Status)

	requested := map[string]string{"action": "e2e.ok", "pack": "e2e"}
	finished := map[string]string{"action": "e2e.ok", "pack": "e2e", "status": "SUCCEEDED"}
	var onWorker map[string]*dto.MetricFamily
	eventually(t, execDeadline, "the worker's count", func() bool {
		onWorker = scrape(t, workerURL, "")
		return sample(onWorker, "attune_executions_finished_total", finished) == 1
	})
	onAPI := scrape(t, apiURL, "")
	require.Equal(t, 1.0, sample(onAPI, "attune_executions_requested_total", requested))
	require.Equal(t, -1.0, sample(onAPI, "attune_executions_finished_total", finished), "the API node ran nothing")
	require.Equal(t, -1.0, sample(onWorker, "attune_executions_requested_total", requested), "the worker requested nothing")
	require.Equal(t, 1.0, sample(onWorker, "attune_queue_wait_seconds", map[string]string{"queue": "default"}))
	for _, f := range []map[string]*dto.MetricFamily{onAPI, onWorker} {
		require.Equal(t, 1.0, sample(f, "attune_queue_depth_up", map[string]string{}))
		require.Equal(t, 0.0, sample(f, "attune_queue_jobs", map[string]string{"queue": "default", "state": "available"}))
	}
}

// TestDatabaseMaxConns: database_max_conns bounds a PostgreSQL node's
// pool, as its go_sql_max_open_connections tells; SQLite keeps its one
// writer whatever it says.
func TestDatabaseMaxConns(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv("ATTUNE_DATABASE_MAX_CONNS=7"), "-database-url", dbtest.URL(t, backend))
		got := scrape(t, s.url+"/metrics", testAdminToken)
		want := 7.0
		if backend == "sqlite" {
			want = 1
		}
		require.Equal(t, want, sample(got, "go_sql_max_open_connections", map[string]string{"db_name": "write"}),
			"%v", seriesOf(got, "go_sql_max_open_connections"))
	})
}
