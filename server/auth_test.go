package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

const (
	testAdminToken = "att_test-admin-token-0123456789abcdef"
	testEncKey     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	otherEncKey    = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// authEnv turns authentication on with a known admin token and key.
func authEnv(extra ...string) []string {
	return append([]string{"ATTUNE_AUTH_ENABLED=true", "ATTUNE_ADMIN_TOKEN=" + testAdminToken,
		"ATTUNE_ENCRYPTION_KEY=" + testEncKey}, extra...)
}

func client(s *server, token string) *gqltest.Client {
	c := gqltest.New(s.url + "/graphql")
	if token != "" {
		c.Header.Set("Authorization", "Bearer "+token)
	}
	return c
}

func newToken(t *testing.T, admin *gqltest.Client, name, role string, packs []string) string {
	t.Helper()
	var got struct{ CreateApiToken struct{ Token string } }
	admin.Must(t, `mutation($n:String!,$r:APITokenRole!,$p:[String!]){
		createApiToken(input:{name:$n, role:$r, packs:$p}){ token apiToken{ id prefix } } }`,
		map[string]any{"n": name, "r": role, "p": packs}, &got)
	require.True(t, strings.HasPrefix(got.CreateApiToken.Token, "att_"))
	return got.CreateApiToken.Token
}

func TestFirstStartWritesAdminToken(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServer(t, []string{"ATTUNE_AUTH_ENABLED=true"}, "-data-dir", data)
	file := filepath.Join(data, auth.AdminTokenFile)
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	require.Equal(t, 1, strings.Count(s.out.String(), token), "printed exactly once")

	var v struct{ Viewer struct{ Name, Role string } }
	client(s, token).Must(t, `{ viewer { name role } }`, nil, &v)
	require.Equal(t, "ADMIN", v.Viewer.Role)

	e := client(s, "").Fail(t, `{ packs { totalCount } }`, nil)
	require.Equal(t, "UNAUTHENTICATED", e.Code())
	e = client(s, "att_wrong").Fail(t, `{ packs { totalCount } }`, nil)
	require.Equal(t, "UNAUTHENTICATED", e.Code())
	res, _ := do(t, http.MethodGet, s.url+"/healthz", nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, "health stays open")
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		viewer := newToken(t, admin, "ci-viewer", "VIEWER", nil)
		var v struct{ Viewer struct{ Name, Role string } }
		client(s, viewer).Must(t, `{ viewer { name role } }`, nil, &v)
		require.Equal(t, "ci-viewer", v.Viewer.Name)

		var list struct {
			ApiTokens struct {
				Edges []struct{ Node map[string]any }
			}
		}
		admin.Must(t, `{ apiTokens { edges { node { id name role prefix revokedAt } } } }`, nil, &list)
		var id string
		for _, e := range list.ApiTokens.Edges {
			require.NotContains(t, e.Node, "tokenHash")
			if e.Node["name"] == "ci-viewer" {
				id = fmt.Sprint(e.Node["id"])
			}
		}
		require.NotEmpty(t, id)
		e := client(s, viewer).Fail(t, `{ apiTokens { totalCount } }`, nil)
		require.Equal(t, "FORBIDDEN", e.Code())

		admin.Must(t, `mutation($id:ID!){ revokeApiToken(id:$id){ revokedAt } }`, map[string]any{"id": id}, nil)
		e = client(s, viewer).Fail(t, `{ viewer { name } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", e.Code())

		e = admin.Fail(t, `mutation{ createApiToken(input:{name:"old", role:VIEWER, expiresAt:"2001-01-01T00:00:00Z"}){ token } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		var short struct{ CreateApiToken struct{ Token string } }
		admin.Must(t, `mutation($at:Time!){ createApiToken(input:{name:"short", role:VIEWER, expiresAt:$at}){ token } }`,
			map[string]any{"at": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)}, &short)
		expired := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !expired; {
			r := client(s, short.CreateApiToken.Token).Do(t, `{ viewer { name } }`, nil)
			expired = len(r.Errors) > 0 && r.Errors[0].Code() == "UNAUTHENTICATED"
		}
		require.True(t, expired, "an expired token is refused")
	})
}

