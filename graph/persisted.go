package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// persistedOnly accepts only operations from an allowlist of documents,
// keyed by their SHA-256 (the hash Apollo's persisted-query link sends).
// A client may send the hash alone or the hash with its document; a
// document outside the list is refused whatever it is.
type persistedOnly struct{ allow map[string]string }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = persistedOnly{}

func (persistedOnly) ExtensionName() string                   { return "PersistedQueriesOnly" }
func (persistedOnly) Validate(graphql.ExecutableSchema) error { return nil }

func (p persistedOnly) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	hash := ""
	if ext, ok := raw.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = ext["sha256Hash"].(string)
	}
	if hash == "" && raw.Query != "" {
		sum := sha256.Sum256([]byte(raw.Query))
		hash = hex.EncodeToString(sum[:])
	}
	doc, ok := p.allow[hash]
	if !ok {
		return &gqlerror.Error{
			Message:    "this server accepts only persisted queries from its allowlist",
			Extensions: map[string]any{"code": "PERSISTED_QUERY_NOT_ALLOWED"},
		}
	}
	raw.Query = doc
	return nil
}

// AllowlistFromDocuments keys documents by their SHA-256.
func AllowlistFromDocuments(docs []string) map[string]string {
	out := make(map[string]string, len(docs))
	for _, d := range docs {
		sum := sha256.Sum256([]byte(d))
		out[hex.EncodeToString(sum[:])] = d
	}
	return out
}
