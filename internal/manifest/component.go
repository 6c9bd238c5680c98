package manifest

import (
	"fmt"
	"io/fs"
	"path"
)

// trigger parses a trigger definition (a file in triggers/ or a StackStorm sensor's inline
// trigger type) and returns its ref.
func (l *loader) trigger(d *doc) string {
	h := l.triggerHeader(d)
	l.unique(d, "trigger", h)
	t := Trigger{
		Ref: h.ref, Name: h.name, Label: h.label, Description: h.description,
		Type:       d.str("type"),
		Parameters: d.schema("parameters", "parameters_schema"),
		Payload:    d.schema("output", "payload_schema", "payload"),
		Enabled:    d.boolean(true, "enabled"),
		File:       d.file,
	}
	t.Webhook = d.boolean(t.Type == "webhook", "webhook")
	l.pack.Triggers = append(l.pack.Triggers, t)
	return t.Ref
}

// action parses a file in actions/.
func (l *loader) action(d *doc) {
	h := l.header(d)
	l.unique(d, "action", h)
	a := Action{
		Ref: h.ref, Name: h.name, Label: h.label, Description: h.description,
		Parameters:        d.schema("parameters", "parameters_schema"),
		Output:            d.schema("output", "output_schema"),
		TimeoutSeconds:    d.count("timeout_seconds", "timeout"),
		Enabled:           d.boolean(true, "enabled"),
		ParameterDelivery: d.choice("parameter_delivery", "stdin", "file"),
		ParameterFormat:   d.choice("parameter_format", "json", "dotenv", "yaml"),
		OutputFormat:      d.choice("output_format", "text", "json", "yaml", "jsonl"),
		Tags:              d.strs("tags"),
		Idempotent:        d.boolean(false, "idempotent"),
		Notify:            d.mapping("notify"),
		File:              d.file,
	}
	switch {
	case d.m["workflow_file"] != nil:
		a.RunnerType, a.RunnerName, a.WorkflowFile = RunnerWorkflow, "workflow", l.packPath(d, "workflow_file", actionsDir)
		// The engine finds every workflow action's file at its entry point, as for
		// orquesta and action-chain actions.
		a.EntryPoint = a.WorkflowFile
	default:
		a.RunnerType, a.RunnerName = runnerType(d)
		if NeedsEntryPoint(a.RunnerType, a.RunnerName) {
			a.EntryPoint = l.packPath(d, "entry_point", actionsDir)
		} else if _, ok := a.Parameters["cmd"]; a.RunnerName == "local" && len(a.Parameters) > 0 && !ok {
			d.problem("parameters", "the local runner runs the cmd parameter, which is not declared")
		}
		a.Parameters = mergeRunnerParameters(RunnerParameters(a.RunnerName), a.Parameters, rawParameters(d))
		for _, name := range ArgvSecrets(a.RunnerName, a.Parameters) {
			l.pack.Warnings = append(l.pack.Warnings, Problem{
				File: d.file, Line: d.line("parameters"), Field: "parameters." + name,
				Message: fmt.Sprintf("secret parameter %s is passed to the script on its command line, as %s does, "+
					"where any local user can read it (ps); read the secret in the script from the key/value store, "+
					"or use attune's shell runner, which passes parameters on stdin", name, a.RunnerName),
			})
		}
	}
	l.pack.Actions = append(l.pack.Actions, a)
}

// sensor parses a file in sensors/.
func (l *loader) sensor(d *doc) {
	h := l.header(d)
	l.unique(d, "sensor", h)
	s := Sensor{
		Ref: h.ref, Name: h.name, Label: h.label, Description: h.description,
		TriggerTypes: l.triggerTypes(d),
		Parameters:   d.schema("parameters", "parameters_schema"),
		Config:       d.mapping("config"),
		Enabled:      d.boolean(true, "enabled"),
		File:         d.file,
		triggerLine:  d.line("trigger_types"),
	}
	s.RunnerType, s.RunnerName = runnerType(d)
	s.ClassName = d.str("class_name")
	if s.ClassName != "" && d.str("runner_type") == "" {
		// StackStorm's sensors name no runner: a class in a .py file.
		s.RunnerType, s.RunnerName = RunnerPython, "python"
	}
	switch {
	case s.ClassName != "" && s.RunnerType == RunnerPython:
		s.PollInterval = d.count("poll_interval")
	default:
		// Only Python sensors are classes; a shell or node sensor is its
		// process, whatever class it names.
		s.ClassName = ""
	}
	switch s.RunnerType {
	case RunnerShell, RunnerPython, RunnerNode, RunnerNative:
		s.EntryPoint = l.packPath(d, "entry_point", sensorsDir)
	case RunnerLocal:
		d.problem("runner_type", "sensors cannot use the local runner; give an entry_point and another runner type")
	default:
		d.problem("runner_type", "sensors run as shell, python, node or native processes, not %s", s.RunnerName)
	}
	l.pack.Sensors = append(l.pack.Sensors, s)
}

