package metrics_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"

	"github.com/attune-io/attune/internal/metrics"
)

// everything returns Metrics with one observation of every instrument, a
// queue depth and a database pool, and its families by name.
func everything(t *testing.T, depthErr error) (*metrics.Metrics, map[string]*dto.MetricFamily) {
	t.Helper()
	m := metrics.New()
	m.ExecutionRequested("p.a", "p")
	m.ExecutionFinished("p.a", "p", "SUCCEEDED")
	m.ExecutionRan("p", "SUCCEEDED", time.Second)
	m.QueueWait("default", time.Millisecond)
	m.WebhookRequest("p.t", 202)
	m.Event("p.t")
	m.RuleEvaluated("p.r", metrics.RuleMatched)
	m.Enforcement("p.r", "PROCESSED")
	m.PackInstalled(true)
	m.PackInstallStep("fetch", "done", time.Second)
	m.SensorRestarted("p.s")
	m.SensorState("p.s", "RUNNING")
	m.WorkflowTask("succeeded")
	m.GraphQLOperation("Viewer", "query", "none", time.Millisecond)
	m.Inquiry(metrics.InquiryPending)
	m.CollectPendingInquiries(func(context.Context) (int, error) { return 2, nil }, time.Second)
	m.CollectQueueDepth(func(context.Context) ([]metrics.QueueDepth, error) {
		return []metrics.QueueDepth{{Queue: "default", State: "available", Jobs: 3}}, depthErr
	}, time.Second, []string{"default", "events"}, []string{"available", "running"})
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	m.CollectDB("write", db)
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return m, byName
}

