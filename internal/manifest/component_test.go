package manifest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

func TestLoadActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  Action // compared when wantProblems is nil
		probs []Problem
	}{
		{
			name:  "defaults: ref from file name, shell runner",
			files: map[string]string{"actions/greet.yml": "entry_point: greet.sh\n", "actions/greet.sh": "", "actions/README.md": "x"},
			want: Action{
				Ref: "demo.greet", Name: "greet", Label: "greet", RunnerType: RunnerShell, EntryPoint: "actions/greet.sh",
				Parameters: param.Schema{}, Output: param.Schema{}, Enabled: true,
				ParameterDelivery: "stdin", ParameterFormat: "json", OutputFormat: "text", File: "actions/greet.yml",
			},
		},
		{
			name:  "ref from name key, label alias",
			files: map[string]string{"actions/x.yaml": "name: greet\nrunner_type: nodejs\nentry_point: lib/greet.js\nenabled: false\n", "actions/lib/greet.js": ""},
			want: Action{
				Ref: "demo.greet", Name: "greet", Label: "greet", RunnerType: RunnerNode, EntryPoint: "actions/lib/greet.js",
				Parameters: param.Schema{}, Output: param.Schema{},
				ParameterDelivery: "stdin", ParameterFormat: "json", OutputFormat: "text", File: "actions/x.yaml",
			},
		},
		{
			name:  "name is a label when ref is given",
			files: map[string]string{"actions/x.yaml": "ref: demo.greet\nname: Greet Someone\nrunner_type: local\n"},
			want: Action{
				Ref: "demo.greet", Name: "greet", Label: "Greet Someone", RunnerType: RunnerLocal,
				Parameters: param.Schema{}, Output: param.Schema{}, Enabled: true,
				ParameterDelivery: "stdin", ParameterFormat: "json", OutputFormat: "text", File: "actions/x.yaml",
			},
		},
		{
			name: "JSON Schema parameters and output aliases",
			files: map[string]string{
				"actions/x.yaml": "ref: x\nentry_point: ../scripts/x.sh\ntimeout: 5\nparameters_schema:\n  type: object\n  required: [a]\n  properties:\n    a: {type: integer}\noutput_schema:\n  ok: {type: boolean}\n",
				"scripts/x.sh":   "",
			},
			want: Action{
				Ref: "demo.x", Name: "x", Label: "x", RunnerType: RunnerShell, EntryPoint: "scripts/x.sh",
				Parameters: param.Schema{"a": {Type: "integer", Required: true}}, Output: param.Schema{"ok": {Type: "boolean"}},
				TimeoutSeconds: 5, Enabled: true,
				ParameterDelivery: "stdin", ParameterFormat: "json", OutputFormat: "text", File: "actions/x.yaml",
			},
		},
		{
			name:  "workflow action",
			files: map[string]string{"actions/deploy.yaml": "ref: demo.deploy\nworkflow_file: workflows/deploy.workflow.yaml\n", "actions/workflows/deploy.workflow.yaml": "tasks: []\n"},
			want: Action{
				Ref: "demo.deploy", Name: "deploy", Label: "deploy", RunnerType: RunnerWorkflow, WorkflowFile: "actions/workflows/deploy.workflow.yaml",
				EntryPoint: "actions/workflows/deploy.workflow.yaml",
				Parameters: param.Schema{}, Output: param.Schema{}, Enabled: true,
				ParameterDelivery: "stdin", ParameterFormat: "json", OutputFormat: "text", File: "actions/deploy.yaml",
			},
		},
		{
			name:  "owned by another pack",
			files: map[string]string{"actions/x.yaml": "ref: core.x\nrunner_type: local\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "ref", Message: `"core.x" is owned by another pack; refs in this pack must start with "demo."`}},
		},
		{
			name:  "pack key naming another pack",
			files: map[string]string{"actions/x.yaml": "name: x\npack: core\nrunner_type: local\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 2, Field: "pack", Message: `"core" is not this pack ("demo")`}},
		},
		{
			name:  "upper-case ref",
			files: map[string]string{"actions/x.yaml": "runner_type: local\nref: demo.Hello\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 2, Field: "ref", Message: `name "Hello" must match ^[a-z0-9][a-z0-9_-]{0,127}$ (refs are lower-case letters, digits, _ and -)`}},
		},
		{
			name:  "invalid file name",
			files: map[string]string{"actions/Hello World.yaml": "runner_type: local\n"},
			probs: []Problem{{File: "actions/Hello World.yaml", Line: 1, Field: "ref", Message: `name "Hello World" must match ^[a-z0-9][a-z0-9_-]{0,127}$ (refs are lower-case letters, digits, _ and -) (taken from the file name; set ref to choose another)`}},
		},
		{
			name:  "nested dots",
			files: map[string]string{"actions/x.yaml": "ref: demo.a.b\nrunner_type: local\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "ref", Message: `name "a.b" must match ^[a-z0-9][a-z0-9_-]{0,127}$ (refs are lower-case letters, digits, _ and -)`}},
		},
		{
			name:  "unknown runner",
			files: map[string]string{"actions/x.yaml": "runner_type: ruby\nentry_point: x.rb\n", "actions/x.rb": ""},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "runner_type", Message: `unknown runner type "ruby" (want shell, python, node, native, local or a StackStorm runner: action-chain, announcement, http-request, inquirer, local-shell-cmd, local-shell-script, noop, orquesta, python-script, remote-shell-cmd, remote-shell-script, winrm-cmd, winrm-ps-cmd, winrm-ps-script)`}},
		},
		{
			name:  "entry point required",
			files: map[string]string{"actions/x.yaml": "runner_type: python\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "entry_point", Message: "is required"}},
		},
		{
			name:  "entry point missing",
			files: map[string]string{"actions/x.yaml": "runner_type: python\nentry_point: actions/x.py\n", "actions/x.py": ""},
			probs: []Problem{{File: "actions/x.yaml", Line: 2, Field: "entry_point", Message: "actions/actions/x.py not found (entry_point is relative to actions/)"}},
		},
		{
			name:  "entry point absolute",
			files: map[string]string{"actions/x.yaml": "entry_point: /bin/sh\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "entry_point", Message: "must be a path relative to actions/, not an absolute path"}},
		},
		{
			name:  "entry point outside the pack",
			files: map[string]string{"actions/x.yaml": "entry_point: ../../etc/passwd\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "entry_point", Message: `"../../etc/passwd" leaves the pack`}},
		},
		{
			name:  "entry point is a directory",
			files: map[string]string{"actions/x.yaml": "entry_point: lib\n", "actions/lib/a.sh": ""},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "entry_point", Message: "actions/lib must be a regular file, not a directory or symlink"}},
		},
		{
			name:  "local runner without cmd parameter",
			files: map[string]string{"actions/x.yaml": "runner_type: local\nparameters:\n  msg: {type: string}\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 2, Field: "parameters", Message: "the local runner runs the cmd parameter, which is not declared"}},
		},
		{
			name:  "workflow file missing",
			files: map[string]string{"actions/x.yaml": "workflow_file: workflows/x.yaml\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Field: "workflow_file", Message: "actions/workflows/x.yaml not found (workflow_file is relative to actions/)"}},
		},
		{
			name: "bad scalar fields",
			files: map[string]string{"actions/x.yaml": "runner_type: local\nparameter_delivery: env\nparameter_format: xml\noutput_format: csv\n" +
				"timeout_seconds: -1\nenabled: maybe\ntags: [1]\nlabel: {a: 1}\n"},
			probs: []Problem{
				{File: "actions/x.yaml", Line: 2, Field: "parameter_delivery", Message: "must be one of stdin, file"},
				{File: "actions/x.yaml", Line: 3, Field: "parameter_format", Message: "must be one of json, dotenv, yaml"},
				{File: "actions/x.yaml", Line: 4, Field: "output_format", Message: "must be one of text, json, yaml, jsonl"},
				{File: "actions/x.yaml", Line: 5, Field: "timeout_seconds", Message: "must be a whole number of at least 0"},
				{File: "actions/x.yaml", Line: 6, Field: "enabled", Message: "must be true or false"},
				{File: "actions/x.yaml", Line: 7, Field: "tags", Message: "item 1 must be a string"},
				{File: "actions/x.yaml", Line: 8, Field: "label", Message: "must be a string"},
			},
		},
		{
			name: "parameter problems point at the parameter",
			files: map[string]string{"actions/x.yaml": "runner_type: local\nparameters:\n  cmd: {type: string}\n" +
				"  count: {type: integer, default: 1.5}\n  level: {type: string, enum: [a], default: b}\noutput:\n  x: {type: float}\n"},
			probs: []Problem{
				{File: "actions/x.yaml", Line: 4, Field: "parameters.count", Message: "default must be an integer"},
				{File: "actions/x.yaml", Line: 5, Field: "parameters.level", Message: "default must be one of [a]"},
				{File: "actions/x.yaml", Line: 7, Field: "output.x", Message: `unknown type "float" (want string, integer, number, boolean, object, array or any)`},
			},
		},
		{
			name:  "JSON Schema parameter problems point at the property",
			files: map[string]string{"actions/x.yaml": "runner_type: local\nparameters:\n  type: object\n  properties:\n    cmd: {type: string, default: 1}\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 5, Field: "parameters.cmd", Message: "default must be a string"}},
		},
		{
			name:  "not a mapping",
			files: map[string]string{"actions/x.yaml": "just text\n"},
			probs: []Problem{{File: "actions/x.yaml", Line: 1, Message: "must be a YAML mapping of keys to values"}},
		},
		{
			name: "duplicate refs name both files",
			files: map[string]string{
				"actions/a.yaml": "ref: demo.same\nrunner_type: local\n",
				"actions/b.yaml": "runner_type: local\nname: same\n",
			},
			probs: []Problem{{File: "actions/b.yaml", Line: 2, Field: "name", Message: `duplicate action ref "demo.same" (also defined in actions/a.yaml)`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.probs != nil {
				require.Equal(t, tt.probs, problemsOf(t, tt.files))
				return
			}
			p := mustLoad(t, tt.files)
			want := tt.want
			if want.RunnerName == "" {
				want.RunnerName = string(want.RunnerType)
			}
			require.Equal(t, []Action{want}, p.Actions)
		})
	}
}

func TestLoadTriggers(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		"triggers/a.yaml": "ref: demo.hook\nwebhook: true\npayload_schema:\n  id: {type: integer}\n",
		"triggers/b.yaml": "name: typed\ntype: webhook\nparameters_schema:\n  path: {type: string}\npayload:\n  x: {type: any}\nenabled: false\n",
		"triggers/c.yaml": "ref: demo.tick\ntype: interval\nlabel: Tick\ndescription: Every so often\n",
	})
	require.Equal(t, []Trigger{
		{
			Ref: "demo.hook", Name: "hook", Label: "hook", Parameters: param.Schema{},
			Payload: param.Schema{"id": {Type: "integer"}}, Webhook: true, Enabled: true, File: "triggers/a.yaml",
		},
		{
			Ref: "demo.typed", Name: "typed", Label: "typed", Type: "webhook",
			Parameters: param.Schema{"path": {Type: "string"}}, Payload: param.Schema{"x": {Type: "any"}},
			Webhook: true, File: "triggers/b.yaml",
		},
		{
			Ref: "demo.tick", Name: "tick", Label: "Tick", Description: "Every so often", Type: "interval",
			Parameters: param.Schema{}, Payload: param.Schema{}, Enabled: true, File: "triggers/c.yaml",
		},
	}, p.Triggers)
}

func TestLoadSensorProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		probs []Problem
	}{
		{
			name:  "entry point is relative to sensors/",
			yaml:  "runner_type: python\nentry_point: missing.py\n",
			probs: []Problem{{File: "sensors/s.yaml", Line: 2, Field: "entry_point", Message: "sensors/missing.py not found (entry_point is relative to sensors/)"}},
		},
		{
			name:  "local runner",
			yaml:  "runner_type: local\n",
			probs: []Problem{{File: "sensors/s.yaml", Line: 1, Field: "runner_type", Message: "sensors cannot use the local runner; give an entry_point and another runner type"}},
		},
		{
			name: "bad trigger types",
			yaml: "entry_point: s.sh\ntrigger_types: [1, {description: nameless}]\n",
			probs: []Problem{
				{File: "sensors/s.yaml", Line: 2, Field: "trigger_types", Message: "item 1 must be a trigger ref or an inline trigger definition"},
				{File: "sensors/s.yaml", Line: 2, Field: "trigger_types", Message: "item 2 defines a trigger without a name"},
			},
		},
		{
			name:  "trigger types not a list",
			yaml:  "entry_point: s.sh\ntrigger_types: demo.t\n",
			probs: []Problem{{File: "sensors/s.yaml", Line: 2, Field: "trigger_types", Message: "must be a list of trigger refs"}},
		},
		{
			name: "inline trigger duplicates a trigger file",
			yaml: "entry_point: s.sh\ntrigger_types:\n  - name: t\n    payload_schema: {x: {type: nope}}\n",
			probs: []Problem{
				{File: "sensors/s.yaml", Line: 3, Field: "name", Message: `duplicate trigger ref "demo.t" (also defined in triggers/t.yaml)`},
				{File: "sensors/s.yaml", Line: 4, Field: "payload_schema.x", Message: `unknown type "nope" (want string, integer, number, boolean, object, array or any)`},
			},
		},
		{
			name:  "bad config",
			yaml:  "entry_point: s.sh\nconfig: [a]\n",
			probs: []Problem{{File: "sensors/s.yaml", Line: 2, Field: "config", Message: "must be a mapping"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"sensors/s.yaml": tt.yaml, "sensors/s.sh": "", "triggers/t.yaml": "ref: demo.t\n"}
			require.Equal(t, tt.probs, problemsOf(t, files))
		})
	}
}

func TestLoadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		want  Rule
		probs []Problem
	}{
		{
			name: "attune form with qualified refs",
			yaml: "ref: demo.r\nlabel: R\ndescription: d\nenabled: false\ntrigger_ref: core.intervaltimer\naction_ref: core.echo\ncriteria: {expression: 'true'}\n",
			want: Rule{
				Ref: "demo.r", Name: "r", Label: "R", Description: "d", TriggerRef: "core.intervaltimer", ActionRef: "core.echo",
				Criteria: map[string]any{"expression": "true"}, File: "rules/r.yaml", triggerLine: 5, actionLine: 6,
			},
		},
		{
			name: "StackStorm string forms are qualified",
			yaml: "trigger: t\naction: a\n",
			want: Rule{
				Ref: "demo.r", Name: "r", Label: "r", TriggerRef: "demo.t", ActionRef: "demo.a",
				Enabled: true, File: "rules/r.yaml", triggerLine: 1, actionLine: 2,
			},
		},
		{
			name: "explicit params win over inline ones",
			yaml: "trigger: {ref: t, parameters: {a: 1}}\naction: {ref: a, parameters: {b: 2}}\ntrigger_params: {a: 3}\naction_params: {b: 4}\n",
			want: Rule{
				Ref: "demo.r", Name: "r", Label: "r", TriggerRef: "demo.t", ActionRef: "demo.a",
				TriggerParams: map[string]any{"a": 3}, ActionParams: map[string]any{"b": 4},
				Enabled: true, File: "rules/r.yaml", triggerLine: 1, actionLine: 2,
			},
		},
		{
			name: "missing trigger and action",
			yaml: "label: x\n",
			probs: []Problem{
				{File: "rules/r.yaml", Line: 1, Field: "trigger_ref", Message: "is required: name the trigger by ref"},
				{File: "rules/r.yaml", Line: 1, Field: "action_ref", Message: "is required: name the action by ref"},
			},
		},
		{
			name: "malformed targets",
			yaml: "trigger_ref: [x]\naction: {parameters: [1]}\nconditions: [x]\naction_params: 1\ntrigger_params: x\n",
			probs: []Problem{
				{File: "rules/r.yaml", Line: 1, Field: "trigger_ref", Message: "must be a ref"},
				{File: "rules/r.yaml", Line: 2, Field: "action", Message: "parameters must be a mapping"},
				{File: "rules/r.yaml", Line: 2, Field: "action", Message: "is required: name the action by ref"},
				{File: "rules/r.yaml", Line: 3, Field: "conditions", Message: "must be a mapping"},
				{File: "rules/r.yaml", Line: 4, Field: "action_params", Message: "must be a mapping"},
				{File: "rules/r.yaml", Line: 5, Field: "trigger_params", Message: "must be a mapping"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"rules/r.yaml": tt.yaml}
			if tt.probs != nil {
				require.Equal(t, tt.probs, problemsOf(t, files))
				return
			}
			require.Equal(t, []Rule{tt.want}, mustLoad(t, files).Rules)
		})
	}
}

