package manifest

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

const basePack = "ref: demo\nversion: 1.0.0\n"

// mapFS builds a pack tree, adding a minimal pack.yaml unless files has one.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{PackFile: {Data: []byte(basePack)}}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// mustLoad loads files and requires success.
func mustLoad(t *testing.T, files map[string]string) *Pack {
	t.Helper()
	p, err := Load(mapFS(files))
	require.NoError(t, err)
	return p
}

// problemsOf loads files and requires a *ValidationError, returning its problems.
func problemsOf(t *testing.T, files map[string]string) []Problem {
	t.Helper()
	p, err := Load(mapFS(files))
	verr, ok := errors.AsType[*ValidationError](err)
	require.Truef(t, ok, "want *ValidationError, got %v", err)
	require.Nil(t, p)
	return verr.Problems
}

func TestLoadFullPack(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		PackFile: `ref: demo
label: "Demo Pack"
description: "Example"
version: "1.0.0"
author: Ada
email: ada@example.com
tags: [demo, example]
dependencies: [core]
runtime_deps: [shell, python]
conf_schema:
  api_url: {type: string, default: "https://example.com"}
  token: {type: string, secret: true}
config: {api_url: "https://other.example.com"}
meta: {category: demo, released: 2024-01-02}
`,
		"requirements.txt": "requests\n",
		"actions/hello.yaml": `ref: demo.hello
label: "Hello"
description: "Say hello"
runner_type: python
entry_point: hello.py
parameter_delivery: file
parameter_format: yaml
output_format: json
timeout_seconds: 60
tags: [greeting]
parameters:
  name: {type: string, required: true}
  token: {type: string, secret: true}
output:
  greeting: {type: string}
`,
		"actions/hello.py":         "print('hi')\n",
		"actions/workflows/x.yaml": "not: an action\n",
		"triggers/alert.yaml": `ref: demo.alert_received
label: Alert Received
type: webhook
parameters: {}
output:
  severity: {type: string, enum: [info, warning, critical], required: true}
`,
		"sensors/watch.yaml": `ref: demo.watch
runner_type: native
entry_point: watch
trigger_types: [alert_received]
parameters:
  interval: {type: integer, default: 1, minimum: 1, maximum: 60}
config: {mode: fast}
enabled: false
`,
		"sensors/watch": "binary",
		"rules/on_alert.yaml": `ref: demo.on_alert
trigger_ref: alert_received
action_ref: hello
trigger_params: {unit: seconds}
conditions:
  expression: "event.payload.severity == 'critical'"
action_params:
  name: "{{ event.payload.message }}"
`,
		"workflows/deploy.workflow.yaml": "label: Deploy\ntasks: [{name: a, action: demo.hello}]\n",
	})
	require.Equal(t, &Pack{
		Ref: "demo", Label: "Demo Pack", Description: "Example", Version: "1.0.0",
		Author: "Ada", Email: "ada@example.com",
		Tags: []string{"demo", "example"}, Dependencies: []string{"core"}, RuntimeDeps: []string{"shell", "python"},
		ConfigSchema: param.Schema{
			"api_url": {Type: "string", Default: "https://example.com"},
			"token":   {Type: "string", Secret: true},
		},
		Config: map[string]any{"api_url": "https://other.example.com"},
		Meta:   map[string]any{"category": "demo", "released": "2024-01-02"},
		Actions: []Action{{
			Ref: "demo.hello", Name: "hello", Label: "Hello", Description: "Say hello",
			RunnerType: RunnerPython, RunnerName: "python", EntryPoint: "actions/hello.py",
			Parameters: param.Schema{
				"name":  {Type: "string", Required: true},
				"token": {Type: "string", Secret: true},
			},
			Output:         param.Schema{"greeting": {Type: "string"}},
			TimeoutSeconds: 60, Enabled: true,
			ParameterDelivery: "file", ParameterFormat: "yaml", OutputFormat: "json",
			Tags: []string{"greeting"}, File: "actions/hello.yaml",
		}},
		Triggers: []Trigger{{
			Ref: "demo.alert_received", Name: "alert_received", Label: "Alert Received", Type: "webhook",
			Parameters: param.Schema{},
			Payload:    param.Schema{"severity": {Type: "string", Enum: []any{"info", "warning", "critical"}, Required: true}},
			Webhook:    true, Enabled: true, File: "triggers/alert.yaml",
		}},
		Sensors: []Sensor{{
			Ref: "demo.watch", Name: "watch", Label: "watch", RunnerType: RunnerNative, RunnerName: "native",
			EntryPoint: "sensors/watch", TriggerTypes: []string{"demo.alert_received"},
			Parameters: param.Schema{"interval": {Type: "integer", Default: 1, Minimum: ptr(1), Maximum: ptr(60)}},
			Config:     map[string]any{"mode": "fast"}, File: "sensors/watch.yaml", triggerLine: 4,
		}},
		Rules: []Rule{{
			Ref: "demo.on_alert", Name: "on_alert", Label: "on_alert",
			TriggerRef: "demo.alert_received", ActionRef: "demo.hello",
			Criteria:      map[string]any{"expression": "event.payload.severity == 'critical'"},
			ActionParams:  map[string]any{"name": "{{ event.payload.message }}"},
			TriggerParams: map[string]any{"unit": "seconds"},
			Enabled:       true, File: "rules/on_alert.yaml", triggerLine: 2, actionLine: 3,
		}},
		Workflows: []Workflow{{
			Ref: "demo.deploy", Name: "deploy", Label: "Deploy",
			Definition: map[string]any{"label": "Deploy", "tasks": []any{map[string]any{"name": "a", "action": "demo.hello"}}},
			File:       "workflows/deploy.workflow.yaml",
		}},
		HasRequirements: true,
	}, p)
	warnings, err := p.CheckRefs(nil)
	require.NoError(t, err)
	require.Empty(t, warnings)
}

