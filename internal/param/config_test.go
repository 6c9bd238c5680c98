package param

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// stackstormConfigSchema is a config.schema.yaml as StackStorm packs write them.
const stackstormConfigSchema = `
api_url: {type: string, default: "https://x", required: true}
api_key: {type: string, secret: true, required: true}
auth:
  type: object
  required: true
  properties:
    user: {type: string, required: true}
    password: {type: string, secret: true}
    realm: {type: string, default: corp}
    tls:
      type: object
      properties:
        verify: {type: boolean, default: true}
`

func configSchema(t *testing.T) Schema {
	t.Helper()
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(stackstormConfigSchema), &raw))
	s, err := ParseSchema(raw)
	require.NoError(t, err)
	return s
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()
	s := configSchema(t)
	out, err := s.ValidateConfig(map[string]any{"api_key": "k", "extra": 1, "auth": map[string]any{"user": "u"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"api_url": "https://x", "api_key": "k", "extra": 1,
		"auth": map[string]any{"user": "u", "realm": "corp", "tls": map[string]any{"verify": true}},
	}, out, "defaults at every level; fields the schema does not name are kept")

	_, err = s.ValidateConfig(map[string]any{"auth": map[string]any{"password": 3, "tls": map[string]any{"verify": "yes"}}})
	var pe *Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []FieldError{
		{Field: "api_key", Message: "is required"},
		{Field: "auth.password", Message: "must be a string"},
		{Field: "auth.tls.verify", Message: "must be a boolean"},
		{Field: "auth.user", Message: "is required"},
	}, pe.Fields)

	_, err = ParseSchema(map[string]any{"x": map[string]any{"type": "string", "properties": map[string]any{}}})
	require.ErrorContains(t, err, "properties only applies to type object")
}

func TestSecretsSplitAndMask(t *testing.T) {
	t.Parallel()
	s := configSchema(t)
	require.ElementsMatch(t, [][]string{{"api_key"}, {"auth", "password"}}, s.SecretPaths())
	config := map[string]any{"api_key": "k", "auth": map[string]any{"user": "u", "password": "p"}}
	plain, secrets := s.SplitSecrets(config)
	require.Equal(t, map[string]any{"auth": map[string]any{"user": "u"}}, plain)
	require.Equal(t, map[string]any{"api_key": "k", "auth": map[string]any{"password": "p"}}, secrets)
	require.Equal(t, "p", config["auth"].(map[string]any)["password"], "the input is not changed")
	require.Equal(t, config, MergeTrees(plain, secrets))
	require.Equal(t, map[string]any{"api_key": Redacted, "auth": map[string]any{"user": "u", "password": Redacted}}, s.MaskSecrets(config))
}

// TestKeepMaskedSecrets: a secret given as the mask keeps its current
// value; one given in clear replaces it; a mask with nothing behind it is
// reported.
func TestKeepMaskedSecrets(t *testing.T) {
	t.Parallel()
	sch := Schema{
		"key":  {Type: TypeString, Secret: true},
		"auth": {Type: TypeObject, Properties: Schema{"password": {Type: TypeString, Secret: true}, "user": {Type: TypeString}}},
		"new":  {Type: TypeString, Secret: true},
		"name": {Type: TypeString},
	}
	current := map[string]any{"key": "k1", "auth": map[string]any{"password": "p1", "user": "u"}}
	for _, tt := range []struct {
		name    string
		given   map[string]any
		want    map[string]any
		missing []string
	}{
		{"masks keep", map[string]any{"key": Redacted, "auth": map[string]any{"password": Redacted, "user": "v"}, "name": Redacted},
			map[string]any{"key": "k1", "auth": map[string]any{"password": "p1", "user": "v"}, "name": Redacted}, nil},
		{"clear replaces", map[string]any{"key": "k2"}, map[string]any{"key": "k2"}, nil},
		{"mask of nothing", map[string]any{"new": Redacted, "key": Redacted}, map[string]any{"key": "k1"}, []string{"new"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := sch.KeepMaskedSecrets(tt.given, current)
			require.Equal(t, tt.missing, missing)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, map[string]any{"key": "k1", "auth": map[string]any{"password": "p1", "user": "u"}}, current, "current is not changed")
}
