package graph

// SetKeyInput is bound in gqlgen.yml so that value can be any JSON value
// (a string, a number…), not only an object.
type SetKeyInput struct {
	Name   string  `json:"name"`
	Value  any     `json:"value"`
	Secret *bool   `json:"secret,omitempty"`
	Pack   *string `json:"pack,omitempty"`
	TTL    *int    `json:"ttl,omitempty"`
}
