package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/sshtest"
)

// coreActionsTestedElsewhere are the core actions TestCoreActions leaves to
// TestStackStormRunners, which needs SSH and SMTP servers of its own; its
// coverage check counts them.
var coreActionsTestedElsewhere = []string{
	"core.announcement", "core.inject_trigger", "core.remote", "core.remote_sudo", "core.sendmail",
	"core.ask", // inquiry_test.go, st2inquiry_test.go
}

// st2Pack is a pack in StackStorm's format with an action of each runner
// that runs in the worker, and of the runners attune does not run yet.
func st2Pack(web string) map[string]string {
	return map[string]string{
		"pack.yaml": "name: st2runners\nref: st2runners\nversion: 1.0.0\ndescription: runner fixtures\nauthor: tests\n",
		"triggers/alert.yaml": "ref: st2runners.alert\nlabel: Alert\ndescription: an alert\n" +
			"output:\n  severity: {type: string, enum: [info, critical], required: true}\n",
		"actions/post_status.yaml": `name: post_status
runner_type: http-request
description: Posts a status, as a StackStorm pack writes an HTTP action.
parameters:
  url: {default: "` + web + `/json"}
  method: {type: string, default: POST}
  headers: {default: {Content-Type: application/json}}
  body: {type: string, default: '{"state": "ok"}'}
`,
		"actions/deploy.yaml": `name: deploy
runner_type: remote-shell-script
entry_point: deploy.sh
description: Runs a script with positional and named arguments on remote hosts.
parameters:
  version: {type: string, position: 0, required: true}
  dry_run: {type: boolean, default: false}
  target: {type: string}
`,
		"actions/deploy.sh":      "#!/bin/sh\necho \"args: $*\"\nhostname >/dev/null && echo \"helper: $(cat \"$(dirname \"$0\")/lib/helper.txt\")\"\n",
		"actions/lib/helper.txt": "from lib\n",
		"actions/nothing.yaml":   "name: nothing\nrunner_type: noop\ndescription: nothing\n",
		"actions/shout.yaml": `name: shout
runner_type: announcement
description: Announces on the chatops route.
parameters:
  experimental: {default: true, immutable: true}
  route: {default: chatops}
  text: {type: string, required: true}
`,
		"actions/flow.yaml":           "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\ndescription: a workflow\n",
		"actions/workflows/flow.yaml": "version: 1.0\ntasks:\n  one:\n    action: core.noop\n",
		"actions/chain.yaml":          "name: chain\nrunner_type: action-chain\nentry_point: chains/chain.yaml\ndescription: a chain\n",
		"actions/chains/chain.yaml":   "chain:\n  - name: one\n    ref: core.noop\n",
		"actions/approve.yaml":        "name: approve\nrunner_type: inquirer\ndescription: asks\n",
		"actions/win.yaml": "name: win\nrunner_type: winrm-cmd\ndescription: windows\nparameters:\n  cmd: {default: dir}\n" +
			"  host: {default: win1}\n  username: {default: u}\n  password: {required: false}\n",
	}
}