// policy is the expected least role of every mutation and subscription. A
// field missing here fails the test: each new operation needs a decision.
var policy = map[string]string{
	"executeAction": "OPERATOR", "cancelExecution": "OPERATOR", "emitEvent": "OPERATOR", "rerunExecution": "OPERATOR",
	"pauseExecution": "OPERATOR", "resumeExecution": "OPERATOR", "cancelInquiry": "OPERATOR",
	// The inquiry's assignment decides who answers (a VIEWER named in it may).
	"respondInquiry": "VIEWER",
	"installPack":    "EDITOR", "uploadPack": "EDITOR", "startPackInstall": "EDITOR", "deletePack": "EDITOR",
	"deleteAction": "EDITOR", "deleteTrigger": "EDITOR", "deleteSensor": "EDITOR", "deleteRule": "EDITOR",
	"deleteWorkflowDefinition": "EDITOR", "createRule": "EDITOR", "updateRule": "EDITOR",
	"enableRule": "EDITOR", "disableRule": "EDITOR", "enableSensor": "EDITOR", "disableSensor": "EDITOR",
	"setKey": "EDITOR", "deleteKey": "EDITOR", "setPackConfig": "EDITOR",
	"createPolicy": "EDITOR", "updatePolicy": "EDITOR", "deletePolicy": "EDITOR",
	"createApiToken": "ADMIN", "revokeApiToken": "ADMIN", "deleteExecution": "ADMIN",
	"deleteEvent": "ADMIN", "deleteEnforcement": "ADMIN", "rotateWebhookKey": "ADMIN",
}

var roleRank = map[string]int{"ADMIN": 4, "EDITOR": 3, "OPERATOR": 2, "VIEWER": 1, "": 0}

// TestEveryRoleOnEveryOperation walks every mutation and subscription of
// the live schema with every role (and none): below the policy's role the
// answer is FORBIDDEN (UNAUTHENTICATED without a token); at or above it,
// never.
func TestEveryRoleOnEveryOperation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		tokens := map[string]string{"ADMIN": testAdminToken, "": ""}
		// METRICS ranks below VIEWER: it may only scrape /metrics.
		for _, role := range []string{"EDITOR", "OPERATOR", "VIEWER", "METRICS"} {
			tokens[role] = newToken(t, admin, "matrix-"+role, role, nil)
		}
		schema := introspect(t, admin)
		ops := append(schema.operations(t, "Mutation", "mutation"), schema.operations(t, "Subscription", "subscription")...)
		require.NotEmpty(t, ops)
		t.Run("matrix", func(t *testing.T) {
			for _, op := range ops {
				need := "VIEWER"
				if op.kind == "mutation" {
					var ok bool
					need, ok = policy[op.field]
					require.True(t, ok, "mutation %s has no entry in the test's policy", op.field)
				}
				for role, token := range tokens {
					name := strings.ToLower(role)
					if role == "" {
						name = "anonymous"
					}
					t.Run(op.field+"/"+name, func(t *testing.T) {
						t.Parallel()
						code := runOp(t, s, token, op)
						switch {
						case role == "":
							require.Equal(t, "UNAUTHENTICATED", code, "%s without a token", op.field)
						case roleRank[role] < roleRank[need]:
							require.Equal(t, "FORBIDDEN", code, "%s as %s", op.field, role)
						default:
							require.NotContains(t, []string{"FORBIDDEN", "UNAUTHENTICATED"}, code, "%s as %s", op.field, role)
						}
					})
				}
			}
		})
		requireAudited(t, admin, ops, tokens)
	})
}