// value is the value of family's series with labels (pairs), -1 if none.
func value(families map[string]*dto.MetricFamily, family string, labels ...string) float64 {
	f, ok := families[family]
	if !ok {
		return -1
	}
	for _, s := range f.Metric {
		want := map[string]string{}
		for i := 0; i+1 < len(labels); i += 2 {
			want[labels[i]] = labels[i+1]
		}
		got := map[string]string{}
		for _, l := range s.Label {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue()
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ExecutionRequested("a", "p")
	m.WorkflowTask("succeeded")
	m.SensorState("s", "RUNNING")
	m.Inquiry(metrics.InquiryResponded)
	m.CollectDB("write", nil)
	m.CollectPendingInquiries(nil, time.Second)
}

func TestLabelsStayBounded(t *testing.T) {
	t.Parallel()
	m, _ := everything(t, nil)
	m.WorkflowTask("FAILED")
	m.WorkflowTask("timed-out")
	m.WorkflowTask("whatever a caller made up")
	m.WebhookRequest(metrics.Other, 9999)
	m.Inquiry("TIMEOUT")
	m.Inquiry("expired")
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	require.Equal(t, 1.0, value(byName, "attune_workflow_tasks_total", "status", "failed"))
	require.Equal(t, 1.0, value(byName, "attune_workflow_tasks_total", "status", "timed_out"))
	require.Equal(t, 1.0, value(byName, "attune_workflow_tasks_total", "status", "other"))
	require.Equal(t, 1.0, value(byName, "attune_webhook_requests_total", "trigger", "other", "code", "other"))
	require.Equal(t, 1.0, value(byName, "attune_inquiries_total", "status", "timeout"))
	require.Equal(t, 1.0, value(byName, "attune_inquiries_total", "status", "other"))
}

// TestPendingInquiries: the gauge is what the read returns; a failed read
// leaves the series out and the rest of the scrape in.
func TestPendingInquiries(t *testing.T) {
	t.Parallel()
	_, f := everything(t, nil)
	require.Equal(t, 2.0, value(f, "attune_inquiries_pending"))
	m := metrics.New()
	m.Inquiry(metrics.InquiryPending)
	m.CollectPendingInquiries(func(context.Context) (int, error) { return 0, errors.New("database unreachable") }, time.Second)
	families, err := m.Registry.Gather()
	require.ErrorContains(t, err, "database unreachable")
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	require.NotContains(t, byName, "attune_inquiries_pending")
	require.Equal(t, 1.0, value(byName, "attune_inquiries_total", "status", "pending"))
}

func TestSensorStateIsOneStatePerSensor(t *testing.T) {
	t.Parallel()
	m, f := everything(t, nil)
	require.Equal(t, 1.0, value(f, "attune_sensor_state", "sensor", "p.s", "state", "RUNNING"))
	require.Equal(t, 0.0, value(f, "attune_sensor_state", "sensor", "p.s", "state", "BACKOFF"))
	m.SensorState("p.s", "BACKOFF")
	_, f = gather(t, m)
	require.Equal(t, 0.0, value(f, "attune_sensor_state", "sensor", "p.s", "state", "RUNNING"))
	require.Equal(t, 1.0, value(f, "attune_sensor_state", "sensor", "p.s", "state", "BACKOFF"))
	m.SensorState("p.s", "")
	_, f = gather(t, m)
	require.NotContains(t, f, "attune_sensor_state", "a sensor this node stopped running has no series")
}

func gather(t *testing.T, m *metrics.Metrics) ([]*dto.MetricFamily, map[string]*dto.MetricFamily) {
	t.Helper()
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return families, byName
}

func TestQueueDepthReportsEveryQueueAndState(t *testing.T) {
	t.Parallel()
	_, f := everything(t, nil)
	require.Equal(t, 1.0, value(f, "attune_queue_depth_up"))
	require.Equal(t, 3.0, value(f, "attune_queue_jobs", "queue", "default", "state", "available"))
	require.Equal(t, 0.0, value(f, "attune_queue_jobs", "queue", "events", "state", "running"))
	_, f = everything(t, errors.New("database unreachable"))
	require.Equal(t, 0.0, value(f, "attune_queue_depth_up"))
	require.NotContains(t, f, "attune_queue_jobs")
}

// metricName finds the metric names an expression uses.
var metricName = regexp.MustCompile(`\b(?:attune|go_sql|go|process)_[a-z_]+\b`)

// exposed reports whether name is a family of families or a series of a
// histogram one (_bucket, _count, _sum).
func exposed(families map[string]*dto.MetricFamily, name string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
	}
	return false
}

// TestAlertRules: docs/prometheus-alerts.yaml is a valid rules file whose
// every rule names an alert, has an expression and uses only metrics the
// server exposes. (Its PromQL is not parsed here: promtool check rules
// does that where Prometheus is installed.)
func TestAlertRules(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/prometheus-alerts.yaml")
	require.NoError(t, err)
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&file))
	_, families := everything(t, nil)
	alerts := map[string]bool{}
	for _, g := range file.Groups {
		require.NotEmpty(t, g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.False(t, alerts[r.Alert], "alert %s twice", r.Alert)
			alerts[r.Alert] = true
			require.NotEmpty(t, r.Expr, r.Alert)
			require.NotEmpty(t, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			if r.For != "" {
				_, err := time.ParseDuration(r.For)
				require.NoError(t, err, r.Alert)
			}
			require.Equal(t, strings.Count(r.Expr, "("), strings.Count(r.Expr, ")"), r.Alert)
			names := metricName.FindAllString(r.Expr, -1)
			require.NotEmpty(t, names, r.Alert)
			for _, n := range names {
				require.True(t, exposed(families, n), "%s uses %s, which the server does not expose", r.Alert, n)
			}
		}
	}
	for _, want := range []string{"AttuneQueueStuck", "AttuneExecutionFailureRatio", "AttuneExecutionsAbandoned", "AttuneSensorCrashLoop"} {
		require.True(t, alerts[want], "alert %s", want)
	}
}

// TestGrafanaDashboard: docs/grafana-dashboard.json is a dashboard whose
// every query uses only metrics the server exposes.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.UID)
	_, families := everything(t, nil)
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, p.Title)
		for _, q := range p.Targets {
			queries++
			require.Equal(t, strings.Count(q.Expr, "("), strings.Count(q.Expr, ")"), p.Title)
			names := metricName.FindAllString(q.Expr, -1)
			require.NotEmpty(t, names, p.Title)
			for _, n := range names {
				require.True(t, exposed(families, n), "panel %q uses %s, which the server does not expose", p.Title, n)
			}
		}
	}
	require.Greater(t, queries, 20)
}