// TestStackStormRunners runs, through the server, the core actions and a
// StackStorm-format pack whose runners live in the worker: remote commands
// and scripts over SSH against servers the test starts, HTTP against the
// test's own server, announcements and injected triggers as events, mail
// to the test's SMTP server, and the runners that must fail at once.
func TestStackStormRunners(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		var body any
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "got": body})
	}))
	t.Cleanup(web.Close)
	key, pub := sshtest.NewClientKey(t)

	dbtest.Run(t, func(t *testing.T, backend string) {
		// Attachments are read by core.sendmail, confined: the operator
		// opens their directory to actions (worker.isolation_read_paths).
		shared := t.TempDir()
		searchable(t, shared)
		s := startLikeMakeRun(t, backend, "ATTUNE_WORKER_ISOLATION_READ_PATHS="+shared)
		gql := client(s, s.token)
		gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, st2Pack(web.URL))}, nil)

		t.Run("core.remote", func(t *testing.T) {
			t.Parallel()
			ssh := sshtest.Start(t, sshtest.Options{AuthorizedKey: pub})
			got := runToEnd(t, s, "core.remote", map[string]any{"hosts": ssh.Addr, "private_key": key,
				"cmd": `echo "hello from $(pwd)"; echo warn >&2`, "env": map[string]any{"A": "1"}})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `{"127.0.0.1": {"stdout": "hello from /tmp", "stderr": "warn", "return_code": 0,
				"succeeded": true, "failed": false}}`, string(got.Result))
			require.Equal(t, "hello from /tmp\n", got.Stdout)
			require.Equal(t, 0, *got.ExitCode)
			// The key is a secret: never stored with the execution.
			var stored struct {
				Node struct{ Parameters json.RawMessage }
			}
			id := execute(t, s, "core.remote", map[string]any{"hosts": ssh.Addr, "private_key": key, "cmd": "true"})
			follow(t, s, id)
			gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { parameters } } }`, map[string]any{"id": id}, &stored)
			require.NotContains(t, string(stored.Node.Parameters), "PRIVATE KEY")
			require.Contains(t, string(stored.Node.Parameters), `"cmd":"true"`)
		})
		t.Run("core.remote fails when a host fails", func(t *testing.T) {
			t.Parallel()
			a := sshtest.Start(t, sshtest.Options{AuthorizedKey: pub})
			got := runToEnd(t, s, "core.remote", map[string]any{"hosts": a.Addr + ",127.0.0.1:1", "private_key": key, "cmd": "echo up"})
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			var res map[string]map[string]any
			require.NoError(t, json.Unmarshal(got.Result, &res))
			require.Equal(t, true, res[a.Addr]["succeeded"])
			require.Equal(t, true, res["127.0.0.1:1"]["failed"])
			require.Contains(t, res["127.0.0.1:1"]["error"], "Connection error")
			require.Contains(t, got.Error, "failed on 1 of 2 hosts: 127.0.0.1:1")
		})
		t.Run("core.remote_sudo", func(t *testing.T) {
			t.Parallel()
			ssh := sshtest.Start(t, sshtest.Options{Password: "pw"})
			ssh.Env = []string{"PATH=" + sudoStandIn(t) + ":/usr/bin:/bin"}
			got := runToEnd(t, s, "core.remote_sudo", map[string]any{"hosts": ssh.Addr, "username": "ops", "password": "pw", "cmd": "echo as root"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.Equal(t, "as root", jsonPath(t, got.Result, "127.0.0.1", "stdout"))
			cmd := ssh.Commands()[0]
			require.True(t, strings.HasPrefix(cmd, `sudo -E -- bash -c 'export ATTUNE_ACTION_REF=core.remote_sudo ATTUNE_EXECUTION_ID=`), cmd)
			require.True(t, strings.HasSuffix(cmd, ` && cd /tmp && echo as root'`), cmd)
		})
		t.Run("core.remote timeout and cancel", func(t *testing.T) {
			t.Parallel()
			ssh := sshtest.Start(t, sshtest.Options{AuthorizedKey: pub})
			got := runToEnd(t, s, "core.remote", map[string]any{"hosts": ssh.Addr, "private_key": key, "cmd": "echo started; sleep 60", "timeout": 1})
			require.Equal(t, "TIMEOUT", got.Status, "%+v", got)
			require.JSONEq(t, `true`, string(jsonField(t, jsonField(t, got.Result, "127.0.0.1"), "timeout")))
			require.Equal(t, "started", jsonPath(t, got.Result, "127.0.0.1", "stdout"))

			ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
			defer cancel()
			id := execute(t, s, "core.remote", map[string]any{"hosts": ssh.Addr, "private_key": key, "cmd": "echo started; sleep 60"})
			out := subscribe(t, ctx, s, `subscription($id: ID!) { executionOutput(id: $id) { line } }`, map[string]any{"id": id})
			require.Contains(t, string(<-out), "started")
			gql.Must(t, `mutation($id: ID!) { cancelExecution(id: $id) { status } }`, map[string]any{"id": id}, nil)
			states := follow(t, s, id)
			require.Equal(t, "CANCELED", states[len(states)-1].Status, "%+v", states)
		})
		t.Run("an execution's timeout ends an HTTP request", func(t *testing.T) {
			t.Parallel()
			var out struct {
				ExecuteAction struct{ Execution struct{ ID string } }
			}
			gql.Must(t, `mutation($u: JSON) { executeAction(input: {action: "core.http", parameters: $u, timeoutSeconds: 1}) { execution { id } } }`,
				map[string]any{"u": map[string]any{"url": web.URL + "/slow"}}, &out)
			states := follow(t, s, out.ExecuteAction.Execution.ID)
			last := states[len(states)-1]
			require.Equal(t, "TIMEOUT", last.Status, "%+v", last)
			require.Equal(t, "timed out after 1s", last.Error)
		})
		t.Run("remote-shell-script of a StackStorm pack", func(t *testing.T) {
			t.Parallel()
			ssh := sshtest.Start(t, sshtest.Options{AuthorizedKey: pub})
			got := runToEnd(t, s, "st2runners.deploy", map[string]any{"hosts": ssh.Addr, "private_key": key,
				"version": "1.2 beta", "dry_run": true, "target": "prod"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.Equal(t, "args: --dry_run --target=prod 1.2 beta\nhelper: from lib", jsonPath(t, got.Result, "127.0.0.1", "stdout"))
		})
		t.Run("http-request of a StackStorm pack", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "st2runners.post_status", map[string]any{"body": `{"state": "green"}`})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `{"method": "POST", "got": {"state": "green"}}`, string(jsonField(t, got.Result, "body")))
			require.JSONEq(t, `true`, string(jsonField(t, got.Result, "parsed")))
			require.JSONEq(t, `200`, string(jsonField(t, got.Result, "status_code")))
		})
		t.Run("noop of a StackStorm pack", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "st2runners.nothing", nil)
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `{"failed": false, "succeeded": true, "return_code": 0}`, string(got.Result))
		})
		t.Run("announcements are events", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "core.announcement", map[string]any{"message": map[string]any{"text": "deploy done"}})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `{"output": {"message": {"text": "deploy done"}}, "message": {"text": "deploy done"}}`, string(got.Result))
			got = runToEnd(t, s, "st2runners.shout", map[string]any{"text": "to chatops"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			payloads := eventPayloads(t, s, "core.announcement")
			require.Contains(t, payloads, `{"payload":{"message":{"text":"deploy done"}},"route":"general"}`)
			require.Contains(t, payloads, `{"payload":{"text":"to chatops"},"route":"chatops"}`)
		})
		t.Run("core.inject_trigger", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "core.inject_trigger", map[string]any{"trigger": "st2runners.alert",
				"payload": map[string]any{"severity": "critical", "host": "db1"}, "trace_tag": "t-1"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.Equal(t, "st2runners.alert", jsonPath(t, got.Result, "result", "trigger"))
			require.Equal(t, "t-1", jsonPath(t, got.Result, "result", "trace_tag"))
			require.JSONEq(t, `0`, string(jsonField(t, got.Result, "exit_code")))
			require.Contains(t, eventPayloads(t, s, "st2runners.alert"), `{"host":"db1","severity":"critical"}`)

			for _, tt := range []struct {
				params map[string]any
				want   string
			}{
				{map[string]any{"trigger_name": "st2runners.nope"}, `trigger "st2runners.nope" not found`},
				{map[string]any{"trigger_name": "st2runners.alert", "payload": map[string]any{"severity": "meh"}}, "payload does not match"},
				{map[string]any{"trigger": "a", "trigger_name": "b"}, "mutually exclusive"},
				{map[string]any{}, "You must include the `trigger_name` parameter."},
			} {
				got := runToEnd(t, s, "core.inject_trigger", tt.params)
				require.Equal(t, "FAILED", got.Status, "%+v", got)
				require.Contains(t, got.Error, tt.want)
			}
		})
		t.Run("core.sendmail", func(t *testing.T) {
			t.Parallel()
			smtp := startSMTP(t)
			attachment := filepath.Join(shared, "report.txt")
			require.NoError(t, os.WriteFile(attachment, []byte("the report"), 0o644))
			got := runToEnd(t, s, "core.sendmail", map[string]any{"smtp_server": smtp.addr, "from": "bot",
				"to": "ops@example.com, dev@example.com", "subject": "Déploiement fini", "body": "All <b>green</b>.",
				"attachments": attachment + ",/nonexistent"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.Equal(t, "Successfully sent mail to ops@example.com, dev@example.com", jsonPath(t, got.Result, "stdout"))
			require.Contains(t, jsonPath(t, got.Result, "stderr"), "attachment /nonexistent not found")
			mails := smtp.received()
			require.Len(t, mails, 1)
			require.Equal(t, []string{"<ops@example.com>", "<dev@example.com>"}, mails[0].to)
			require.True(t, strings.HasPrefix(mails[0].from, "<bot@"), mails[0].from)
			require.Contains(t, mails[0].data, "Subject: =?utf-8?")
			require.Contains(t, mails[0].data, "All <b>green</b>.")
			require.Contains(t, mails[0].data, `filename="report.txt"`)

			got = runToEnd(t, s, "core.sendmail", map[string]any{"smtp_server": "127.0.0.1:1", "to": "a@b", "subject": "x", "body": "y"})
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			require.JSONEq(t, `2`, string(jsonField(t, got.Result, "return_code")))
			require.Contains(t, got.Stderr, "Failed to send mail to a@b")
		})
		t.Run("workflows run", func(t *testing.T) {
			t.Parallel()
			for _, ref := range []string{"st2runners.flow", "st2runners.chain"} {
				got := runToEnd(t, s, ref, map[string]any{})
				require.Equal(t, "SUCCEEDED", got.Status, "%s: %+v", ref, got)
			}
		})
		t.Run("an inquirer action waits for its answer", func(t *testing.T) {
			t.Parallel()
			gql := client(s, s.token)
			id := execute(t, s, "st2runners.approve", map[string]any{"ttl": 5, "route": "chat"})
			var inq struct{ ID, Status, Route string }
			eventually(t, execDeadline, "the action's inquiry", func() bool {
				var out struct {
					Inquiries struct {
						Edges []struct {
							Node struct{ ID, Status, Route string }
						}
					}
				}
				gql.Must(t, `query($e: ID!) { inquiries(where: {executionID: $e}) { edges { node { id status route } } } }`,
					map[string]any{"e": id}, &out)
				if len(out.Inquiries.Edges) == 0 {
					return false
				}
				inq = out.Inquiries.Edges[0].Node
				return true
			})
			require.Equal(t, "PENDING", inq.Status)
			require.Equal(t, "chat", inq.Route)
			var out struct{ RespondInquiry struct{ Status string } }
			gql.Must(t, `mutation($id: ID!) { respondInquiry(input: {id: $id, response: {continue: false}}) { status } }`,
				map[string]any{"id": inq.ID}, &out)
			require.Equal(t, "RESPONDED", out.RespondInquiry.Status)
			end := follow(t, s, id)
			require.Equal(t, "SUCCEEDED", end[len(end)-1].Status)
			require.JSONEq(t, `{"continue": false}`, string(jsonField(t, end[len(end)-1].Result, "response")))
			require.JSONEq(t, `5`, string(jsonField(t, end[len(end)-1].Result, "ttl")))
		})
		t.Run("runners that are not available fail at once", func(t *testing.T) {
			t.Parallel()
			for ref, want := range map[string]string{
				"st2runners.win": "runner winrm-cmd is not available: attune does not run Windows commands over WinRM",
			} {
				got := runToEnd(t, s, ref, map[string]any{})
				require.Equal(t, "FAILED", got.Status, "%s: %+v", ref, got)
				require.Equal(t, "Execution failed during preparation: ", got.Error[:len("Execution failed during preparation: ")], got.Error)
				require.Contains(t, got.Error, want)
			}
		})
	})
}

