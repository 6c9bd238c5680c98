package rule

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckSecretFlow(t *testing.T) {
	t.Parallel()
	secret := func(p string) bool { return p == "password" }
	roots := []string{"keystore.db_password", "st2kv.system.db_password"}
	cases := []struct {
		name string
		refs map[string][]string
		bad  string
	}{
		{"IntoSecret", map[string][]string{"password": {"keystore.db_password"}}, ""},
		{"IntoPlain", map[string][]string{"message": {"trigger.x", "keystore.db_password"}}, "message"},
		{"St2kvIntoPlain", map[string][]string{"message": {"st2kv.system.db_password"}}, "message"},
		{"WholeNamespace", map[string][]string{"dump": {"keystore"}}, "dump"},
		{"OtherKey", map[string][]string{"message": {"keystore.region"}}, ""},
		{"PrefixOnlyByName", map[string][]string{"message": {"keystore.db_password_hint"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSecretFlow(tc.refs, roots, secret)
			if tc.bad == "" {
				require.NoError(t, err)
				return
			}
			var sf *SecretFlowError
			require.ErrorAs(t, err, &sf)
			require.Equal(t, tc.bad, sf.Param)
		})
	}
}
