package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAllowlistFromJSON(t *testing.T) {
	t.Parallel()
	const doc = "query PackCount {\n  packs {\n    totalCount\n    __typename\n  }\n}"
	const other = "query Other {\n  actions {\n    totalCount\n  }\n}"
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{name: "list", in: `["{ packs { totalCount } }"]`,
			want: map[string]string{sha("{ packs { totalCount } }"): "{ packs { totalCount } }"}},
		{name: "empty list", in: ` [] `, want: map[string]string{}},
		{name: "manifest, default ids", in: `{"format":"apollo-persisted-query-manifest","version":1,"operations":[
			{"id":"` + sha(doc) + `","name":"PackCount","type":"query","body":"query PackCount {\n  packs {\n    totalCount\n    __typename\n  }\n}"}]}`,
			want: map[string]string{sha(doc): doc}},
		// createOperationId may choose ids of its own: the id and the
		// text's hash both find the operation.
		{name: "manifest, custom ids", in: `{"format":"apollo-persisted-query-manifest","version":1,"operations":[
			{"id":"pack-count","name":"PackCount","type":"query","body":"query PackCount {\n  packs {\n    totalCount\n    __typename\n  }\n}"},
			{"id":"other","name":"Other","type":"query","body":"query Other {\n  actions {\n    totalCount\n  }\n}"}]}`,
			want: map[string]string{"pack-count": doc, sha(doc): doc, "other": other, sha(other): other}},
		{name: "list of objects", in: `[{"body":"{ a }"}]`, err: "want a JSON list of documents"},
		{name: "other format", in: `{"format":"graphql-codegen","version":1,"operations":[]}`,
			err: `Apollo persisted-query manifest (format "apollo-persisted-query-manifest", version 1), got format "graphql-codegen" version 1`},
		{name: "other version", in: `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`,
			err: "got format \"apollo-persisted-query-manifest\" version 2"},
		{name: "no body", in: `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"x","name":"X"}]}`,
			err: `operations[0] ("X") has no body`},
		{name: "not JSON", in: `query { a }`, err: "want a JSON list of documents or an Apollo persisted-query manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AllowlistFromJSON([]byte(tt.in))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