func ptr(f float64) *float64 { return &f }

func TestLoadStackStormPack(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		PackFile: `name: st2demo
description: StackStorm style
keywords: [st2]
version: 0.1.0
author: st2
email: info@stackstorm.com
config_schema:
  type: object
  required: [api_key]
  properties:
    api_key: {type: string, secret: true}
metadata: {homepage: "https://example.com"}
`,
		"package.json": "{}",
		"wheels/x.whl": "",
		"actions/run.yaml": `name: run
pack: st2demo
runner_type: python-script
entry_point: run.py
parameters_schema:
  url: {type: string}
output_schema:
  ok: {type: boolean}
`,
		"actions/run.py": "",
		"actions/cmd.yml": `name: cmd
runner_type: local-shell-cmd
parameters:
  cmd: {default: "uptime", immutable: true}
  sudo: {immutable: true}
`,
		"sensors/poll.yaml": `class_name: PollSensor
entry_point: poll_sensor.py
poll_interval: 30
trigger_types:
  - name: new_item
    description: A new item
    payload_schema:
      type: object
      properties:
        id: {type: integer}
  - name: file_watch.line
    pack: st2demo
`,
		"sensors/poll_sensor.py": "",
		"rules/notify.yaml": `name: notify
pack: st2demo
trigger:
  type: core.st2.webhook
  parameters: {url: sample}
criteria:
  trigger.body.x: {type: equals, pattern: y}
action:
  ref: st2demo.run
  parameters: {url: "{{ trigger.body.url }}"}
`,
	})
	require.Equal(t, "st2demo", p.Ref)
	require.Equal(t, "st2demo", p.Label)
	require.Equal(t, []string{"st2"}, p.Tags)
	require.Equal(t, param.Schema{"api_key": {Type: "string", Secret: true, Required: true}}, p.ConfigSchema)
	require.Equal(t, map[string]any{"homepage": "https://example.com"}, p.Meta)
	require.True(t, p.HasPackageJSON)
	require.True(t, p.HasWheelhouse)
	require.False(t, p.HasRequirements)

	require.Len(t, p.Actions, 2)
	cmd, run := p.Actions[0], p.Actions[1]
	require.Equal(t, "st2demo.cmd", cmd.Ref)
	require.Equal(t, RunnerLocal, cmd.RunnerType)
	require.Empty(t, cmd.EntryPoint)
	require.Equal(t, "st2demo.run", run.Ref)
	require.Equal(t, RunnerPython, run.RunnerType)
	require.Equal(t, "actions/run.py", run.EntryPoint)
	require.Equal(t, param.Schema{"url": {Type: "string"}}, run.Parameters.Without(RunnerParameters("python-script")))
	require.Equal(t, "uptime", cmd.Parameters["cmd"].Default)
	require.True(t, cmd.Parameters["sudo"].Immutable)
	require.Equal(t, "boolean", cmd.Parameters["sudo"].Type)
	require.Equal(t, param.Schema{"ok": {Type: "boolean"}}, run.Output)

	require.Equal(t, []Trigger{{
		Ref: "st2demo.new_item", Name: "new_item", Label: "new_item", Description: "A new item",
		Parameters: param.Schema{}, Payload: param.Schema{"id": {Type: "integer"}},
		Enabled: true, File: "sensors/poll.yaml",
	}, {
		// A dotted StackStorm trigger name registers under the pack.
		Ref: "st2demo.file_watch.line", Name: "file_watch.line", Label: "file_watch.line",
		Parameters: param.Schema{}, Payload: param.Schema{}, Enabled: true, File: "sensors/poll.yaml",
	}}, p.Triggers)
	require.Equal(t, "st2demo.poll", p.Sensors[0].Ref)
	require.Equal(t, []string{"st2demo.new_item", "st2demo.file_watch.line"}, p.Sensors[0].TriggerTypes)
	require.Equal(t, "sensors/poll_sensor.py", p.Sensors[0].EntryPoint)
	// A StackStorm sensor names no runner: a class in a .py file runs in Python.
	require.Equal(t, RunnerPython, p.Sensors[0].RunnerType)
	require.Equal(t, "PollSensor", p.Sensors[0].ClassName)
	require.Equal(t, 30, p.Sensors[0].PollInterval)

	r := p.Rules[0]
	require.Equal(t, "st2demo.notify", r.Ref)
	require.Equal(t, "core.st2.webhook", r.TriggerRef)
	require.Equal(t, map[string]any{"url": "sample"}, r.TriggerParams)
	require.Equal(t, "st2demo.run", r.ActionRef)
	require.Equal(t, map[string]any{"url": "{{ trigger.body.url }}"}, r.ActionParams)
	require.Equal(t, map[string]any{"trigger.body.x": map[string]any{"type": "equals", "pattern": "y"}}, r.Criteria)

	warnings, err := p.CheckRefs(nil)
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	require.Equal(t, "rules/notify.yaml:3: trigger_ref: trigger \"core.st2.webhook\" is not installed; the rule is stored and its enforcements are SKIPPED until a pack defining it is installed", warnings[0].String())
	warnings, err = p.CheckRefs(func(kind Kind, ref string) bool { return kind == KindTrigger && ref == "core.st2.webhook" })
	require.NoError(t, err)
	require.Empty(t, warnings)
}