// requireAudited checks that every mutation tried by every role left an
// audit row saying who tried and how it ended.
func requireAudited(t *testing.T, admin *gqltest.Client, ops []operation, tokens map[string]string) {
	t.Helper()
	var audit struct {
		AuditEvents struct {
			Edges []struct {
				Node struct{ Operation, Actor, Role, Outcome, ErrorCode string }
			}
		}
	}
	admin.Must(t, `{ auditEvents(first: 1000){ edges{ node{ operation actor role outcome errorCode } } } }`, nil, &audit)
	seen := map[string]string{} // operation/role → outcome/code
	for _, e := range audit.AuditEvents.Edges {
		n := e.Node
		seen[n.Operation+"/"+n.Role] = n.Outcome + "/" + n.ErrorCode
	}
	for _, op := range ops {
		if op.kind != "mutation" {
			continue
		}
		for role := range tokens {
			if role == "" {
				continue // unauthenticated requests have no actor to record
			}
			got, ok := seen[op.field+"/"+role]
			require.True(t, ok, "no audit event for %s as %s", op.field, role)
			if roleRank[role] < roleRank[policy[op.field]] {
				require.Equal(t, "ERROR/FORBIDDEN", got, "%s as %s", op.field, role)
			}
		}
	}
}

// runOp sends op and returns the first error's code, or "" on success.
func runOp(t *testing.T, s *server, token string, op operation) string {
	t.Helper()
	c := client(s, token)
	if op.field == "uploadPack" {
		r := uploadTiny(t, c)
		if len(r.Errors) == 0 {
			return ""
		}
		return r.Errors[0].Code()
	}
	if op.kind == "mutation" {
		r := c.Do(t, op.document, nil)
		if len(r.Errors) == 0 {
			return ""
		}
		return r.Errors[0].Code()
	}
	// An allowed subscription to nothing in particular stays open without a
	// message; a refused one errors within milliseconds. A second is the
	// bound for "not refused".
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	init := map[string]any{}
	if token != "" {
		init["Authorization"] = "Bearer " + token
	}
	sub, err := c.TrySubscribe(ctx, op.document, nil, init)
	if sub != nil {
		defer sub.Close()
	}
	if err != nil {
		// Refused at connection_init: no valid token.
		return "UNAUTHENTICATED"
	}
	r, err := sub.Next(ctx)
	switch {
	case err == gqltest.ErrComplete:
		return ""
	case err != nil && ctx.Err() != nil:
		return "" // allowed and waiting for events
	case err != nil:
		t.Fatalf("%s: %v", op.field, err)
	case len(r.Errors) > 0:
		return r.Errors[0].Code()
	}
	return ""
}

// uploadTiny sends uploadPack as a real multipart request with a small,
// invalid archive: allowed roles get BAD_USER_INPUT.
func uploadTiny(t *testing.T, c *gqltest.Client) gqltest.Response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.WriteField("operations", `{"query":"mutation($f:Upload!){ uploadPack(file:$f){ __typename } }","variables":{"f":null}}`))
	require.NoError(t, w.WriteField("map", `{"0":["variables.f"]}`))
	fw, err := w.CreateFormFile("0", "x.zip")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("not a zip"))
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, c.URL, &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.Send(t, req)
}

type operation struct {
	kind, field, document string
}

type introspection struct {
	Schema struct {
		Types []struct {
			Name        string
			Kind        string
			Fields      []ischemaField
			InputFields []ischemaValue
		}
	} `json:"__schema"`
}

type ischemaField struct {
	Name string
	Args []ischemaValue
	Type ischemaType
}

type ischemaValue struct {
	Name string
	Type ischemaType
}

type ischemaType struct {
	Kind   string
	Name   string
	OfType *ischemaType
}

func introspect(t *testing.T, c *gqltest.Client) *introspection {
	t.Helper()
	typeRef := `kind name ofType { kind name ofType { kind name ofType { kind name } } }`
	var out introspection
	c.Must(t, `{ __schema { types { name kind
		fields { name type { `+typeRef+` } args { name type { `+typeRef+` } } }
		inputFields { name type { `+typeRef+` } } } } }`, nil, &out)
	return &out
}

