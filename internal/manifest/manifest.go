// Package manifest parses and validates a pack directory (pack.yaml plus the YAML files of its
// actions, triggers, sensors, rules and workflows) into plain Go values. It is a pure core: it
// reads only through the fs.FS it is given, so installation code can hand it an unpacked
// archive, a git checkout or an in-memory tree, and tests can use fstest.MapFS. It accepts the
// Attune spellings and the common StackStorm ones, and reports every problem at once with its
// file and line.
package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/textlimit"
)

// PackFile is the manifest at the root of every pack; FindRoot looks for it.
const PackFile = "pack.yaml"

// ConfigSchemaFile is StackStorm's schema of the pack's config, at the pack root.
const ConfigSchemaFile = "config.schema.yaml"

// Other well-known names inside a pack.
const (
	actionsDir       = "actions"
	sensorsDir       = "sensors"
	requirementsFile = "requirements.txt"
	packageJSONFile  = "package.json"
	wheelsDir        = "wheels"
)

// Pack is a parsed pack.yaml plus every component the pack defines; registration projects it
// into database rows and the worker reads it to build per-pack environments.
type Pack struct {
	Ref          string
	Label        string
	Description  string
	Version      string
	Author       string
	Email        string
	Tags         []string
	Dependencies []string // refs of other packs
	RuntimeDeps  []string
	ConfigSchema param.Schema
	Config       map[string]any // default config values; nil when absent
	Meta         map[string]any // free-form metadata; nil when absent
	Actions      []Action
	Triggers     []Trigger
	Sensors      []Sensor
	Rules        []Rule
	Workflows    []Workflow
	Policies     []Policy
	// HasRequirements reports a requirements.txt, so the worker builds a virtualenv.
	HasRequirements bool
	// HasPackageJSON reports a package.json, so the worker installs node_modules.
	HasPackageJSON bool
	// HasWheelhouse reports a wheels/ directory for offline pip installs.
	HasWheelhouse bool
	// Warnings are things that load and run but that an operator should
	// know, such as a secret parameter that StackStorm's convention puts on
	// a command line. They do not stop an install.
	Warnings []Problem
}

// Action is a runnable unit of a pack.
type Action struct {
	Ref         string
	Name        string
	Label       string
	Description string
	RunnerType  RunnerType
	// RunnerName is the runner_type as canonically spelled: attune's own ("shell",
	// "python", …, "workflow") or StackStorm's ("python-script", "local-shell-cmd", …),
	// which selects StackStorm's conventions for arguments and results.
	RunnerName string
	// EntryPoint is the script, binary or workflow file as a slash path relative to the pack
	// root (for example "actions/hello.py", "actions/workflows/deploy.yaml"); empty for local
	// actions. An attune workflow_file action's is its WorkflowFile.
	EntryPoint string
	// WorkflowFile is attune's workflow_file relative to the pack root; set only for attune's
	// workflow actions (RunnerName "workflow"), and equal to EntryPoint.
	WorkflowFile      string
	Parameters        param.Schema
	Output            param.Schema
	TimeoutSeconds    int // 0 means the worker's default
	Enabled           bool
	ParameterDelivery string // "stdin" (default) or "file"
	ParameterFormat   string // "json" (default), "dotenv" or "yaml"
	OutputFormat      string // "text" (default), "json", "yaml" or "jsonl"
	Tags              []string
	// Idempotent says a run may be started again from scratch: one that a
	// server shutdown interrupts goes back to the queue instead of ending
	// CANCELED.
	Idempotent bool
	// Notify is StackStorm's notify settings (on-complete, on-success, on-failure, each
	// {message, data, routes}), carried through unparsed.
	Notify map[string]any
	File   string // defining YAML file, relative to the pack root
}

// Trigger is an event type that sensors and webhooks emit and rules subscribe to.
type Trigger struct {
	Ref         string
	Name        string
	Label       string
	Description string
	Type        string       // informational: interval, cron, webhook, custom…
	Parameters  param.Schema // schema of a rule's trigger_params
	Payload     param.Schema // schema of the event payload
	Webhook     bool
	Enabled     bool
	File        string
}

// Sensor is a long-running process that watches something and emits trigger events.
type Sensor struct {
	Ref         string
	Name        string
	Label       string
	Description string
	RunnerType  RunnerType
	RunnerName  string // as for Action.RunnerName
	EntryPoint  string // relative to the pack root, like Action.EntryPoint
	// ClassName is a StackStorm Python sensor's class (st2reactor Sensor or
	// PollingSensor), which attune's wrapper runs; empty for attune's own.
	ClassName string
	// PollInterval is a StackStorm PollingSensor's seconds between polls
	// (0: the class's default).
	PollInterval int
	TriggerTypes []string // qualified refs of the triggers the sensor emits
	Parameters   param.Schema
	Config       map[string]any
	Enabled      bool
	File         string
	triggerLine  int // line of trigger_types, for CheckRefs
}

