package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/attune-io/attune/internal/dbtest"
)

// The README's fenced examples are a contract: TestDocExamples runs every
// one of README.md and docs/*.md, in order, against a server started as
// `make run` starts it, on SQLite and on PostgreSQL. docExamples lists every
// fenced block by fingerprint with what the test does with it; a block that
// is new or changed and not listed fails TestDocExamplesListed, which prints
// the line to add once the example has been checked.

// shellDeadline bounds a shell block: installing the example pack builds a
// Python environment, which takes a while on a loaded machine.
const shellDeadline = 5 * time.Minute

// docFiles are the documents whose fenced blocks are examples, relative to
// the repository root.
var docFiles = []string{"README.md", "docs/*.md"}

// blockKind is what the test does with a fenced block.
type blockKind int

const (
	// skip: not runnable here; why says why.
	skip blockKind = iota
	// graphQL runs each operation of a ```graphql block in turn: queries and
	// mutations over HTTP with the headers of the last headers block,
	// subscriptions over the websocket until the server completes them.
	// "…" in an operation is the id the last executeAction returned, as the
	// README says.
	graphQL
	// variables is a ```json block of variables for the operations of the
	// graphQL block just before it that declare variables.
	variables
	// headers is a ```json block of HTTP headers (GraphiQL's Headers tab);
	// att_… in it is the admin token from data/admin-token.
	headers
	// shell runs a ```sh block through bash in the server's working
	// directory, with the variables earlier blocks set (one terminal
	// session) and KEY, the key the last rotateWebhookKey returned, as the
	// README says. The one rewrite: http://127.0.0.1:8080 is the test
	// server's address. Every JSON value printed must carry no errors.
	shell
	// dryMake runs a ```sh block of make commands as shell does, with make
	// replaced by make -n: the targets and their arguments are checked, the
	// long-running commands are not started.
	dryMake
)

// docExample is one fenced block of the docs and what the test does with it.
type docExample struct {
	doc  string // the file, relative to the repository root
	fp   string // fingerprint: the first 12 hex digits of SHA-256 of "lang\ntext"
	kind blockKind
	why  string   // skip: the reason
	want []string // substrings the block's output must contain
	// poll re-runs a graphQL block's queries until want appears, for
	// results made in the background (bounded by execDeadline).
	poll bool
}

