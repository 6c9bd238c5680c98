// Package metrics is attune's Prometheus instrumentation: one registry per
// server (never the global default one, so a test can run several servers in
// one process), the counters and histograms the domain packages feed, and
// the collectors read at scrape time (queue depth, pending inquiries,
// database pools, the Go runtime and the process).
//
// Every counter counts what this process did: a cluster's totals are the sum
// over its nodes (sum without (instance) in PromQL). Recording never touches
// the database; only the queue depth and the pending inquiries are read
// from it, when scraped.
//
// A nil *Metrics records nothing, so every domain package takes one as an
// optional field and tests that do not care leave it out.
//
// Labels are bounded: refs of rows that exist (actions, packs, rules,
// triggers, sensors), statuses from fixed sets, and "other" for anything
// else. docs/operations.md lists every metric.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the label value for anything outside a label's bounded set: an
// unknown trigger of a webhook, an operation name no client of ours sends.
const Other = "other"

// Metrics holds one server's registry and instruments.
type Metrics struct {
	// Registry holds every collector of this server.
	Registry *prometheus.Registry

	execRequested  *prometheus.CounterVec
	execFinished   *prometheus.CounterVec
	execDuration   *prometheus.HistogramVec
	queueWait      *prometheus.HistogramVec
	webhooks       *prometheus.CounterVec
	events         *prometheus.CounterVec
	ruleEvals      *prometheus.CounterVec
	enforcements   *prometheus.CounterVec
	packInstalls   *prometheus.CounterVec
	packSteps      *prometheus.HistogramVec
	sensorRestarts *prometheus.CounterVec
	sensorState    *prometheus.GaugeVec
	workflowTasks  *prometheus.CounterVec
	gqlOps         *prometheus.CounterVec
	gqlDuration    *prometheus.HistogramVec
	inquiries      *prometheus.CounterVec
}

// durationBuckets cover actions from a few milliseconds to an hour.
var durationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// waitBuckets cover the time a job waits for a worker: milliseconds when
// workers are free, minutes when the queue is backed up.
var waitBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 5, 15, 60, 300}

// New returns Metrics with every attune instrument and the Go runtime and
// process collectors registered.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.Registry.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.Registry.MustRegister(h)
		return h
	}
	m.execRequested = counter("attune_executions_requested_total",
		"Executions requested through this node (API, rules, workflows), by action and pack.", "action", "pack")
	m.execFinished = counter("attune_executions_finished_total",
		"Executions this node brought to a final status (its worker's runs, the abandoned ones it detected, "+
			"the ones canceled before they ran), by action, pack and status.", "action", "pack", "status")
	m.execDuration = histogram("attune_execution_duration_seconds",
		"Run time of the executions this node's worker ran, from claim to outcome, by pack and status.",
		durationBuckets, "pack", "status")
	m.queueWait = histogram("attune_queue_wait_seconds",
		"Time a job waited past when it was due until this node's worker took it, by queue.",
		waitBuckets, "queue")
	m.webhooks = counter("attune_webhook_requests_total",
		"Webhook requests answered by this node, by trigger (\"other\" when no trigger with a webhook was found) and HTTP status code.",
		"trigger", "code")
	m.events = counter("attune_events_total", "Events this node stored, by trigger.", "trigger")
	m.ruleEvals = counter("attune_rule_evaluations_total",
		"Rule evaluations this node made, by rule and outcome: matched (an execution was requested), "+
			"unmatched (the criteria did not match), skipped (trigger or action not installed), failed.",
		"rule", "outcome")
	m.enforcements = counter("attune_enforcements_total",
		"Enforcements this node recorded, by rule and status (PROCESSED, SKIPPED, FAILED).", "rule", "status")
	m.packInstalls = counter("attune_pack_installs_total",
		"Pack installs this node ran, by status (succeeded, failed).", "status")
	m.packSteps = histogram("attune_pack_install_step_duration_seconds",
		"Duration of each step of the pack installs this node ran, by step and status (done, failed).",
		[]float64{.01, .05, .1, .5, 1, 5, 15, 60, 300, 900}, "step", "status")
	m.sensorRestarts = counter("attune_sensor_restarts_total",
		"Restarts of the sensors this node supervises after their process stopped or failed to start, by sensor.", "sensor")
	m.sensorState = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "attune_sensor_state",
		Help: "1 for the current state of each sensor this node supervises (RUNNING, BACKOFF, FAILED), 0 for the others."},
		[]string{"sensor", "state"})
	m.Registry.MustRegister(m.sensorState)
	m.workflowTasks = counter("attune_workflow_tasks_total",
		"Workflow tasks this node's workflow engine brought to a final status, by status.", "status")
	m.gqlOps = counter("attune_graphql_operations_total",
		"GraphQL operations this node answered, by operation name (\"other\" for names no known client sends, "+
			"\"anonymous\" without one), type and the first error's code (\"none\" without errors).",
		"operation", "type", "code")
	m.gqlDuration = histogram("attune_graphql_operation_duration_seconds",
		"Latency of GraphQL operations from the request's arrival to the response (a subscription's first one), by operation and type.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}, "operation", "type")
	m.inquiries = counter("attune_inquiries_total",
		"Inquiries this node asked (pending) and ended, by status: pending when asked, then responded, timeout or canceled.",
		"status")
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry in Prometheus' text (or OpenMetrics) format.
// A collector that fails is left out of the answer and logged in
// promhttp_metric_handler_errors_total; the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.Registry,
		Timeout:       10 * time.Second,
	})
}