func TestLoadWorkflows(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		"workflows/a.yaml": "ref: demo.flow\nlabel: Flow\ndescription: d\nversion: 1.0.0\n",
		"workflows/b.yml":  "",
		"workflows/c.txt":  "ignored",
	})
	require.Equal(t, []Workflow{
		{
			Ref: "demo.flow", Name: "flow", Label: "Flow", Description: "d", File: "workflows/a.yaml",
			Definition: map[string]any{"ref": "demo.flow", "label": "Flow", "description": "d", "version": "1.0.0"},
		},
		{Ref: "demo.b", Name: "b", Label: "b", Definition: map[string]any{}, File: "workflows/b.yml"},
	}, p.Workflows)
}

func TestLoadReportsEveryProblemInOrder(t *testing.T) {
	t.Parallel()
	_, err := Load(mapFS(map[string]string{
		PackFile:          "ref: demo\nversion: 1\n",
		"rules/z.yaml":    "action_ref: x\n",
		"actions/b.yaml":  "runner_type: python\n",
		"actions/a.yaml":  "{",
		"triggers/t.yaml": "ref: other.t\n",
	}))
	require.EqualError(t, err, `invalid pack: 5 problems: `+
		`actions/a.yaml:1: invalid YAML: did not find expected node content; `+
		`actions/b.yaml:1: entry_point: is required; `+
		`pack.yaml:2: version: must be a semver string such as "1.0.0"; YAML reads 1 as a number; `+
		`rules/z.yaml:1: trigger_ref: is required: name the trigger by ref; `+
		`triggers/t.yaml:1: ref: "other.t" is owned by another pack; refs in this pack must start with "demo."`)
}