// docExamples is every fenced block of docFiles. Keep it in document order.
var docExamples = []docExample{
	// The two commands (make -n: make run serves until stopped; make test is this test's caller).
	{doc: "README.md", fp: "e6e1d294d375", kind: dryMake, want: []string{"go run ./server\n", "go test "}},
	{doc: "README.md", fp: "51613ee3e702", kind: dryMake, want: []string{"go run ./server -listen 0.0.0.0:8080 -data-dir /srv/attune\n"}},
	// Signing in.
	{doc: "README.md", fp: "f89c10f08067", kind: headers},
	{doc: "README.md", fp: "f44150e511b4", kind: graphQL, want: []string{`"token":"att_`, `"role":"OPERATOR"`}},
	// A first query.
	{doc: "README.md", fp: "bc15dc40c9eb", kind: graphQL, want: []string{`"ref":"core.local"`}},
	{doc: "README.md", fp: "b1e52ce274b5", kind: shell, want: []string{`"ref":"python_example"`, `"status":"SUCCEEDED"`}},
	// Running actions and wiring events.
	{doc: "README.md", fp: "86983e32f1f6", kind: graphQL, want: []string{`"status":"SUCCEEDED"`, `"stream":"stdout"`}},
	{doc: "README.md", fp: "b950975f0a90", kind: graphQL, want: []string{`"status":"SUCCEEDED"`, `"actionRef":"core.local"`}},
	{doc: "README.md", fp: "0898d9fb72a1", kind: graphQL, want: []string{`"status":"SUCCEEDED"`, `"endCursor":"`}},
	{doc: "README.md", fp: "c7cb5fc3d89d", kind: graphQL, want: []string{`"ref":"ops.greet"`}},
	{doc: "README.md", fp: "49a2d4b33d58", kind: variables},
	{doc: "README.md", fp: "dbf9ae95d87c", kind: shell, want: []string{`{"eventId":`, "}\n202\n"}},
	{
		doc: "README.md", fp: "b748f8a1bb76", kind: graphQL, poll: true,
		want: []string{`"status":"PROCESSED"`, `"execution":{"status":"SUCCEEDED"`, `hello`},
	},
	// Asking a person: core.ask waits PENDING, the inquiry is listed, the answer ends it.
	{doc: "README.md", fp: "27fce80f8946", kind: graphQL, want: []string{`"execution":{"id":`}},
	{doc: "README.md", fp: "659e6d42daff", kind: graphQL, poll: true, want: []string{`"status":"PENDING"`, `"prompt":"Deploy to production?"`}},
	{
		doc: "README.md", fp: "fc9a09c9c41a", kind: graphQL,
		want: []string{`"status":"RESPONDED"`, `"execution":{"status":"SUCCEEDED"`, `"response"`},
	},
	// From the terminal: the client against the same server, with the pack and rule above.
	{
		doc: "README.md", fp: "b27dfae1ee66", kind: shell,
		want: []string{"python_example.greet", "Hello, terminal", "one\n", `"status": "SUCCEEDED"`, `"exitCode": 0`},
	},
	// Apollo Client.
	{
		doc: "README.md", fp: "6c18d6355e85",
		why: "TypeScript for a browser app: it needs @apollo/client, graphql-ws and a bundler from npm " +
			"(type-checked by hand with tsc against @apollo/client 4.3.8, graphql-ws and apollo-upload-client 20)",
	},
	{doc: "README.md", fp: "72064cd43896", kind: shell, want: []string{`{"data":{"packs":{"totalCount":`, `}}}{"data":{"packs":`}},
	// Running on PostgreSQL.
	{
		doc: "README.md", fp: "55686b41d9df",
		why: "serves until stopped, on the reader's database; this test's PostgreSQL run starts the server " +
			"the same way, with ATTUNE_DATABASE_URL set to a schema of its own",
	},
	{
		doc: "README.md", fp: "8f743d58c666",
		why: "servers that run until stopped, on three machines, a fixed port and the reader's database; bin/attune is the " +
			"binary TestMain builds as make build does, TestTimersFireOnceAcrossNodes runs processes of split roles, and " +
			"TestPacksTravelThroughTheDatabase an API node and two worker nodes with their own data directories",
	},
	// docs/.
	{doc: "docs/events.md", fp: "5e99a4276f52", why: "a diagram"},
	{doc: "docs/execution.md", fp: "7cd2ff118628", why: "a mermaid diagram"},
	{
		doc: "docs/operations.md", fp: "5b524a752ad6",
		why: "a Prometheus configuration for the reader's hosts; TestMetrics scrapes both listeners it names",
	},
	{doc: "docs/inquiries.md", fp: "5b3e469653e5", why: "a mermaid diagram"},
	{
		doc: "docs/inquiries.md", fp: "a8e842f05d56",
		why: "needs an inquiry's id; the README's inquiry examples run these operations, TestInquiryApproval and TestInquiryTimeoutAndCancel the rest",
	},
	// The same from a terminal: core.ask asked with attune run, answered by the asking execution's id.
	{
		doc: "docs/inquiries.md", fp: "c52bf1770017", kind: shell,
		want: []string{"PENDING  Deploy to production?", "status          RESPONDED", "approved  boolean  true", "exit 5: answered already"},
	},
	{
		doc: "docs/inquiries.md", fp: "f837fda6bc83",
		why: "a rule posting to a chat server that is not here; TestInquiryApproval installs a rule of this form (core.echo instead of core.http)",
	},
	{doc: "docs/policies.md", fp: "196a35cec521", why: "a policy file; TestPoliciesOfAPack installs this form"},
	{doc: "docs/policies.md", fp: "d2b25524c3f7", why: "a policy file; TestPoliciesOfAPack and TestPolicyValidation use this form"},
	{doc: "docs/policies.md", fp: "399e13e4ff8f", why: "a mermaid diagram"},
	// docs/workflows.md: the workflow in three languages, installed and run by TestWorkflowDocExamples.
	{doc: "docs/workflows.md", fp: "522113faa623", why: "an attune workflow action; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "3b8c202fb149", why: "an attune workflow file; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "744e365bcb5b", why: "an orquesta action; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "a4d22b4823c6", why: "an Orquesta workflow; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "6ddecdf727b1", why: "an action-chain action; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "a7041c474eaf", why: "an action-chain; TestWorkflowDocExamples installs and runs it as written, on SQLite and PostgreSQL"},
	{doc: "docs/workflows.md", fp: "4e37d9d104bd", why: "the Orquesta workflow's result; TestWorkflowDocExamples compares it with its run's"},
	{doc: "docs/workflows.md", fp: "3b0c559eb15b", why: "a mermaid diagram"},
	{
		doc: "docs/workflows.md", fp: "b175d3d16d86",
		why: "needs a workflow's execution, which the docs before it do not run; TestWorkflowDocExamples runs it on the Orquesta example's",
	},
	{
		doc: "docs/workflows.md", fp: "796415435374",
		why: "needs a workflow's execution; TestWorkflowDocExamples runs each (pause and resume of a finished workflow: CONFLICT)",
	},
	{
		doc: "docs/workflows.md", fp: "9de658d48a5c",
		why: "needs a workflow's execution; TestWorkflowDocExamples follows it to its end on the Orquesta example's",
	},
}

// fencedBlock is a fenced block as found in a document.
type fencedBlock struct {
	file, lang, text string
	line             int // of the opening fence, from 1
}

func (b fencedBlock) fingerprint() string {
	sum := sha256.Sum256([]byte(b.lang + "\n" + b.text))
	return hex.EncodeToString(sum[:])[:12]
}

func (b fencedBlock) String() string { return fmt.Sprintf("%s:%d (```%s)", b.file, b.line, b.lang) }

// fencedBlocks returns the fenced blocks of docFiles in document order.
func fencedBlocks(t *testing.T) []fencedBlock {
	t.Helper()
	var blocks []fencedBlock
	for _, pattern := range docFiles {
		files, err := filepath.Glob(filepath.Join("..", pattern))
		require.NoError(t, err)
		require.NotEmpty(t, files, pattern)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			rel, err := filepath.Rel("..", f)
			require.NoError(t, err)
			blocks = append(blocks, parseFences(t, filepath.ToSlash(rel), string(raw))...)
		}
	}
	return blocks
}