func (in *introspection) lookup(name string) (kind string, fields []ischemaField, inputs []ischemaValue) {
	for _, ty := range in.Schema.Types {
		if ty.Name == name {
			return ty.Kind, ty.Fields, ty.InputFields
		}
	}
	return "", nil, nil
}

// operations builds a document per root field with placeholder values for
// its required arguments and a minimal selection.
func (in *introspection) operations(t *testing.T, root, kind string) []operation {
	_, fields, _ := in.lookup(root)
	var out []operation
	for _, f := range fields {
		var args []string
		for _, a := range f.Args {
			if a.Type.Kind == "NON_NULL" {
				args = append(args, a.Name+": "+in.placeholder(a.Type.OfType))
			}
		}
		doc := kind + " { " + f.Name
		if len(args) > 0 {
			doc += "(" + strings.Join(args, ", ") + ")"
		}
		doc += in.selection(f.Type) + " }"
		out = append(out, operation{kind: kind, field: f.Name, document: doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].field < out[j].field })
	return out
}

func (in *introspection) placeholder(ty *ischemaType) string {
	switch ty.Kind {
	case "NON_NULL":
		return in.placeholder(ty.OfType)
	case "LIST":
		return "[]"
	case "ENUM":
		// The last value is the weakest role (VIEWER) or a harmless value.
		_, _, _ = in.lookup(ty.Name)
		return in.enumValue(ty.Name)
	case "INPUT_OBJECT":
		_, _, inputs := in.lookup(ty.Name)
		var parts []string
		for _, f := range inputs {
			if f.Type.Kind == "NON_NULL" {
				parts = append(parts, f.Name+": "+in.placeholder(f.Type.OfType))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	switch ty.Name {
	case "ID":
		return `"1"`
	case "Int", "Float":
		return "1"
	case "Boolean":
		return "false"
	case "JSON", "AnyJSON", "Map":
		return "{}"
	case "Time":
		return `"2099-01-01T00:00:00Z"`
	case "Upload":
		return "null"
	}
	return `"zz_nothing"`
}

func (in *introspection) enumValue(name string) string {
	if name == "APITokenRole" {
		return "VIEWER"
	}
	return "__FIRST__" + name
}

// selection picks __typename, valid on any object.
func (in *introspection) selection(ty ischemaType) string {
	for ty.OfType != nil {
		ty = *ty.OfType
	}
	if ty.Kind == "OBJECT" || ty.Kind == "INTERFACE" || ty.Kind == "UNION" {
		return " { __typename }"
	}
	return ""
}

// TestSecretsStayOutOfStorageAndLogs stores a secret, uses it, and greps the
// database file, the server's log and every response for the plaintext.
func TestSecretsStayOutOfStorageAndLogs(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := ""
		if backend == "postgres" {
			dbURL = dbtest.URL(t, backend)
		}
		secretsStayOut(t, dbURL)
	})
}

func secretsStayOut(t *testing.T, dbURL string) {
	const plain = "hunter2-attune-plaintext-7f3a"
	data := t.TempDir()
	args := []string{"-data-dir", data}
	if dbURL != "" {
		args = append(args, "-database-url", dbURL)
	}
	s := startServer(t, authEnv(), args...)
	admin := client(s, testAdminToken)
	editor := client(s, newToken(t, admin, "ed", "EDITOR", nil))

	r := editor.Do(t, `mutation($v:JSON!){ setKey(input:{name:"db_password", value:$v, secret:true}){ name secret value } }`,
		map[string]any{"v": plain})
	require.Empty(t, r.Errors)
	require.NotContains(t, string(r.Data), plain)
	var got struct{ Key struct{ Value any } }
	editor.Must(t, `{ key(name:"db_password"){ value } }`, nil, &got)
	require.Nil(t, got.Key.Value)
	e := editor.Fail(t, `{ key(name:"db_password"){ value(decrypt:true) } }`, nil)
	require.Equal(t, "FORBIDDEN", e.Code())
	admin.Must(t, `{ key(name:"db_password"){ value(decrypt:true) } }`, nil, &got)
	require.Equal(t, plain, got.Key.Value)

	var audit struct {
		AuditEvents struct {
			Edges []struct {
				Node struct {
					Operation, Actor, Outcome string
					Variables                 map[string]any
				}
			}
		}
	}
	admin.Must(t, `{ auditEvents(first: 50){ edges{ node{ operation actor outcome variables } } } }`, nil, &audit)
	found := false
	for _, ed := range audit.AuditEvents.Edges {
		if ed.Node.Operation == "setKey" {
			found = true
			require.Equal(t, "ed", ed.Node.Actor)
			require.Equal(t, "OK", ed.Node.Outcome)
			require.NotContains(t, fmt.Sprint(ed.Node.Variables), plain)
		}
	}
	require.True(t, found, "setKey is audited")

	// A secret parameter: stored redacted, delivered to the action.
	admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
		map[string]any{"s": kvPack(t)}, nil)
	var ran struct {
		ExecuteAction struct{ Execution struct{ ID string } }
	}
	admin.Must(t, `mutation($p: JSON){ executeAction(input:{action:"kv.show", parameters:$p}){ execution{ id } } }`,
		map[string]any{"p": map[string]any{"token": plain, "message": "hi", "region": "r"}}, &ran)
	var ex struct {
		Execution struct {
			Status     string
			Parameters map[string]any
			Stdout     string
		}
	}
	eventually(t, execDeadline, "the execution to finish", func() bool {
		admin.Must(t, `query($id:ID!){ execution(id:$id){ status parameters stdout } }`,
			map[string]any{"id": ran.ExecuteAction.Execution.ID}, &ex)
		return ex.Execution.Status == "SUCCEEDED" || ex.Execution.Status == "FAILED"
	})
	require.Equal(t, "SUCCEEDED", ex.Execution.Status)
	require.Equal(t, "********", ex.Execution.Parameters["token"])
	require.NotContains(t, ex.Execution.Stdout, plain)

	// A webhook key is encrypted at rest too.
	var rotated struct{ RotateWebhookKey struct{ Key string } }
	admin.Must(t, `mutation{ rotateWebhookKey(ref:"core.webhook"){ key } }`, nil, &rotated)
	hook := rotated.RotateWebhookKey.Key
	require.NotEmpty(t, hook)
	res, body := do(t, http.MethodPost, s.url+"/webhooks/core.webhook", http.Header{"X-Attune-Webhook-Key": {hook}}, `{"a":1}`)
	require.Equal(t, http.StatusAccepted, res.StatusCode, body)

	s.stop(t)
	require.NotContains(t, s.out.String(), plain, "plaintext in the logs")
	require.NotContains(t, s.out.String(), hook, "webhook key in the logs")
	if dbURL == "" {
		db, err := os.ReadFile(filepath.Join(data, "attune.db"))
		require.NoError(t, err)
		wal, _ := os.ReadFile(filepath.Join(data, "attune.db-wal"))
		require.False(t, bytes.Contains(append(db, wal...), []byte(plain)), "plaintext in the database file")
		require.False(t, bytes.Contains(append(db, wal...), []byte(hook)), "webhook key in the database file")
		return
	}
	dump := dumpTables(t, dbURL)
	require.NotContains(t, dump, plain, "plaintext in a PostgreSQL row")
	require.NotContains(t, dump, hook, "webhook key in a PostgreSQL row")
}