func TestCheckRefs(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		"triggers/t.yaml": "ref: demo.t\n",
		"actions/a.yaml":  "ref: demo.a\nrunner_type: local\n",
		"rules/ok.yaml":   "trigger_ref: t\naction_ref: a\n",
		"rules/ext.yaml":  "trigger_ref: core.timer\naction_ref: core.echo\n",
		"rules/bad.yaml":  "label: bad\ntrigger_ref: missing\naction_ref: nope.nothing\n",
		"sensors/s.yaml":  "runner_type: native\nentry_point: s\ntrigger_types: [t, ghost]\n",
		"sensors/s":       "",
	})
	installed := func(kind Kind, ref string) bool {
		return (kind == KindTrigger && ref == "core.timer") || (kind == KindAction && ref == "core.echo")
	}
	warnings, err := p.CheckRefs(installed)
	verr, ok := errors.AsType[*ValidationError](err)
	require.Truef(t, ok, "want *ValidationError, got %v", err)
	// A sensor's trigger type must exist; a rule may wait for a pack installed later.
	require.Equal(t, []Problem{
		{File: "sensors/s.yaml", Line: 3, Field: "trigger_types", Message: `trigger "demo.ghost" is neither defined in this pack nor installed`},
	}, verr.Problems)
	const later = "is not installed; the rule is stored and its enforcements are SKIPPED until a pack defining it is installed"
	require.Equal(t, []Problem{
		{File: "rules/bad.yaml", Line: 2, Field: "trigger_ref", Message: `trigger "demo.missing" ` + later},
		{File: "rules/bad.yaml", Line: 3, Field: "action_ref", Message: `action "nope.nothing" ` + later},
	}, warnings)

	warnings, _ = p.CheckRefs(nil)
	require.Len(t, warnings, 4)
}