// Rule connects a trigger to an action: when an event matches Criteria, the action runs
// with ActionParams. Criteria and parameter templates are carried through unparsed.
type Rule struct {
	Ref           string
	Name          string
	Label         string
	Description   string
	TriggerRef    string // qualified
	ActionRef     string // qualified
	Criteria      map[string]any
	ActionParams  map[string]any
	TriggerParams map[string]any
	Enabled       bool
	// StackStorm is set for a rule written in StackStorm's form, its
	// parameters under action.parameters: they are Jinja templates.
	StackStorm  bool
	File        string
	triggerLine int // lines of the trigger and action keys, for CheckRefs
	actionLine  int
}

// Workflow is a standalone workflow definition from workflows/; Definition is the whole
// document, interpreted by the workflow engine.
type Workflow struct {
	Ref         string
	Name        string
	Label       string
	Description string
	Definition  map[string]any
	File        string
}

// Kind names the component kinds a rule or sensor can reference, for CheckRefs.
type Kind string

// Kinds understood by CheckRefs.
const (
	KindTrigger Kind = "trigger"
	KindAction  Kind = "action"
)

// DefaultMaxFileBytes is the size limit of each YAML file of a pack when Options gives none:
// decoded, a YAML file takes several times its size in memory.
const DefaultMaxFileBytes = 1 << 20

// Options bound what Load reads.
type Options struct {
	// MaxFileBytes caps each YAML file, checked before decoding; 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64
}

// loader carries state while one pack is parsed.
type loader struct {
	fsys   fs.FS
	max    int64 // bytes of one YAML file
	pack   *Pack
	packOK bool // the pack ref is valid, so ownership checks mean something
	probs  problems
	seen   map[string]string // kind and ref → file that defined it
}

// Load parses and validates the pack whose pack.yaml is at the root of fsys (use FindRoot and
// fs.Sub for archives and repositories). Component YAML files are read from actions/,
// triggers/, sensors/, rules/ and workflows/; other files there (scripts) are ignored. On any
// problem it returns a *ValidationError listing all of them, and no pack; the error is never
// of another type, since unreadable files are reported as problems too.
func Load(fsys fs.FS) (*Pack, error) {
	return LoadWith(fsys, Options{})
}

