package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

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

// ManifestFormat is the format of the manifest Apollo's
// @apollo/generate-persisted-query-manifest writes
// (persisted-query-manifest.json).
const ManifestFormat = "apollo-persisted-query-manifest"

// manifest is that manifest, version 1: each operation's id is what
// Apollo's persisted-query link sends as sha256Hash (by default the
// SHA-256 of body; createOperationId may choose another).
type manifest struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	Operations []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Body string `json:"body"`
	} `json:"operations"`
}

// AllowlistFromJSON reads an allowlist in either of its forms: a JSON list
// of documents, or an Apollo persisted-query manifest, whose operations
// are accepted by their id and by the SHA-256 of their body (the same
// text sent as a query).
func AllowlistFromJSON(b []byte) (map[string]string, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var docs []string
		if err := json.Unmarshal(b, &docs); err != nil {
			return nil, fmt.Errorf("want a JSON list of documents: %w", err)
		}
		return AllowlistFromDocuments(docs), nil
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("want a JSON list of documents or an Apollo persisted-query manifest: %w", err)
	}
	if m.Format != ManifestFormat || m.Version != 1 {
		return nil, fmt.Errorf("want a JSON list of documents or an Apollo persisted-query manifest (format %q, version 1), got format %q version %d",
			ManifestFormat, m.Format, m.Version)
	}
	docs := make([]string, 0, len(m.Operations))
	for i, op := range m.Operations {
		if op.Body == "" {
			return nil, fmt.Errorf("operations[%d] (%q) has no body", i, op.Name)
		}
		docs = append(docs, op.Body)
	}
	out := AllowlistFromDocuments(docs)
	for _, op := range m.Operations {
		if op.ID != "" {
			out[op.ID] = op.Body
		}
	}
	return out, nil
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