func TestParseRunnerType(t *testing.T) {
	t.Parallel()
	type want struct {
		family RunnerType
		name   string
	}
	tests := map[string]want{
		"shell": {RunnerShell, "shell"}, "local-shell-script": {RunnerShell, "local-shell-script"},
		"run-local-script": {RunnerShell, "shell"}, "python": {RunnerPython, "python"},
		"Python3": {RunnerPython, "python"}, "python-script": {RunnerPython, "python-script"},
		"node": {RunnerNode, "node"}, "nodejs": {RunnerNode, "node"}, "native": {RunnerNative, "native"},
		"local": {RunnerLocal, "local"}, "local-shell-cmd": {RunnerLocal, "local-shell-cmd"},
		"run-local": {RunnerLocal, "local"}, "orquesta": {RunnerWorkflow, "orquesta"},
		"action-chain": {RunnerWorkflow, "action-chain"}, "remote-shell-cmd": {RunnerRemote, "remote-shell-cmd"},
		"remote-shell-script": {RunnerRemote, "remote-shell-script"}, "http-request": {RunnerHTTP, "http-request"},
		"noop": {RunnerNoop, "noop"}, "announcement": {RunnerAnnouncement, "announcement"}, "inject-trigger": {RunnerAnnouncement, "inject-trigger"},
		"inquirer": {RunnerInquiry, "inquirer"}, "winrm-cmd": {RunnerWinRM, "winrm-cmd"},
		"winrm-ps-cmd": {RunnerWinRM, "winrm-ps-cmd"}, "winrm-ps-script": {RunnerWinRM, "winrm-ps-script"},
	}
	for in, w := range tests {
		family, name, err := ParseRunnerType(in)
		require.NoError(t, err, in)
		require.Equal(t, w, want{family, name}, in)
	}
	for _, in := range []string{"", "workflow", "cobol"} {
		_, _, err := ParseRunnerType(in)
		require.Error(t, err, in)
	}
	// Every StackStorm runner type declares its runner parameters.
	for _, name := range St2RunnerNames() {
		_, _, err := ParseRunnerType(name)
		require.NoError(t, err, name)
	}
	require.Contains(t, RunnerParameters("local-shell-cmd"), "cmd")
	require.Equal(t, "--", RunnerParameters("local-shell-script")["kwarg_op"].Default)
}