// dumpTables renders every row of every table of the test's schema as text.
func dumpTables(t *testing.T, dbURL string) string {
	t.Helper()
	db, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.SQL.QueryContext(t.Context(),
		`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Close())
	require.NotEmpty(t, tables)
	var dump strings.Builder
	for _, table := range tables {
		var text sql.NullString
		require.NoError(t, db.SQL.QueryRowContext(t.Context(),
			`SELECT string_agg(t::text, E'\n') FROM "`+table+`" t`).Scan(&text))
		dump.WriteString(text.String)
	}
	return dump.String()
}

func TestEncryptionKeyIsRequiredAndChecked(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServer(t, authEnv(), "-data-dir", data)
	client(s, testAdminToken).Must(t, `mutation{ setKey(input:{name:"k", value:"v", secret:true}){ name } }`, nil, nil)
	s.stop(t)

	code, out := runAttune(t, []string{"ATTUNE_AUTH_ENABLED=true", "ATTUNE_ENCRYPTION_KEY=" + otherEncKey},
		"-listen", "127.0.0.1:0", "-data-dir", data)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "does not decrypt")
	code, out = runAttune(t, []string{"ATTUNE_AUTH_ENABLED=true"}, "-listen", "127.0.0.1:0", "-data-dir", data)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "no encryption key")
}

func TestAuthOffOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	code, out := runAttune(t, []string{"ATTUNE_AUTH_ENABLED=false"}, "-listen", "0.0.0.0:0", "-data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, out, "loopback")
}

// TestPackLimitedToken sees only its pack's rows, counts included.
func TestPackLimitedToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, authEnv())
	admin := client(s, testAdminToken)
	src, err := filepath.Abs("../examples/packs/python_example")
	require.NoError(t, err)
	admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": src}, nil)
	limited := client(s, newToken(t, admin, "core-only", "EDITOR", []string{"core"}))
	var got struct {
		Packs struct {
			TotalCount int
			Edges      []struct{ Node struct{ Ref string } }
		}
		Actions struct{ TotalCount int }
	}
	limited.Must(t, `{ packs{ totalCount edges{ node{ ref } } } actions(where:{packRef:"python_example"}){ totalCount } }`, nil, &got)
	require.Equal(t, 1, got.Packs.TotalCount)
	require.Equal(t, "core", got.Packs.Edges[0].Node.Ref)
	require.Zero(t, got.Actions.TotalCount)
	e := limited.Fail(t, `mutation{ deletePack(input:{ref:"python_example"}){ deletedRef } }`, nil)
	require.Equal(t, "FORBIDDEN", e.Code())
	e = limited.Fail(t, `{ pack(ref:"python_example"){ ref } }`, nil)
	require.Contains(t, []string{"FORBIDDEN", "NOT_FOUND"}, e.Code())
}

// TestActionsNeverSeeServerSecrets runs `env` as an action on a server that
// holds an admin token and an encryption key in its environment.
func TestActionsNeverSeeServerSecrets(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"ATTUNE_ADMIN_TOKEN=" + testAdminToken, "ATTUNE_ENCRYPTION_KEY=" + testEncKey})
	id := execute(t, s, "core.local", map[string]any{"cmd": "env; echo done"})
	states := follow(t, s, id)
	require.Equal(t, "SUCCEEDED", states[len(states)-1].Status, "%+v", states)
	var got struct{ Execution struct{ Stdout string } }
	client(s, "").Must(t, `query($id:ID!){ execution(id:$id){ stdout } }`, map[string]any{"id": id}, &got)
	require.Contains(t, got.Execution.Stdout, "ATTUNE_EXECUTION_ID=")
	require.NotContains(t, got.Execution.Stdout, testAdminToken)
	require.NotContains(t, got.Execution.Stdout, testEncKey)
	require.NotContains(t, got.Execution.Stdout, "ATTUNE_ADMIN_TOKEN")
}

// TestPersistedQueriesOnly accepts listed documents (by text or by hash)
// and refuses everything else.
func TestPersistedQueriesOnly(t *testing.T) {
	t.Parallel()
	const doc = `{ packs { totalCount } }`
	list := filepath.Join(t.TempDir(), "allow.json")
	require.NoError(t, os.WriteFile(list, []byte(`["{ packs { totalCount } }"]`), 0o644))
	s := startServer(t, []string{"ATTUNE_GRAPHQL_PERSISTED_QUERIES_FILE=" + list})
	c := client(s, "")
	c.Must(t, doc, nil, nil)
	sum := sha256.Sum256([]byte(doc))
	res, body := do(t, http.MethodPost, s.url+"/graphql", http.Header{"Content-Type": {"application/json"}},
		`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+hex.EncodeToString(sum[:])+`"}}}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Contains(t, body, "totalCount")
	e := c.Fail(t, `{ actions { totalCount } }`, nil)
	require.Equal(t, "PERSISTED_QUERY_NOT_ALLOWED", e.Code())
}

// TestEmbeddedServerMakesItsOwnKey: a SQLite server started without a key
// makes one (0600) at first start, so secrets work out of the box and
// survive a restart.
func TestEmbeddedServerMakesItsOwnKey(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServer(t, nil, "-data-dir", data)
	info, err := os.Stat(filepath.Join(data, EncryptionKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	client(s, "").Must(t, `mutation{ setKey(input:{name:"k", value:"kept", secret:true}){ name } }`, nil, nil)
	s.stop(t)

	s = startServer(t, nil, "-data-dir", data)
	var got struct{ Key struct{ Value any } }
	client(s, "").Must(t, `{ key(name:"k"){ value(decrypt:true) } }`, nil, &got)
	require.Equal(t, "kept", got.Key.Value)
}

// TestAuditRecordCommitsWithItsMutation: a mutation's audit record is
// written in the mutation's own transaction, so each mutation leaves
// exactly one record, OK when it committed and ERROR (with the code) when
// it failed, and a failed one leaves nothing else behind.
func TestAuditRecordCommitsWithItsMutation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		args := []string{"-data-dir", t.TempDir()}
		if backend == "postgres" {
			args = append(args, "-database-url", dbtest.URL(t, backend))
		}
		s := startServer(t, authEnv(), args...)
		admin := client(s, testAdminToken)
		op := client(s, newToken(t, admin, "audited-op", "EDITOR", nil))

		op.Must(t, `mutation{ executeAction(input:{action:"core.echo", parameters:{message:"hi"}}){ execution{ id status action{ ref } } } }`, nil, nil)
		e := op.Fail(t, `mutation{ executeAction(input:{action:"core.echo", parameters:{nope:1}}){ execution{ id } } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		e = op.Fail(t, `mutation{ executeAction(input:{action:"core.missing"}){ execution{ id } } }`, nil)
		require.Equal(t, "NOT_FOUND", e.Code())
		// A pack install goes on in the background after the mutation
		// returns; its transactions write no second record.
		src := writeTree(t, map[string]string{
			"pack.yaml":      "ref: aud\nversion: 1.0.0\n",
			"actions/a.yaml": "runner_type: shell\nentry_point: a.sh\n",
			"actions/a.sh":   "#!/bin/sh\necho hi\n",
		})
		op.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": src}, nil)

		var audit struct {
			AuditEvents struct {
				Edges []struct {
					Node struct{ Operation, Actor, Outcome, ErrorCode string }
				}
			}
		}
		admin.Must(t, `{ auditEvents(first: 100){ edges{ node{ operation actor outcome errorCode } } } }`, nil, &audit)
		var got []string
		for _, ed := range audit.AuditEvents.Edges {
			if ed.Node.Actor == "audited-op" {
				got = append(got, ed.Node.Operation+" "+ed.Node.Outcome+" "+ed.Node.ErrorCode)
			}
		}
		require.ElementsMatch(t, []string{
			"executeAction OK ", "executeAction ERROR BAD_USER_INPUT", "executeAction ERROR NOT_FOUND", "installPack OK ",
		}, got)
		var execs struct{ Executions struct{ TotalCount int } }
		admin.Must(t, `{ executions{ totalCount } }`, nil, &execs)
		require.Equal(t, 1, execs.Executions.TotalCount, "the failed requests stored no execution")
	})
}