// LoadWith is Load within opts' bounds: a YAML file over MaxFileBytes is a problem of its
// own, reported without reading the file.
func LoadWith(fsys fs.FS, opts Options) (*Pack, error) {
	p, err := LoadAll(fsys, opts)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// LoadAll is LoadWith that also returns what it could parse of an invalid pack (nil only
// when pack.yaml itself is unreadable), so a caller can add the checks that need the
// database and report every problem of every file in one error.
func LoadAll(fsys fs.FS, opts Options) (*Pack, error) {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	l := &loader{fsys: fsys, max: opts.MaxFileBytes, seen: map[string]string{}}
	d := readDoc(fsys, PackFile, l.max, &l.probs)
	if d == nil {
		return nil, l.probs.err()
	}
	l.parsePack(d)
	l.configSchema()
	l.each("triggers", func(d *doc) { l.trigger(d) })
	l.each(actionsDir, l.action)
	l.each(sensorsDir, l.sensor)
	l.each("rules", l.rule)
	l.each("workflows", l.workflow)
	l.each("policies", l.policy)
	l.pack.HasRequirements = l.isRegular(requirementsFile)
	l.pack.HasPackageJSON = l.isRegular(packageJSONFile)
	info, err := fs.Lstat(fsys, wheelsDir)
	l.pack.HasWheelhouse = err == nil && info.IsDir()
	return l.pack, l.probs.err()
}

// configSchema reads config.schema.yaml, StackStorm's flat schema of the pack's config
// (type, required, default, secret, nested properties), which takes the place of a
// conf_schema in pack.yaml.
func (l *loader) configSchema() {
	if _, err := fs.Lstat(l.fsys, ConfigSchemaFile); errors.Is(err, fs.ErrNotExist) {
		return
	}
	d := readDoc(l.fsys, ConfigSchemaFile, l.max, &l.probs)
	if d == nil {
		return
	}
	s, err := param.ParseSchema(d.m)
	if err != nil {
		perr, ok := errors.AsType[*param.Error](err)
		if !ok {
			d.problem("", "%v", err)
			return
		}
		for _, fe := range perr.Fields {
			line := 0
			if n := paramNode(d.node, strings.SplitN(fe.Field, ".", 2)[0]); n != nil {
				line = n.Line
			}
			d.probs.add(d.file, line, fe.Field, "%s", fe.Message)
		}
		return
	}
	if len(l.pack.ConfigSchema) > 0 {
		d.problem("", "the config schema is given twice: drop conf_schema from %s or this file", PackFile)
		return
	}
	l.pack.ConfigSchema = s
}

// isRegular reports whether name is a regular file.
func (l *loader) isRegular(name string) bool {
	info, err := fs.Lstat(l.fsys, name)
	return err == nil && info.Mode().IsRegular()
}

// each parses every *.yaml and *.yml file directly inside dir; a missing dir is fine.
func (l *loader) each(dir string, parse func(*doc)) {
	entries, err := fs.ReadDir(l.fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		l.probs.add(dir, 0, "", "cannot read directory: %v", err)
		return
	}
	for _, e := range entries {
		if ext := path.Ext(e.Name()); e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		if d := readDoc(l.fsys, path.Join(dir, e.Name()), l.max, &l.probs); d != nil {
			parse(d)
		}
	}
}

// parsePack reads pack.yaml. `name`, `config_schema`, `metadata` and `keywords` are
// accepted as aliases of `label`, `conf_schema`, `meta` and `tags`; a ref-like `name`
// stands in for a missing `ref`, as in StackStorm.
func (l *loader) parsePack(d *doc) {
	p := &Pack{}
	l.pack = p
	ref, refKey, name := d.str("ref"), "ref", d.str("name")
	if ref == "" && packRefPattern.MatchString(name) {
		ref, refKey, name = name, "name", ""
	}
	switch {
	case ref == "":
		d.problem("ref", "is required")
	case !packRefPattern.MatchString(ref):
		d.problem(refKey, "%q must match %s (lower-case, no dots)", ref, packRefPattern)
	default:
		l.packOK = true
	}
	p.Ref = ref
	p.Label = cmp.Or(d.str("label"), name, ref)
	p.Description = d.str("description")
	p.Version = packVersion(d)
	p.Author = d.str("author")
	p.Email = d.str("email")
	p.Tags = d.strs("tags", "keywords")
	p.Dependencies = d.strs("dependencies")
	p.RuntimeDeps = d.strs("runtime_deps")
	p.ConfigSchema = d.schema("conf_schema", "config_schema")
	p.Config = d.mapping("config")
	p.Meta = d.mapping("meta", "metadata")
}

// packVersion reads the required semver version, explaining the common mistake of an
// unquoted YAML number such as 1.0.
func packVersion(d *doc) string {
	switch v := d.m["version"].(type) {
	case nil:
		d.problem("version", `is required (a semver string such as "1.0.0")`)
	case string:
		if msg := textlimit.Check(len(v), textlimit.NameBytes); msg != "" {
			d.problem("version", "%s", msg)
			return ""
		}
		if !semver.MatchString(v) {
			d.problem("version", "%q is not a semver version X.Y.Z[-prerelease][+build]", v)
		}
		return v
	case int, float64:
		d.problem("version", `must be a semver string such as "1.0.0"; YAML reads %s as a number`, valueNode(d.node, "version").Value)
	default:
		d.problem("version", `must be a semver string such as "1.0.0"`)
	}
	return ""
}

// unique records ref of kind as defined by d, reporting a duplicate.
func (l *loader) unique(d *doc, kind string, h header) {
	key := kind + " " + h.ref
	if first, ok := l.seen[key]; ok {
		d.problem(h.refKey, "duplicate %s ref %q (also defined in %s)", kind, h.ref, first)
		return
	}
	l.seen[key] = d.file
}

// CheckRefs looks for what a pack names but neither defines nor finds installed (known says
// what is; it may be nil when nothing else is). A sensor's trigger type must exist: that is a
// problem, returned in a *ValidationError. A rule's trigger or action may come with a pack
// installed later, as StackStorm allows: each such ref is a warning, and the rule is stored
// with its ref and no edge until that pack arrives.
func (p *Pack) CheckRefs(known func(kind Kind, ref string) bool) (warnings []Problem, err error) {
	own := map[Kind]map[string]bool{KindTrigger: {}, KindAction: {}}
	for _, t := range p.Triggers {
		own[KindTrigger][t.Ref] = true
	}
	for _, a := range p.Actions {
		own[KindAction][a.Ref] = true
	}
	missing := func(kind Kind, ref string) bool {
		return ref != "" && !own[kind][ref] && (known == nil || !known(kind, ref))
	}
	for _, r := range p.Rules {
		if missing(KindTrigger, r.TriggerRef) {
			warnings = append(warnings, Problem{File: r.File, Line: r.triggerLine, Field: "trigger_ref", Message: fmt.Sprintf(
				"trigger %q is not installed; the rule is stored and its enforcements are SKIPPED until a pack defining it is installed", r.TriggerRef)})
		}
		if missing(KindAction, r.ActionRef) {
			warnings = append(warnings, Problem{File: r.File, Line: r.actionLine, Field: "action_ref", Message: fmt.Sprintf(
				"action %q is not installed; the rule is stored and its enforcements are SKIPPED until a pack defining it is installed", r.ActionRef)})
		}
	}
	var probs problems
	for _, s := range p.Sensors {
		for _, ref := range s.TriggerTypes {
			if missing(KindTrigger, ref) {
				probs.add(s.File, s.triggerLine, "trigger_types", "trigger %q is neither defined in this pack nor installed", ref)
			}
		}
	}
	return warnings, probs.err()
}