func TestRunnerParametersMerge(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		"pack.yaml": "ref: mp\nversion: 1.0.0\n",
		"actions/ping.yaml": `name: ping
runner_type: local-shell-cmd
parameters:
  host: {type: string, required: true}
  count: {type: integer, default: 3}
  cmd: {default: "ping -c {{ count }} {{ host }}", immutable: true}
`,
	})
	a := p.Actions[0]
	require.Equal(t, "local-shell-cmd", a.RunnerName)
	require.Equal(t, "ping -c {{ count }} {{ host }}", a.Parameters["cmd"].Default)
	require.True(t, a.Parameters["cmd"].Immutable)
	require.Equal(t, "string", a.Parameters["cmd"].Type, "the runner's type stays")
	require.Contains(t, a.Parameters, "sudo")
	require.Equal(t, 60, a.Parameters["timeout"].Default)
}

// TestArgvSecretWarnings: a secret parameter that StackStorm's script
// convention puts on a command line is named in a warning; the runner's own
// secrets, other runners' secrets and attune's own runners are not.
func TestArgvSecretWarnings(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, map[string]string{
		"pack.yaml": "ref: ws\nversion: 1.0.0\n",
		"actions/login.yaml": `name: login
runner_type: local-shell-script
entry_point: login.sh
parameters:
  user: {type: string, position: 0}
  password: {type: string, secret: true, position: 1}
  token: {type: string, secret: true}
  sudo_password: {secret: true}
`,
		"actions/login.sh": "#!/bin/sh\n",
		"actions/cmd.yaml": `name: cmd
runner_type: local-shell-cmd
parameters:
  password: {type: string, secret: true}
`,
		"actions/own.yaml": `name: own
runner_type: shell
entry_point: login.sh
parameters:
  password: {type: string, secret: true}
`,
	})
	require.Len(t, p.Warnings, 2)
	require.Equal(t, "actions/login.yaml", p.Warnings[0].File)
	require.Equal(t, "parameters.password", p.Warnings[0].Field)
	require.Equal(t, "parameters.token", p.Warnings[1].Field)
	require.Contains(t, p.Warnings[1].String(), "secret parameter token is passed to the script on its command line, as local-shell-script does")
}