// CollectDB reports the statistics of a database/sql pool (open, in use,
// idle connections, waits) as go_sql_* with db_name name.
func (m *Metrics) CollectDB(name string, db *sql.DB) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// ExecutionRequested counts an execution of action (an existing action's
// ref) of pack, committed.
func (m *Metrics) ExecutionRequested(action, pack string) {
	if m == nil {
		return
	}
	m.execRequested.WithLabelValues(action, pack).Inc()
}

// ExecutionFinished counts an execution this node moved to final status.
func (m *Metrics) ExecutionFinished(action, pack, status string) {
	if m == nil {
		return
	}
	m.execFinished.WithLabelValues(action, pack, status).Inc()
}

// ExecutionRan observes the run time of an execution this node's worker ran.
func (m *Metrics) ExecutionRan(pack, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.execDuration.WithLabelValues(pack, status).Observe(d.Seconds())
}

// QueueWait observes how long a job of queue waited past its due time.
func (m *Metrics) QueueWait(queue string, d time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.WithLabelValues(queue).Observe(max(d, 0).Seconds())
}

// WebhookRequest counts a webhook answered with code; trigger is the ref
// of the trigger found, else Other.
func (m *Metrics) WebhookRequest(trigger string, code int) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(trigger, statusCode(code)).Inc()
}

// Event counts a stored event of trigger.
func (m *Metrics) Event(trigger string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(trigger).Inc()
}

// Rule evaluation outcomes.
const (
	RuleMatched   = "matched"
	RuleUnmatched = "unmatched"
	RuleSkipped   = "skipped"
	RuleFailed    = "failed"
)

// RuleEvaluated counts an evaluation of rule with one of the Rule* outcomes.
func (m *Metrics) RuleEvaluated(rule, outcome string) {
	if m == nil {
		return
	}
	m.ruleEvals.WithLabelValues(rule, outcome).Inc()
}

// RuleEvaluations counts n evaluations of rule with one outcome.
func (m *Metrics) RuleEvaluations(rule, outcome string, n int) {
	if m == nil {
		return
	}
	m.ruleEvals.WithLabelValues(rule, outcome).Add(float64(n))
}

// Enforcement counts an enforcement of rule recorded with status.
func (m *Metrics) Enforcement(rule, status string) {
	if m == nil {
		return
	}
	m.enforcements.WithLabelValues(rule, status).Inc()
}

// PackInstalled counts a finished pack install: succeeded or failed.
func (m *Metrics) PackInstalled(succeeded bool) {
	if m == nil {
		return
	}
	status := "succeeded"
	if !succeeded {
		status = "failed"
	}
	m.packInstalls.WithLabelValues(status).Inc()
}

// PackInstallStep observes a step of a pack install (one of pack.Steps)
// ending with status done or failed.
func (m *Metrics) PackInstallStep(step, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.packSteps.WithLabelValues(step, status).Observe(d.Seconds())
}

// sensorStates are the states attune_sensor_state reports.
var sensorStates = []string{"RUNNING", "BACKOFF", "FAILED"}

// SensorState records the state of a sensor this node supervises; "" (or
// STOPPED) removes it, as the node no longer runs it.
func (m *Metrics) SensorState(sensor, state string) {
	if m == nil {
		return
	}
	for _, s := range sensorStates {
		if state == "" || state == "STOPPED" {
			m.sensorState.DeleteLabelValues(sensor, s)
			continue
		}
		v := 0.0
		if s == state {
			v = 1
		}
		m.sensorState.WithLabelValues(sensor, s).Set(v)
	}
}

// SensorRestarted counts a restart of a sensor's process.
func (m *Metrics) SensorRestarted(sensor string) {
	if m == nil {
		return
	}
	m.sensorRestarts.WithLabelValues(sensor).Inc()
}

// workflowStatuses bound attune_workflow_tasks_total's status label.
var workflowStatuses = map[string]bool{
	"succeeded": true, "failed": true, "canceled": true, "timed_out": true, "abandoned": true, "skipped": true,
}