// jsonPath reads a string at path in raw.
func jsonPath(t *testing.T, raw json.RawMessage, path ...string) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	for _, p := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s in %s", p, raw)
		v = m[p]
	}
	s, ok := v.(string)
	require.True(t, ok, "%v at %v is not a string", v, path)
	return s
}

// eventPayloads are the payloads of trigger's events, as compact JSON.
func eventPayloads(t *testing.T, s *server, trigger string) []string {
	t.Helper()
	var out struct {
		Events struct {
			Edges []struct {
				Node struct {
					Payload   json.RawMessage
					SourceRef string
				}
			}
		}
	}
	client(s, s.token).Must(t, `query($t: String!) { events(first: 50, where: {triggerRef: $t}) { edges { node { payload sourceRef } } } }`,
		map[string]any{"t": trigger}, &out)
	var payloads []string
	for _, e := range out.Events.Edges {
		var v any
		require.NoError(t, json.Unmarshal(e.Node.Payload, &v))
		b, err := json.Marshal(v)
		require.NoError(t, err)
		payloads = append(payloads, string(b))
		require.True(t, strings.HasPrefix(e.Node.SourceRef, "core.") || strings.HasPrefix(e.Node.SourceRef, "st2runners."), e.Node.SourceRef)
	}
	return payloads
}

// sudoStandIn is a directory with a `sudo` for the test host, which has
// none: it drops sudo's flags and runs the command, as sudo does for root.
func sudoStandIn(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{"sudo": "#!/bin/sh\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift\nexec \"$@\"\n"})
}

// smtpServer is a minimal SMTP server: it accepts every message and keeps
// its envelope and data.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	mail []smtpMail
}

type smtpMail struct {
	from string
	to   []string
	data string
}

func (s *smtpServer) received() []smtpMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMail(nil), s.mail...)
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				s.serve(conn)
			}()
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = fmt.Fprintf(conn, "%s\r\n", line) }
	say("220 test ESMTP")
	var m smtpMail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO" || verb == "HELO":
			say("250 test")
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"):
			m = smtpMail{from: strings.Fields(line[len("MAIL FROM:"):])[0]}
			say("250 OK")
		case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			m.to = append(m.to, strings.TrimSpace(line[len("RCPT TO:"):]))
			say("250 OK")
		case verb == "DATA":
			say("354 go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
				data.WriteString(l)
			}
			m.data = data.String()
			s.mu.Lock()
			s.mail = append(s.mail, m)
			s.mu.Unlock()
			say("250 queued")
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("250 OK")
		}
	}
}
