package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apolloPersistedQuery runs Apollo Client with the persisted-query link
// as Apollo documents it for a manifest (ids from the manifest, no query
// text sent), and prints the data and the request bodies it sent.
const apolloPersistedQuery = `
import { readFileSync } from 'node:fs';
import { ApolloClient, InMemoryCache, HttpLink, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';

const [uri, manifestPath, documentPath] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const sent = [];
const http = new HttpLink({
  uri,
  fetch: (url, init) => { sent.push(JSON.parse(init.body)); return fetch(url, init); },
});
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest })).concat(http),
});
const { data } = await client.query({ query: gql(readFileSync(documentPath, 'utf8')) });
process.stdout.write(JSON.stringify({ data, sent }));
`

// TestApolloPersistedQueryManifest serves the allowlist from the manifest
// @apollo/generate-persisted-query-manifest writes: Apollo Client's
// persisted-query link runs the listed operation by its id, the same text
// runs too, and anything else is PERSISTED_QUERY_NOT_ALLOWED.
func TestApolloPersistedQueryManifest(t *testing.T) {
	t.Parallel()
	modules := npmInstall(t, "@apollo/generate-persisted-query-manifest@1.4.0", "@apollo/client@4.3.8", "graphql@16.11.0")
	dir := t.TempDir()
	files := map[string]string{
		"src/ops.graphql":                      "query PackCount { packs { totalCount } }\n",
		"persisted-query-manifest.config.json": `{"documents": ["src/**/*.graphql"], "output": "persisted-query-manifest.json"}`,
	}
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	gen := exec.CommandContext(t.Context(), "node",
		filepath.Join(modules, "node_modules", "@apollo", "generate-persisted-query-manifest", "cli.js"))
	gen.Dir = dir
	out, err := gen.CombinedOutput()
	require.NoError(t, err, string(out))
	manifestPath := filepath.Join(dir, "persisted-query-manifest.json")
	raw, err := os.ReadFile(manifestPath)
	require.NoError(t, err)
	var manifest struct {
		Format     string
		Operations []struct{ ID, Name, Body string }
	}
	require.NoError(t, json.Unmarshal(raw, &manifest), string(raw))
	require.Equal(t, "apollo-persisted-query-manifest", manifest.Format)
	require.Len(t, manifest.Operations, 1)
	op := manifest.Operations[0]

	s := startServer(t, []string{"ATTUNE_GRAPHQL_PERSISTED_QUERIES_FILE=" + manifestPath})

	// Apollo Client, by id alone.
	var apollo struct {
		Data struct{ Packs struct{ TotalCount *int } }
		Sent []struct {
			OperationName string
			Query         *string
			Extensions    struct{ PersistedQuery struct{ Sha256Hash string } }
		}
	}
	got := runNode(t, modules, dir, "apollo.mjs", apolloPersistedQuery, s.url+"/graphql", manifestPath,
		filepath.Join(dir, "src", "ops.graphql"))
	require.NoError(t, json.Unmarshal([]byte(got), &apollo), got)
	require.NotNil(t, apollo.Data.Packs.TotalCount, got)
	require.Len(t, apollo.Sent, 1, got)
	require.Nil(t, apollo.Sent[0].Query, "the link sends the id, not the text: %s", got)
	require.Equal(t, op.ID, apollo.Sent[0].Extensions.PersistedQuery.Sha256Hash)

	// The listed text, as any client sends it.
	c := client(s, "")
	var byText struct{ Packs struct{ TotalCount *int } }
	c.Must(t, op.Body, nil, &byText)
	require.NotNil(t, byText.Packs.TotalCount)

	// Anything else: by text, or by a hash not listed.
	e := c.Fail(t, `query ActionCount { actions { totalCount } }`, nil)
	require.Equal(t, "PERSISTED_QUERY_NOT_ALLOWED", e.Code())
	res, body := do(t, http.MethodPost, s.url+"/graphql", http.Header{"Content-Type": {"application/json"}},
		`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+strings.Repeat("0", 64)+`"}}}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Contains(t, body, "PERSISTED_QUERY_NOT_ALLOWED")
}