// WorkflowTask counts a workflow task this node's workflow engine brought
// to a final status: succeeded, failed, canceled, timed_out, abandoned or
// skipped (any case; other values count as "other").
func (m *Metrics) WorkflowTask(status string) {
	if m == nil {
		return
	}
	m.workflowTasks.WithLabelValues(bounded(lower(status), workflowStatuses)).Inc()
}

// GraphQLOperation counts an operation answered after d; name must already
// be bounded (see graph's metrics extension), typ is query, mutation,
// subscription or unknown, code the first error's code or "none".
func (m *Metrics) GraphQLOperation(name, typ, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.gqlOps.WithLabelValues(name, typ, code).Inc()
	m.gqlDuration.WithLabelValues(name, typ).Observe(d.Seconds())
}

// Inquiry statuses of attune_inquiries_total.
const (
	InquiryPending   = "pending"
	InquiryResponded = "responded"
	InquiryTimeout   = "timeout"
	InquiryCanceled  = "canceled"
)

// inquiryStatuses bound attune_inquiries_total's status label.
var inquiryStatuses = map[string]bool{
	InquiryPending: true, InquiryResponded: true, InquiryTimeout: true, InquiryCanceled: true,
}

// Inquiry counts an inquiry this node asked (InquiryPending) or ended
// (InquiryResponded, InquiryTimeout, InquiryCanceled; any case, other
// values count as "other").
func (m *Metrics) Inquiry(status string) {
	if m == nil {
		return
	}
	m.inquiries.WithLabelValues(bounded(lower(status), inquiryStatuses)).Inc()
}

// bounded is v if known has it, else Other.
func bounded(v string, known map[string]bool) string {
	if known[v] {
		return v
	}
	return Other
}

// lower lowercases ASCII letters and turns '-' and ' ' into '_'.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '-' || c == ' ':
			b[i] = '_'
		}
	}
	return string(b)
}

// statusCode is an HTTP status as a label: three digits, else Other.
func statusCode(code int) string {
	if code < 100 || code > 599 {
		return Other
	}
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}

// QueueDepth is the number of jobs of a queue in a state.
type QueueDepth struct {
	Queue, State string
	Jobs         int
}

// DepthFunc reads the queue depth; it is called at scrape time with a
// context bounded by the collector's timeout.
type DepthFunc func(ctx context.Context) ([]QueueDepth, error)

// CollectQueueDepth reports attune_queue_jobs{queue,state} from read at
// scrape time, bounded by timeout, and attune_queue_depth_up (0 when the
// read failed). queues and states are always reported, 0 when empty, so an
// alert on them never sees a missing series.
func (m *Metrics) CollectQueueDepth(read DepthFunc, timeout time.Duration, queues, states []string) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(&depthCollector{read: read, timeout: timeout, queues: queues, states: states})
}

var (
	depthDesc = prometheus.NewDesc("attune_queue_jobs",
		"Jobs in the queue (cluster-wide, read from the database at scrape time), by queue and state: "+
			"available (due, waiting for a worker), scheduled (due later), retryable, running, pending.",
		[]string{"queue", "state"}, nil)
	depthUpDesc = prometheus.NewDesc("attune_queue_depth_up",
		"1 when the last read of the queue depth succeeded, 0 when it failed or timed out.", nil, nil)
)

type depthCollector struct {
	read           DepthFunc
	timeout        time.Duration
	queues, states []string
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- depthUpDesc
}

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rows, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(depthUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(depthUpDesc, prometheus.GaugeValue, 1)
	type key struct{ queue, state string }
	n := map[key]int{}
	for _, q := range c.queues {
		for _, s := range c.states {
			n[key{q, s}] = 0
		}
	}
	for _, r := range rows {
		n[key{r.Queue, r.State}] += r.Jobs
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(v), k.queue, k.state)
	}
}

// CountFunc reads a number at scrape time, with a context bounded by the
// collector's timeout.
type CountFunc func(ctx context.Context) (int, error)

var pendingInquiriesDesc = prometheus.NewDesc("attune_inquiries_pending",
	"Inquiries waiting for a response (cluster-wide, read from the database at scrape time).", nil, nil)

// CollectPendingInquiries reports attune_inquiries_pending from read at
// scrape time, bounded by timeout. When the read fails the series is left
// out of the scrape and the failure counted in
// promhttp_metric_handler_errors_total.
func (m *Metrics) CollectPendingInquiries(read CountFunc, timeout time.Duration) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(&countCollector{desc: pendingInquiriesDesc, read: read, timeout: timeout})
}

// countCollector reports one gauge read at scrape time.
type countCollector struct {
	desc    *prometheus.Desc
	read    CountFunc
	timeout time.Duration
}

func (c *countCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
