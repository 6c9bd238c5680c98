package schema

import (
	"context"
	"slices"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/attune-io/attune/ent/intercept"
)

// Roles, from most to least powerful.
var Roles = []string{"ADMIN", "EDITOR", "OPERATOR", "VIEWER"}

// MetricsRole is a token's role outside Roles: it may scrape /metrics and
// nothing else (it ranks below VIEWER and reads no row).
const MetricsRole = "METRICS"

// APIToken authenticates a client. Only a hash of the token is stored; the
// token itself is shown once, at creation.
type APIToken struct{ ent.Schema }

// Mixin of the APIToken.
func (APIToken) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the APIToken.
func (APIToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Annotations(entgql.OrderField("NAME")),
		field.String("token_hash").Unique().Sensitive().Annotations(entgql.Skip()),
		field.String("prefix").Comment("First characters of the token, to recognise it."),
		field.Enum("role").Values(append(slices.Clone(Roles), MetricsRole)...),
		field.Strings("packs").Optional().
			Comment("When set, the token sees and acts on these packs only."),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Int("execution_id").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("Set on the token minted for one run of a StackStorm Python action: it reaches only the key/value store of its pack, and ends with the run."),
	}
}

// Annotations of the APIToken.
func (APIToken) Annotations() []schema.Annotation { return gql() }

// Key is an entry of the key/value store. Secret values are stored only
// encrypted (AES-256-GCM) and never returned except to an admin asking for
// the plaintext.
type Key struct{ ent.Schema }

// Mixin of the Key.
func (Key) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Key.
func (Key) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Annotations(entgql.OrderField("NAME")),
		field.String("pack_ref").Default("").Comment("Empty for a system-wide key."),
		field.String("user").Default("").
			Comment("The identity owning a user-scoped key (StackStorm's st2kv.user scope); empty for a system key."),
		field.Bool("secret").Default(false),
		field.JSON("value", new(any)).Optional().Annotations(entgql.Skip()).
			Comment("Plain value of a non-secret key."),
		field.Text("ciphertext").Default("").Sensitive().Annotations(entgql.Skip()).
			Comment("base64(nonce || AES-256-GCM(value JSON)) of a secret key."),
		field.Time("expires_at").Optional().Nillable().
			Comment("When the key stops existing (a TTL given when it was set); never when null. An expired key is invisible to every read and is replaced by the next set."),
	}
}

// Interceptors of the Key: an expired key is not there, whoever reads it
// (the API, templates, actions).
func (Key) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{
		intercept.TraverseFunc(func(ctx context.Context, q intercept.Query) error {
			q.WhereP(func(s *sql.Selector) {
				s.Where(sql.Or(sql.IsNull(s.C("expires_at")), sql.GT(s.C("expires_at"), time.Now())))
			})
			return nil
		}),
	}
}

// Indexes of the Key.
func (Key) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user", "pack_ref", "name").Unique(), index.Fields("expires_at")}
}

// Annotations of the Key.
func (Key) Annotations() []schema.Annotation { return gql() }

// AuditEvent records one mutation: who, what, with which (redacted)
// variables, and how it ended.
type AuditEvent struct{ ent.Schema }

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.String("actor").Comment("Token name, or anonymous when auth is off."),
		field.Int("actor_token_id").Optional().Nillable(),
		field.String("role").Default(""),
		field.String("operation").Comment("The mutation field, e.g. installPack."),
		field.String("operation_name").Default(""),
		field.JSON("variables", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.Enum("outcome").Values("OK", "ERROR"),
		field.String("error_code").Default(""),
		field.String("pack_ref").Default("").
			Comment("The pack the mutation concerned, empty for none: pack-limited tokens read their packs' entries."),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at"), index.Fields("operation")}
}

// Annotations of the AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation { return gql() }

// Policy of the APIToken: who may read it (privacy.go).
func (APIToken) Policy() ent.Policy { return readPolicy }

// Policy of the Key: who may read it (privacy.go).
func (Key) Policy() ent.Policy { return readPolicy }

// Policy of the AuditEvent: who may read it (privacy.go).
func (AuditEvent) Policy() ent.Policy { return readPolicy }