// parseFences returns the ``` blocks of a Markdown document.
func parseFences(t *testing.T, file, doc string) []fencedBlock {
	t.Helper()
	var (
		blocks []fencedBlock
		cur    *fencedBlock
		body   []string
	)
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &fencedBlock{file: file, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 1}
			body = nil
		case cur != nil && trimmed == "```":
			cur.text = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	require.Nil(t, cur, "%s: a fence opened at line %d is never closed", file, func() int {
		if cur != nil {
			return cur.line
		}
		return 0
	}())
	return blocks
}

// planned is a block with what the test does with it.
type planned struct {
	fencedBlock
	docExample
}

// planExamples matches the documents' blocks with docExamples and fails on
// any block not listed (new or changed) and on any listing with no block.
func planExamples(t *testing.T) []planned {
	t.Helper()
	known := map[string]docExample{}
	for _, e := range docExamples {
		key := e.doc + " " + e.fp
		_, dup := known[key]
		require.False(t, dup, "docExamples lists %s twice", key)
		known[key] = e
	}
	var plan []planned
	var unknown []string
	seen := map[string]bool{}
	for _, b := range fencedBlocks(t) {
		key := b.file + " " + b.fingerprint()
		e, ok := known[key]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s, new or changed:\n%s\n  list it in docExamples once it runs: {doc: %q, fp: %q, kind: …},",
				b, b.text, b.file, b.fingerprint()))
			continue
		}
		seen[key] = true
		require.Equal(t, langOf(e.kind, b.lang), b.lang, "%s: listed as kind %d", b, e.kind)
		plan = append(plan, planned{b, e})
	}
	if len(unknown) > 0 {
		t.Fatalf("fenced blocks not in docExamples (server/readme_test.go):\n\n%s", strings.Join(unknown, "\n\n"))
	}
	for _, e := range docExamples {
		require.True(t, seen[e.doc+" "+e.fp], "docExamples lists %s %s, which is no longer in the document: remove it", e.doc, e.fp)
	}
	for i, p := range plan {
		if p.kind == variables {
			require.True(t, i > 0 && plan[i-1].kind == graphQL && plan[i-1].file == p.file,
				"%s: variables must follow a graphql block", p.fencedBlock)
		}
	}
	return plan
}

// langOf is the fence language a kind requires; skip takes any (lang).
func langOf(k blockKind, lang string) string {
	switch k {
	case graphQL:
		return "graphql"
	case variables, headers:
		return "json"
	case shell, dryMake:
		return "sh"
	}
	return lang
}

