package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// RunnerTypes are the runtimes an action or sensor runs in. They are a Go
// enum rather than rows: the set is fixed by the worker's code. WORKFLOW
// actions run a workflow graph instead of a process; HTTP, NOOP, REMOTE,
// ANNOUNCEMENT, INQUIRY and WINRM are StackStorm runner families the worker
// runs itself. runner_name keeps the exact runner (python-script, …).
var RunnerTypes = []string{"SHELL", "PYTHON", "NODE", "NATIVE", "LOCAL", "WORKFLOW",
	"HTTP", "NOOP", "REMOTE", "ANNOUNCEMENT", "INQUIRY", "WINRM"}

// Action is a runnable unit of a pack.
type Action struct{ ent.Schema }

// Mixin of the Action.
func (Action) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Action.
func (Action) Fields() []ent.Field {
	return append(componentFields(),
		field.Int("pack_id"),
		field.Enum("runner_type").Values(RunnerTypes...).Default("SHELL"),
		field.String("runner_name").Default("").
			Comment("The runner_type as the pack wrote it, canonically spelled: attune's own (shell, python, …) or StackStorm's (python-script, local-shell-cmd, http-request, …)."),
		field.String("entry_point").Default("").
			Comment("Path of the script relative to the pack directory."),
		field.JSON("parameters", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")).Comment("Parameter schema."),
		field.JSON("output_schema", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.Int("timeout_seconds").Default(0).NonNegative().
			Comment("0 means the server's default."),
		field.Enum("parameter_delivery").Values("STDIN", "FILE").Default("STDIN"),
		field.Bool("enabled").Default(true),
		field.Strings("tags").Optional(),
		field.Bool("idempotent").Default(false).
			Comment("Safe to run again from the start: a run interrupted by a server shutdown is handed back to the queue instead of CANCELED."),
		field.JSON("notify", map[string]any{}).Optional().Annotations(entgql.Skip()).
			Comment("StackStorm's notify settings: on-complete, on-success, on-failure, each {message, data, routes}; each route fires core.st2.generic.notifytrigger when a run ends."),
		field.Bool("has_policies").Default(false).Annotations(entgql.Skip()).
			Comment("An enabled policy names this action: its claims take the policed path (internal/execution/policy.go)."),
	)
}

// Edges of the Action.
func (Action) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("actions").Field("pack_id").Unique().Required(),
		edge.To("executions", Execution.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
		edge.To("rules", Rule.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Annotations of the Action.
func (Action) Annotations() []schema.Annotation { return gql() }

// Policy of the Action: who may read it (privacy.go).
func (Action) Policy() ent.Policy { return readPolicy }
