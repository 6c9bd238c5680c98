package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ActionPolicy (StackStorm's and the API's "policy"; ent reserves the name
// Policy) is a guard rail on an action's executions (docs/policies.md): a
// concurrency limit (per action or per set of parameter values) that
// delays or cancels the runs over it, a rate limit, and retries of failed
// or timed-out runs. One policy may set several of them (the reference
// form); StackStorm's form sets one (policy_type). A policy names its
// action by ref, so it outlives a reinstall of the action's pack.
type ActionPolicy struct{ ent.Schema }

// Mixin of the ActionPolicy.
func (ActionPolicy) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ActionPolicy.
func (ActionPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("ref").Unique().Annotations(entgql.OrderField("REF")),
		field.String("pack_ref").Default("").Annotations(entgql.OrderField("PACK_REF")).
			Comment("Empty for policies created through the API without a pack."),
		field.Int("pack_id").Optional().Nillable(),
		field.String("description").Default(""),
		field.String("action_ref").Comment("The action whose executions the policy governs."),
		field.String("policy_type").Default("").
			Comment("StackStorm's policy_type (action.concurrency, action.concurrency.attr, action.retry) or empty for the reference form."),
		field.Bool("enabled").Default(true),
		field.Int("concurrency_threshold").Default(0).NonNegative().
			Comment("At most this many executions RUNNING at once (per attribute values when concurrency_attributes is set); 0: no limit."),
		field.Enum("concurrency_action").Values("DELAY", "CANCEL").Default("DELAY").
			Comment("What happens to an execution over the threshold: DELAYED until a slot frees, or CANCELED."),
		field.Strings("concurrency_attributes").Optional().
			Comment("Parameters whose values group executions for the threshold (action.concurrency.attr)."),
		field.Int("rate_limit_max").Default(0).NonNegative().
			Comment("At most this many executions started per window; 0: no limit."),
		field.Int("rate_limit_window_seconds").Default(0).NonNegative(),
		field.Strings("retry_on").Optional().Comment("FAILED and/or TIMEOUT: the outcomes that are retried."),
		field.Int("retry_max_count").Default(0).NonNegative().Comment("Retries of one execution at most; 0: none."),
		field.Int("retry_delay_seconds").Default(0).NonNegative(),
	}
}

// Edges of the ActionPolicy.
func (ActionPolicy) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("policies").Field("pack_id").Unique(),
	}
}

// Indexes of the ActionPolicy: every claim of a policed action reads its policies.
func (ActionPolicy) Indexes() []ent.Index {
	return []ent.Index{index.Fields("action_ref", "enabled")}
}

// Annotations of the ActionPolicy.
func (ActionPolicy) Annotations() []schema.Annotation { return gql() }

// Policy of the ActionPolicy: who may read it (privacy.go).
func (ActionPolicy) Policy() ent.Policy { return readPolicy }

// PolicyEventKinds are what a policy did to an execution.
var PolicyEventKinds = []string{"DELAYED", "RELEASED", "CANCELED", "RATE_LIMITED", "RETRIED"}

// PolicyEvent records what a policy did to an execution, for
// Execution.policyEvents.
type PolicyEvent struct{ ent.Schema }

// Fields of the PolicyEvent.
func (PolicyEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int("execution_id"),
		field.String("policy_ref"),
		field.Enum("kind").Values(PolicyEventKinds...),
		field.String("message").Default(""),
		field.Time("at"),
	}
}

// Edges of the PolicyEvent.
func (PolicyEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("execution", Execution.Type).Ref("policy_events").Field("execution_id").
			Unique().Required(),
	}
}

// Annotations of the PolicyEvent.
func (PolicyEvent) Annotations() []schema.Annotation { return gql() }

// Policy of the PolicyEvent: who may read it (privacy.go).
func (PolicyEvent) Policy() ent.Policy { return readPolicy }