func TestDocExamplesListed(t *testing.T) {
	t.Parallel()
	plan := planExamples(t)
	for _, p := range plan {
		if p.kind == skip {
			require.NotEmpty(t, p.why, "%s: a skipped block says why", p.fencedBlock)
		}
	}
}

func TestDocExamples(t *testing.T) {
	t.Parallel()
	plan := planExamples(t)
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	require.NoError(t, err)
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		// The dry make runs read the repository's Makefile, as make run does.
		require.NoError(t, os.WriteFile(filepath.Join(s.dir, "Makefile"), makefile, 0o644))
		// The shell session has the attune binary on its PATH (the README
		// says to put bin/ there) and a config directory of its own.
		env := append(exampleEnv(), "PATH="+filepath.Dir(attuneBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"XDG_CONFIG_HOME="+t.TempDir())
		r := &exampleRunner{s: s, env: env}
		for i, p := range plan {
			var next *planned
			if i+1 < len(plan) && plan[i+1].kind == variables {
				next = &plan[i+1]
			}
			r.run(t, p, next)
		}
	})
}

// exampleRunner carries what one example hands the next, as a reader's
// terminal and GraphiQL tab would.
type exampleRunner struct {
	s       *server
	env     []string          // the shell session's environment
	headers map[string]string // from the last headers block
	execID  string            // the id the last executeAction returned
}

// exampleEnv is the environment of the first shell block: the test's,
// without ATTUNE_* settings.
func exampleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ATTUNE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (r *exampleRunner) run(t *testing.T, p planned, vars *planned) {
	t.Helper()
	var out string
	switch p.kind {
	case skip, variables:
		return
	case headers:
		var h map[string]string
		require.NoError(t, json.Unmarshal([]byte(p.text), &h), "%s", p.fencedBlock)
		for k, v := range h {
			h[k] = strings.ReplaceAll(v, "att_…", r.s.token)
		}
		r.headers = h
		return
	case graphQL:
		var v map[string]any
		if vars != nil {
			require.NoError(t, json.Unmarshal([]byte(vars.text), &v), "%s", vars.fencedBlock)
		}
		out = r.graphQL(t, p, v)
	case shell:
		out = r.shell(t, p, "")
	case dryMake:
		out = r.shell(t, p, "make() { command make -n \"$@\"; }\n")
	}
	for _, w := range p.want {
		require.Contains(t, out, w, "%s", p.fencedBlock)
	}
}

// graphQL runs every operation of the block and returns their responses.
// With poll, it runs them again until every wanted string is there.
func (r *exampleRunner) graphQL(t *testing.T, p planned, vars map[string]any) string {
	t.Helper()
	ops := operations(t, p.fencedBlock)
	deadline := time.Now().Add(execDeadline)
	var tick *time.Ticker
	for {
		var out strings.Builder
		for _, op := range ops {
			out.WriteString(r.operation(t, p.fencedBlock, op, vars))
			out.WriteString("\n")
		}
		if !p.poll || containsAll(out.String(), p.want) {
			return out.String()
		}
		require.True(t, time.Now().Before(deadline), "%s: no %q within %s; last answer:\n%s",
			p.fencedBlock, p.want, execDeadline, out.String())
		if tick == nil {
			tick = time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
		}
		<-tick.C
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// exampleOp is one operation of a graphql block.
type exampleOp struct {
	text  string
	kind  ast.Operation
	field string // the first root field
	vars  bool   // declares variables
}

// operations splits a block into its operations, in order.
func operations(t *testing.T, b fencedBlock) []exampleOp {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Name: b.String(), Input: b.text})
	require.NoError(t, err, "%s", b)
	require.Empty(t, doc.Fragments, "%s: fragments are not supported here", b)
	require.NotEmpty(t, doc.Operations, "%s", b)
	runes := []rune(b.text)
	var ops []exampleOp
	for i, o := range doc.Operations {
		end := len(runes)
		if i+1 < len(doc.Operations) {
			end = doc.Operations[i+1].Position.Start
		}
		ops = append(ops, exampleOp{
			text:  strings.TrimSpace(string(runes[o.Position.Start:end])),
			kind:  o.Operation,
			field: o.SelectionSet[0].(*ast.Field).Name,
			vars:  len(o.VariableDefinitions) > 0,
		})
	}
	return ops
}

