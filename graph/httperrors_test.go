package graph

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithCodes(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct{ body, want string }{
		"not JSON":            {`transport not supported`, `transport not supported`},
		"no errors":           {`{"data":{"a":1}}`, `{"data":{"a":1}}`},
		"coded already":       {`{"errors":[{"message":"x","extensions":{"code":"NOT_FOUND"}}],"data":null}`, ``},
		"no extensions":       {`{"errors":[{"message":"GET requests only allow query operations"}],"data":null}`, `{"errors":[{"message":"GET requests only allow query operations","extensions":{"code":"BAD_USER_INPUT"}}],"data":null}`},
		"extensions, no code": {`{"errors":[{"message":"x","extensions":{"field":"f"}},{"message":"y","extensions":{"code":"CONFLICT"}}]}`, `{"errors":[{"message":"x","extensions":{"field":"f","code":"BAD_USER_INPUT"}},{"message":"y","extensions":{"code":"CONFLICT"}}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := withCodes([]byte(tt.body), "BAD_USER_INPUT")
			if tt.want == "" {
				require.Equal(t, tt.body, string(got), "left as it is")
				return
			}
			if json.Valid([]byte(tt.want)) {
				require.JSONEq(t, tt.want, string(got))
			} else {
				require.Equal(t, tt.want, string(got))
			}
		})
	}
}
