package schema

import (
	"encoding/json"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ExecutionStatuses is the status machine's vocabulary; internal/execution
// is its only writer.
var ExecutionStatuses = []string{
	"REQUESTED", "SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED",
	"TIMEOUT", "CANCELING", "CANCELED", "ABANDONED",
	// A workflow being paused (its running tasks finish, no new one
	// starts), then paused; PENDING waits for a person (an inquiry).
	"PAUSING", "PAUSED", "PENDING",
	"DELAYED",
}

// Execution is one run of an action. It is history: it keeps action_ref
// after the action is deleted.
type Execution struct{ ent.Schema }

// Mixin of the Execution.
func (Execution) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Execution.
func (Execution) Fields() []ent.Field {
	return []ent.Field{
		field.Int("action_id").Optional().Nillable(),
		field.String("action_ref").Annotations(entgql.OrderField("ACTION_REF")),
		field.String("pack_ref").Default(""),
		field.Int("parent_id").Optional().Nillable(),
		field.Int("enforcement_id").Optional().Nillable(),
		field.Enum("status").Values(ExecutionStatuses...).Default("REQUESTED").
			Annotations(entgql.OrderField("STATUS")),
		field.JSON("parameters", map[string]any{}).Optional().Annotations(entgql.Type("JSON")).
			Comment("Parameters as given, secrets redacted."),
		field.JSON("result", json.RawMessage{}).Optional().Annotations(entgql.Type("JSON")),
		field.Text("stdout").Default(""),
		field.Text("stderr").Default(""),
		field.Bool("stdout_truncated").Default(false),
		field.Bool("stderr_truncated").Default(false),
		field.Int64("stdout_dropped").Default(0).Comment("Bytes of stdout dropped beyond the capture limit."),
		field.Int64("stderr_dropped").Default(0).Comment("Bytes of stderr dropped beyond the capture limit."),
		field.Int("exit_code").Optional().Nillable(),
		field.Text("error").Default(""),
		field.Time("requested_at").Default(time.Now).Annotations(entgql.OrderField("REQUESTED_AT")),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.Int("timeout_seconds").Default(0),
		field.Int("attempt").Default(0),
		field.String("worker").Default("").Comment("Identity of the worker that ran it."),
		field.String("task_name").Default("").
			Comment("The workflow task this child execution runs; empty outside workflows."),
		field.Int("task_item").Optional().Nillable().
			Comment("The with-items index this child runs."),
		field.Int("task_run").Default(0).Annotations(entgql.Skip()).
			Comment("Which run of its task (the engine's task-run number) this child belongs to."),
		field.Bool("task_reported").Default(false).Annotations(entgql.Skip()).
			Comment("Set once its workflow took this child's end into account."),
		field.String("pack_checksum").Default("").Annotations(entgql.Skip()).
			Comment("Checksum of the pack version current when it was requested: the version it runs (see pack_files)."),
		field.Int("retry_of_id").Optional().Nillable().
			Comment("The execution an action.retry policy retried with this one."),
		field.Int("retry_attempt").Default(0).Comment("1 for the first retry of an execution, 2 for the retry of that one…"),
		field.Int("rerun_of_id").Optional().Nillable().Comment("The execution rerunExecution ran again."),
		field.String("requested_by").Default("").
			Comment("Who asked for it: the API token's name (executeAction, rerunExecution, the CLI), \"system\" for a rule's enforcement; a workflow's tasks and a policy's retries keep their origin's. Templates read it as action_context.user and st2kv.user."),
	}
}

// Edges of the Execution.
func (Execution) Edges() []ent.Edge {
	return append([]ent.Edge{
		edge.From("action", Action.Type).Ref("executions").Field("action_id").Unique(),
		edge.To("children", Execution.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()).
			From("parent").Field("parent_id").Unique(),
		edge.From("enforcement", Enforcement.Type).Ref("executions").
			Field("enforcement_id").Unique(),
		edge.To("workflow_executions", WorkflowExecution.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.RelayConnection()),
		edge.To("output", ExecutionOutput.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("secret", ExecutionSecret.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("retries", Execution.Type).Annotations(entsql.OnDelete(entsql.SetNull)).
			From("retry_of").Field("retry_of_id").Unique(),
		edge.To("reruns", Execution.Type).Annotations(entsql.OnDelete(entsql.SetNull)).
			From("rerun_of").Field("rerun_of_id").Unique(),
		edge.To("policy_events", PolicyEvent.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}, inquiryEdges()...)
}

// Indexes of the Execution.
func (Execution) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status"),
		index.Fields("action_ref", "requested_at"),
		// The default order of executions(…): newest first, id breaking ties.
		index.Fields("requested_at", "id"),
		index.Fields("worker", "status"),
		// The workflow engine's look for finished children it has not taken in.
		index.Fields("parent_id", "task_reported"),
	}
}

// Annotations of the Execution.
func (Execution) Annotations() []schema.Annotation { return gql() }

// Policy of the Execution: who may read it (privacy.go).
func (Execution) Policy() ent.Policy { return readPolicy }