// triggerTypes reads a sensor's trigger_types: refs (unqualified ones get the pack prefix) or
// StackStorm inline definitions, which become triggers of the pack.
func (l *loader) triggerTypes(d *doc) []string {
	v := d.m["trigger_types"]
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.problem("trigger_types", "must be a list of trigger refs")
		return nil
	}
	refs := make([]string, 0, len(list))
	for i, item := range list {
		switch t := item.(type) {
		case string:
			refs = append(refs, l.qualify(t))
		case map[string]any:
			if t["name"] == nil && t["ref"] == nil {
				d.problem("trigger_types", "item %d defines a trigger without a name", i+1)
				continue
			}
			refs = append(refs, l.trigger(d.sub("trigger_types", i, t)))
		default:
			d.problem("trigger_types", "item %d must be a trigger ref or an inline trigger definition", i+1)
		}
	}
	return refs
}

// rule parses a file in rules/.
func (l *loader) rule(d *doc) {
	h := l.header(d)
	l.unique(d, "rule", h)
	r := Rule{
		Ref: h.ref, Name: h.name, Label: h.label, Description: h.description,
		Criteria:      d.mapping("criteria", "conditions"),
		ActionParams:  d.mapping("action_params"),
		TriggerParams: d.mapping("trigger_params"),
		Enabled:       d.boolean(true, "enabled"),
		File:          d.file,
	}
	var triggerParams, actionParams map[string]any
	r.TriggerRef, triggerParams, r.triggerLine = l.target(d, "trigger_ref", "trigger")
	r.ActionRef, actionParams, r.actionLine = l.target(d, "action_ref", "action")
	if r.TriggerParams == nil {
		r.TriggerParams = triggerParams
	}
	if r.ActionParams == nil {
		r.ActionParams = actionParams
		r.StackStorm = actionParams != nil
	}
	l.pack.Rules = append(l.pack.Rules, r)
}

// target reads the trigger or action a rule names, as `<refKey>: ref`, or in StackStorm
// form as `<objKey>: ref` or `<objKey>: {ref|type: ref, parameters: {…}}`. It returns the
// qualified ref, any inline parameters and the line of the key.
func (l *loader) target(d *doc, refKey, objKey string) (string, map[string]any, int) {
	k, v := d.get(refKey, objKey)
	var ref string
	var params map[string]any
	switch t := v.(type) {
	case string:
		ref = t
	case map[string]any:
		ref, _ = t["ref"].(string)
		if ref == "" {
			ref, _ = t["type"].(string)
		}
		params, _ = t["parameters"].(map[string]any)
		if t["parameters"] != nil && params == nil {
			d.problem(k, "parameters must be a mapping")
		}
	case nil:
	default:
		d.problem(k, "must be a ref")
		return "", nil, d.line(k)
	}
	if ref == "" {
		d.problem(k, "is required: name the %s by ref", objKey)
	}
	return l.qualify(ref), params, d.line(k)
}

// workflow parses a file in workflows/.
func (l *loader) workflow(d *doc) {
	h := l.header(d)
	l.unique(d, "workflow", h)
	l.pack.Workflows = append(l.pack.Workflows, Workflow{
		Ref: h.ref, Name: h.name, Label: h.label, Description: h.description,
		Definition: d.m,
		File:       d.file,
	})
}

// runnerType reads runner_type, defaulting to shell, and returns its family and name.
func runnerType(d *doc) (RunnerType, string) {
	s := d.str("runner_type")
	if s == "" {
		return RunnerShell, "shell"
	}
	rt, name, err := ParseRunnerType(s)
	if err != nil {
		d.problem("runner_type", "%v", err)
		return RunnerShell, "shell"
	}
	return rt, name
}

// rawParameters returns the parameters mapping as written (the properties of a JSON Schema
// form), so a merge can tell which attributes the action set itself.
func rawParameters(d *doc) map[string]any {
	for _, key := range []string{"parameters", "parameters_schema"} {
		m, _ := d.m[key].(map[string]any)
		if m == nil {
			continue
		}
		if props, ok := m["properties"].(map[string]any); ok {
			return props
		}
		return m
	}
	return nil
}

// packPath resolves the file named by key relative to dir (the component's directory) and
// checks that it is a regular file inside the pack, returning it relative to the pack root.
func (l *loader) packPath(d *doc, key, dir string) string {
	rel := d.str(key)
	if rel == "" {
		d.problem(key, "is required")
		return ""
	}
	p := path.Join(dir, rel)
	switch info, err := fs.Lstat(l.fsys, p); {
	case path.IsAbs(rel):
		d.problem(key, "must be a path relative to %s/, not an absolute path", dir)
	case !fs.ValidPath(p):
		d.problem(key, "%q leaves the pack", rel)
	case err != nil:
		d.problem(key, "%s not found (%s is relative to %s/)", p, key, dir)
	case !info.Mode().IsRegular():
		d.problem(key, "%s must be a regular file, not a directory or symlink", p)
	default:
		return p
	}
	return ""
}