// operation runs one operation, requires that it succeeded, keeps what
// later examples use, and returns its data.
func (r *exampleRunner) operation(t *testing.T, b fencedBlock, op exampleOp, vars map[string]any) string {
	t.Helper()
	text := op.text
	if strings.Contains(text, `"…"`) {
		require.NotEmpty(t, r.execID, "%s: %q needs the id of an executeAction before it", b, text)
		text = strings.ReplaceAll(text, `"…"`, `"`+r.execID+`"`)
	}
	if !op.vars {
		vars = nil
	}
	if op.kind == ast.Subscription {
		return r.subscription(t, b, op, text, vars)
	}
	require.NotNil(t, r.headers, "%s: no headers block before the first operation", b)
	c := client(r.s, "")
	for k, v := range r.headers {
		c.Header.Set(k, v)
	}
	res := c.Do(t, text, vars)
	require.Empty(t, res.Errors, "%s: %s", b, text)
	require.Equal(t, http.StatusOK, res.Status, "%s: %s", b, text)
	t.Logf("%s: %s\n→ %s", b, text, res.Data)

	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.Data, &data))
	switch op.field {
	case "executeAction":
		var e struct{ Execution struct{ ID string } }
		require.NoError(t, json.Unmarshal(data[op.field], &e))
		require.NotEmpty(t, e.Execution.ID, "%s: executeAction must select execution { id }", b)
		r.execID = e.Execution.ID
	case "rotateWebhookKey":
		var k struct{ Key string }
		require.NoError(t, json.Unmarshal(data[op.field], &k))
		require.NotEmpty(t, k.Key, "%s: rotateWebhookKey must select key", b)
		r.env = append(r.env, "KEY="+k.Key)
	case "createApiToken":
		var k struct{ Token string }
		require.NoError(t, json.Unmarshal(data[op.field], &k))
		require.True(t, strings.HasPrefix(k.Token, "att_"), "%s: createApiToken must select token", b)
	}
	return string(res.Data)
}

// subscription follows a subscription until the server completes it, with
// the admin token in connection_init as the README says, and requires that
// it ended well: an execution's updates end SUCCEEDED, its output has lines.
func (r *exampleRunner) subscription(t *testing.T, b fencedBlock, op exampleOp, text string, vars map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	var events []json.RawMessage
	for data := range subscribe(t, ctx, r.s, text, vars) {
		var msg map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(data, &msg), "%s: %s", b, data)
		require.NotContains(t, msg, "errors", "%s: %s", b, data)
		events = append(events, data)
	}
	require.NoError(t, ctx.Err(), "%s: %s did not end within %s; got %s", b, text, execDeadline, events)
	require.NotEmpty(t, events, "%s: %s", b, text)
	t.Logf("%s: %s\n→ %s", b, text, events)
	if op.field == "executionUpdated" {
		var last struct{ ExecutionUpdated struct{ Status string } }
		require.NoError(t, json.Unmarshal(events[len(events)-1], &last))
		require.Equal(t, "SUCCEEDED", last.ExecutionUpdated.Status, "%s: %s", b, events)
	}
	var out bytes.Buffer
	for _, e := range events {
		out.Write(e)
		out.WriteString("\n")
	}
	return out.String()
}

// shell runs a sh block through bash after prelude, in the server's working
// directory, with the session's environment, keeps the environment it
// leaves, and requires exit status 0 and no GraphQL errors in its output.
func (r *exampleRunner) shell(t *testing.T, p planned, prelude string) string {
	t.Helper()
	script := strings.ReplaceAll(p.text, "http://127.0.0.1:8080", r.s.url)
	state := filepath.Join(t.TempDir(), "env")
	// set -a exports what the block assigns, so the next block sees it, as
	// in one terminal; the trap keeps the block's exit status.
	full := "set -a\ntrap 'env -0 > " + state + "' EXIT\n" + prelude + script + "\n"
	ctx, cancel := context.WithTimeout(t.Context(), shellDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", full)
	cmd.Dir = r.s.dir
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("%s:\n%s\n→ %s%s", p.fencedBlock, script, stdout.String(), stderr.String())
	require.NoError(t, err, "%s: %s\n%s", p.fencedBlock, script, stderr.String())

	raw, err := os.ReadFile(state)
	require.NoError(t, err)
	r.env = nil
	for _, kv := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		r.env = append(r.env, kv)
	}

	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // not JSON (make -n prints commands): nothing to check
			break
		}
		if m, ok := v.(map[string]any); ok {
			require.NotContains(t, m, "errors", "%s: %s", p.fencedBlock, stdout.String())
		}
	}
	return stdout.String()
}