// TestPoliciesInBothForms reads StackStorm's example policies and the
// reference form.
func TestPoliciesInBothForms(t *testing.T) {
	t.Parallel()
	p, err := Load(fstest.MapFS{
		"pack.yaml": {Data: []byte("ref: examples\nversion: 1.0.0\n")},
		"policies/concurrency.yaml": {Data: []byte(`name: my_action.concurrency
description: Limits the concurrent executions for my action.
enabled: true
resource_ref: examples.my_action
policy_type: action.concurrency
parameters:
    action: delay
    threshold: 10
`)},
		"policies/concurrency_by_attr.yaml": {Data: []byte(`name: my_remote_action.concurrency
resource_ref: core.remote
policy_type: action.concurrency.attr
parameters:
    action: cancel
    threshold: 1
    attributes:
        - hosts
`)},
		"policies/retry.yaml": {Data: []byte(`name: my_action.retry
resource_ref: examples.my_action
policy_type: action.retry
parameters:
    retry_on: timeout
    max_retry_count: 2
    delay: 5
`)},
		"policies/limit_deploy.yaml": {Data: []byte(`ref: examples.limit_deploy
action_ref: examples.deploy
concurrency: {limit: 2, method: enqueue, parameters: [environment]}
rate_limit: {max_executions: 20, window_seconds: 3600}
`)},
	})
	require.NoError(t, err)
	byRef := map[string]Policy{}
	for _, pol := range p.Policies {
		byRef[pol.Ref] = pol
	}
	require.Len(t, byRef, 4)
	c := byRef["examples.my_action.concurrency"]
	require.Equal(t, "examples.my_action", c.ActionRef)
	require.Equal(t, PolicyConcurrency, c.Type)
	require.Equal(t, 10, c.ConcurrencyThreshold)
	require.Equal(t, "DELAY", c.ConcurrencyAction)
	a := byRef["examples.my_remote_action.concurrency"]
	require.Equal(t, "core.remote", a.ActionRef)
	require.Equal(t, []string{"hosts"}, a.ConcurrencyAttributes)
	require.Equal(t, "CANCEL", a.ConcurrencyAction)
	r := byRef["examples.my_action.retry"]
	require.Equal(t, []string{"TIMEOUT"}, r.RetryOn)
	require.Equal(t, 2, r.RetryMaxCount)
	require.Equal(t, 5, r.RetryDelaySeconds)
	l := byRef["examples.limit_deploy"]
	require.Equal(t, "examples.deploy", l.ActionRef)
	require.Equal(t, 2, l.ConcurrencyThreshold)
	require.Equal(t, []string{"environment"}, l.ConcurrencyAttributes)
	require.Equal(t, 20, l.RateLimitMax)
	require.Equal(t, 3600, l.RateLimitWindowSeconds)
}
