package cli

import _ "embed"

// Operations is the GraphQL document of every operation the command line
// client sends (genqlient generates the client from it). The server counts
// operations by these names in its metrics.
//
//go:embed operations.graphql
var Operations string
