package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// counterScript is a shell action that records, under flock, how many of
// its runs are under way at once (seen: the count at each start) and the
// order runs start in (order), then sleeps for sleep seconds.
func counterScript(dir, sleep string) string {
	return `#!/usr/bin/env bash
d=` + dir + `
exec 9>>"$d/lock"
flock 9; n=$(( $(cat "$d/cur" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/cur"; echo $n >> "$d/seen"; echo "$ATTUNE_EXECUTION_ID" >> "$d/order"; flock -u 9
sleep ` + sleep + `
flock 9; n=$(( $(cat "$d/cur") - 1 )); echo $n > "$d/cur"; flock -u 9
`
}

// guardPack is a pack with an action under each kind of policy, in
// StackStorm's form and in the reference form. Runs log under dir.
func guardPack(t *testing.T, dir string) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "ref: guard\nversion: 1.0.0\ndescription: actions under policies\n",
		"actions/slow.yaml": `name: slow
runner_type: shell
entry_point: slow.sh
`,
		"actions/slow.sh": counterScript(dir, "0.3"),
		"policies/slow_concurrency.yaml": `name: slow.concurrency
description: One slow at a time; the others wait their turn.
resource_ref: guard.slow
policy_type: action.concurrency
parameters:
  threshold: 1
  action: delay
`,
		"actions/busy.yaml": `name: busy
runner_type: shell
entry_point: busy.sh
`,
		"actions/busy.sh": "#!/usr/bin/env bash\nsleep 3\n",
		"policies/busy_cancel.yaml": `ref: guard.busy_cancel
action_ref: guard.busy
concurrency: {limit: 1, method: cancel}
`,
		"actions/flaky.yaml": `name: flaky
runner_type: shell
entry_point: flaky.sh
`,
		"actions/flaky.sh": "#!/usr/bin/env bash\necho broken >&2\nexit 3\n",
		"policies/flaky_retry.yaml": `name: flaky.retry
resource_ref: guard.flaky
policy_type: action.retry
parameters:
  retry_on: failure
  max_retry_count: 2
  delay: 0
`,
		"actions/sleepy.yaml": `name: sleepy
runner_type: shell
entry_point: sleepy.sh
timeout: 1
`,
		"actions/sleepy.sh": "#!/usr/bin/env bash\nsleep 30\n",
		"policies/sleepy_retry.yaml": `name: sleepy.retry
resource_ref: guard.sleepy
policy_type: action.retry
parameters: {retry_on: timeout, max_retry_count: 1}
`,
		"actions/perhost.yaml": `name: perhost
runner_type: shell
entry_point: perhost.sh
parameters:
  host: {type: string, required: true}
`,
		"actions/perhost.sh": "#!/usr/bin/env bash\nsleep 1\n",
		"policies/perhost.yaml": `name: perhost.concurrency
resource_ref: guard.perhost
policy_type: action.concurrency.attr
parameters: {threshold: 1, attributes: [host]}
`,
		"actions/limited.yaml": `name: limited
runner_type: shell
entry_point: limited.sh
`,
		"actions/limited.sh": "#!/usr/bin/env bash\necho ok\n",
		"policies/limited_rate.yaml": `ref: guard.limited_rate
action_ref: guard.limited
rate_limit: {max_executions: 2, window_seconds: 3}
`,
	})
}

// policed is the part of an execution the policy tests read.
type policed struct {
	ID           string
	Status       string
	Error        string
	StartedAt    *time.Time
	RetryAttempt int
	RetryOf      *struct{ ID string }
	PolicyEvents []struct {
		PolicyRef string
		Kind      string
		Message   string
	}
}

const policedFields = `id status error startedAt retryAttempt retryOf { id } policyEvents { policyRef kind message }`

func getPoliced(t *testing.T, c *gqltest.Client, id string) policed {
	t.Helper()
	var out struct{ Execution policed }
	c.Must(t, `query($id: ID!) { execution(id: $id) { `+policedFields+` } }`, map[string]any{"id": id}, &out)
	return out.Execution
}

// awaitFinal waits for execution id to reach a final status.
func awaitFinal(t *testing.T, c *gqltest.Client, id string) policed {
	t.Helper()
	var e policed
	eventually(t, execDeadline, "execution "+id+" to finish", func() bool {
		e = getPoliced(t, c, id)
		switch e.Status {
		case "SUCCEEDED", "FAILED", "TIMEOUT", "CANCELED", "ABANDONED":
			return true
		}
		return false
	})
	return e
}

func runAction(t *testing.T, c *gqltest.Client, ref string, params map[string]any) string {
	t.Helper()
	var out struct {
		ExecuteAction struct{ Execution struct{ ID string } }
	}
	c.Must(t, `mutation($a: String!, $p: JSON) { executeAction(input: {action: $a, parameters: $p}) { execution { id } } }`,
		map[string]any{"a": ref, "p": params}, &out)
	return out.ExecuteAction.Execution.ID
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Fields(string(b))
}

// TestPoliciesOfAPack installs a pack with policies in both forms: each
// shows on its action; a concurrency policy delays runs over its threshold
// and starts them in order, one cancels them with its name in error,
// retries follow failures and timeouts, and a rate limit holds runs until
// its window allows.
func TestPoliciesOfAPack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		logDir := t.TempDir()
		searchable(t, logDir)
		require.NoError(t, os.Chmod(logDir, 0o777))
		s := startServer(t, []string{"ATTUNE_WORKER_ISOLATION=off", "ATTUNE_WORKER_CONCURRENCY=8"}, "-database-url", dbtest.URL(t, backend))
		c := client(s, "")
		c.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": guardPack(t, logDir)}, nil)

		var act struct {
			Action struct {
				Policies []struct {
					Ref, PolicyType, ConcurrencyAction string
					ConcurrencyThreshold               int
				}
			}
		}
		c.Must(t, `{ action(ref: "guard.slow") { policies { ref policyType concurrencyThreshold concurrencyAction } } }`, nil, &act)
		require.Len(t, act.Action.Policies, 1)
		require.Equal(t, "guard.slow.concurrency", act.Action.Policies[0].Ref)
		require.Equal(t, "action.concurrency", act.Action.Policies[0].PolicyType)
		require.Equal(t, 1, act.Action.Policies[0].ConcurrencyThreshold)

		t.Run("delay keeps the threshold and the order", func(t *testing.T) {
			ids := make([]string, 4)
			for i := range ids {
				ids[i] = runAction(t, c, "guard.slow", nil)
			}
			for _, id := range ids {
				require.Equal(t, "SUCCEEDED", awaitFinal(t, c, id).Status)
			}
			require.Equal(t, ids, fileLines(t, filepath.Join(logDir, "order")), "started in the order requested")
			for _, n := range fileLines(t, filepath.Join(logDir, "seen")) {
				require.Equal(t, "1", n, "never two at once")
			}
			last := getPoliced(t, c, ids[3])
			kinds := []string{}
			for _, ev := range last.PolicyEvents {
				kinds = append(kinds, ev.Kind)
			}
			require.Contains(t, kinds, "DELAYED")
			require.Contains(t, kinds, "RELEASED")
			require.Equal(t, "guard.slow.concurrency", last.PolicyEvents[0].PolicyRef)
		})

		t.Run("per attribute values", func(t *testing.T) {
			x1 := runAction(t, c, "guard.perhost", map[string]any{"host": "x"})
			y := runAction(t, c, "guard.perhost", map[string]any{"host": "y"})
			x2 := runAction(t, c, "guard.perhost", map[string]any{"host": "x"})
			for _, id := range []string{x1, y, x2} {
				require.Equal(t, "SUCCEEDED", awaitFinal(t, c, id).Status)
			}
			require.Empty(t, getPoliced(t, c, y).PolicyEvents, "another host has its own slot")
			delayed := getPoliced(t, c, x2)
			require.NotEmpty(t, delayed.PolicyEvents)
			require.Equal(t, "DELAYED", delayed.PolicyEvents[0].Kind)
			require.Equal(t, "guard.perhost.concurrency", delayed.PolicyEvents[0].PolicyRef)
			require.False(t, delayed.StartedAt.Before(*awaitFinal(t, c, x1).StartedAt))
		})

		t.Run("cancel names the policy", func(t *testing.T) {
			first := runAction(t, c, "guard.busy", nil)
			eventually(t, execDeadline, "the first busy to run", func() bool { return getPoliced(t, c, first).Status == "RUNNING" })
			second := awaitFinal(t, c, runAction(t, c, "guard.busy", nil))
			require.Equal(t, "CANCELED", second.Status)
			require.Contains(t, second.Error, "guard.busy_cancel")
			require.Equal(t, "CANCELED", second.PolicyEvents[0].Kind)
			require.Equal(t, "SUCCEEDED", awaitFinal(t, c, first).Status)
		})

		t.Run("retry on failure", func(t *testing.T) {
			id := runAction(t, c, "guard.flaky", nil)
			e := awaitFinal(t, c, id)
			require.Equal(t, "FAILED", e.Status)
			chain := []policed{e}
			for attempt := 1; attempt <= 2; attempt++ {
				var retry policed
				eventually(t, execDeadline, "retry "+strconv.Itoa(attempt), func() bool {
					var out struct {
						Executions struct{ Edges []struct{ Node policed } }
					}
					c.Must(t, `query($id: ID!) { executions(where: {retryOfID: $id}) { edges { node { `+policedFields+` } } } }`,
						map[string]any{"id": chain[len(chain)-1].ID}, &out)
					if len(out.Executions.Edges) != 1 {
						return false
					}
					retry = out.Executions.Edges[0].Node
					return retry.Status == "FAILED"
				})
				require.Equal(t, attempt, retry.RetryAttempt)
				require.Equal(t, chain[len(chain)-1].ID, retry.RetryOf.ID)
				chain = append(chain, retry)
			}
			require.Equal(t, "RETRIED", getPoliced(t, c, id).PolicyEvents[0].Kind, "the original keeps its failure and says it was retried")
			// max_retry_count 2: the second retry's failure is final.
			var out struct{ Executions struct{ TotalCount int } }
			c.Must(t, `{ executions(where: {actionRef: "guard.flaky"}) { totalCount } }`, nil, &out)
			require.Equal(t, 3, out.Executions.TotalCount)
			require.Empty(t, chain[2].PolicyEvents)
		})

		t.Run("retry on timeout", func(t *testing.T) {
			id := runAction(t, c, "guard.sleepy", nil)
			require.Equal(t, "TIMEOUT", awaitFinal(t, c, id).Status)
			var retry policed
			eventually(t, execDeadline, "the retry to time out", func() bool {
				var out struct {
					Executions struct{ Edges []struct{ Node policed } }
				}
				c.Must(t, `query($id: ID!) { executions(where: {retryOfID: $id}) { edges { node { `+policedFields+` } } } }`,
					map[string]any{"id": id}, &out)
				if len(out.Executions.Edges) == 1 {
					retry = out.Executions.Edges[0].Node
				}
				return retry.Status == "TIMEOUT"
			})
			require.Equal(t, 1, retry.RetryAttempt)
			var out struct{ Executions struct{ TotalCount int } }
			c.Must(t, `{ executions(where: {actionRef: "guard.sleepy"}) { totalCount } }`, nil, &out)
			require.Equal(t, 2, out.Executions.TotalCount, "one retry at most")
		})

		t.Run("rate limit", func(t *testing.T) {
			ids := []string{runAction(t, c, "guard.limited", nil), runAction(t, c, "guard.limited", nil), runAction(t, c, "guard.limited", nil)}
			var runs []policed
			for _, id := range ids {
				e := awaitFinal(t, c, id)
				require.Equal(t, "SUCCEEDED", e.Status)
				runs = append(runs, e)
			}
			require.GreaterOrEqual(t, runs[2].StartedAt.Sub(*runs[0].StartedAt), 3*time.Second-100*time.Millisecond,
				"the third starts when the first leaves the window")
			require.Equal(t, "RATE_LIMITED", runs[2].PolicyEvents[0].Kind)
			require.Empty(t, runs[0].PolicyEvents)
		})
	})
}

// TestPolicyValidation: a bad policy file fails the install with its file
// and line and installs nothing; createPolicy, updatePolicy and
// deletePolicy check what they are given.
func TestPolicyValidation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startOn(t, backend)
		c := client(s, "")
		bad := writeTree(t, map[string]string{
			"pack.yaml":        "ref: badpol\nversion: 1.0.0\n",
			"actions/a.yaml":   "name: a\nrunner_type: shell\nentry_point: a.sh\n",
			"actions/a.sh":     "#!/bin/sh\n",
			"policies/p1.yaml": "name: p1\nresource_ref: badpol.a\npolicy_type: action.concurrency\nparameters:\n  threshold: 0\n  action: explode\n",
			"policies/p2.yaml": "name: p2\nresource_ref: badpol.a\npolicy_type: action.bogus\n",
			"policies/p3.yaml": "name: p3\naction_ref: badpol.a\nrate_limit: {max_executions: 2}\n",
		})
		e := c.Fail(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": bad})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		for _, want := range []string{"policies/p1.yaml:5: parameters.threshold", "policies/p1.yaml:6: parameters.action", "policies/p2.yaml:3: policy_type", "policies/p3.yaml:3: rate_limit.window_seconds"} {
			require.Contains(t, e.Message, want)
		}
		var packs struct{ Packs struct{ TotalCount int } }
		c.Must(t, `{ packs(where: {ref: "badpol"}) { totalCount } }`, nil, &packs)
		require.Zero(t, packs.Packs.TotalCount, "nothing installed")

		create := `mutation($in: CreatePolicyInput!) { createPolicy(input: $in) { policy { ref concurrencyThreshold concurrencyAction rateLimitMax retryOn } } }`
		e = c.Fail(t, create, map[string]any{"in": map[string]any{"ref": "ops.x", "action": "core.nope", "concurrency": map[string]any{"limit": 0}}})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		require.Contains(t, e.Message, "core.nope not found")
		require.Contains(t, e.Message, "concurrency.limit")
		var pols struct{ ActionPolicies struct{ TotalCount int } }
		c.Must(t, `{ actionPolicies { totalCount } }`, nil, &pols)
		require.Zero(t, pols.ActionPolicies.TotalCount)

		var made struct {
			CreatePolicy struct {
				Policy struct {
					Ref                  string
					ConcurrencyThreshold int
					ConcurrencyAction    string
					RateLimitMax         int
					RetryOn              []string
				}
			}
		}
		c.Must(t, create, map[string]any{"in": map[string]any{"ref": "ops.echo_guard", "action": "core.echo",
			"concurrency": map[string]any{"limit": 3, "method": "cancel"}, "rateLimit": map[string]any{"max_executions": 5, "window_seconds": 60}}}, &made)
		require.Equal(t, 3, made.CreatePolicy.Policy.ConcurrencyThreshold)
		require.Equal(t, "CANCEL", made.CreatePolicy.Policy.ConcurrencyAction)
		require.Equal(t, 5, made.CreatePolicy.Policy.RateLimitMax)
		e = c.Fail(t, create, map[string]any{"in": map[string]any{"ref": "ops.echo_guard", "action": "core.echo", "policyType": "action.retry",
			"parameters": map[string]any{"retry_on": "failure", "max_retry_count": 1}}})
		require.Equal(t, "CONFLICT", e.Code())

		var upd struct {
			UpdatePolicy struct {
				Policy struct {
					Enabled              bool
					ConcurrencyThreshold int
					RetryOn              []string
				}
			}
		}
		c.Must(t, `mutation { updatePolicy(ref: "ops.echo_guard", input: {enabled: false}) { policy { enabled concurrencyThreshold retryOn } } }`, nil, &upd)
		require.False(t, upd.UpdatePolicy.Policy.Enabled)
		require.Equal(t, 3, upd.UpdatePolicy.Policy.ConcurrencyThreshold, "limits kept")
		c.Must(t, `mutation { updatePolicy(ref: "ops.echo_guard", input: {policyType: "action.retry", parameters: {retry_on: "timeout", max_retry_count: 2}}) {
			policy { enabled concurrencyThreshold retryOn } } }`, nil, &upd)
		require.Equal(t, 0, upd.UpdatePolicy.Policy.ConcurrencyThreshold, "limits replaced")
		require.Equal(t, []string{"TIMEOUT"}, upd.UpdatePolicy.Policy.RetryOn)
		e = c.Fail(t, `mutation { updatePolicy(ref: "ops.nope", input: {enabled: true}) { policy { ref } } }`, nil)
		require.Equal(t, "NOT_FOUND", e.Code())
		c.Must(t, `mutation { deletePolicy(ref: "ops.echo_guard") { deletedRef } }`, nil, nil)
		e = c.Fail(t, `mutation { deletePolicy(ref: "ops.echo_guard") { deletedRef } }`, nil)
		require.Equal(t, "NOT_FOUND", e.Code())
	})
}

// postGraphQL sends one request outside the test goroutine (no require).
func postGraphQL(url, query string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	if out["errors"] != nil {
		return nil, fmt.Errorf("%s", b)
	}
	return out, nil
}

// TestConcurrencyPolicyAcrossWorkers: 200 requests at once to an action
// with a concurrency threshold of 2, run by two worker processes on one
// PostgreSQL: never a third RUNNING, counted in the database at every
// change (a trigger keeps the highest count) and by the runs themselves.
func TestConcurrencyPolicyAcrossWorkers(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	api := startServer(t, nil, "-database-url", dbURL, "-roles", "api")
	env := []string{"ATTUNE_WORKER_CONCURRENCY=8", "ATTUNE_WORKER_ISOLATION=off"}
	startServer(t, env, "-database-url", dbURL, "-roles", "api,worker")
	startServer(t, env, "-database-url", dbURL, "-roles", "api,worker")
	logDir := t.TempDir()
	require.NoError(t, os.Chmod(logDir, 0o777))
	addPack(t, dbURL, map[string]string{"pair.sh": counterScript(logDir, "0.05")})

	sdb, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer sdb.Close()
	db := sdb.SQL
	for _, stmt := range []string{
		`CREATE TABLE running_max (n int NOT NULL)`,
		`INSERT INTO running_max VALUES (0)`,
		`CREATE FUNCTION note_running() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			UPDATE running_max SET n = GREATEST(n, (SELECT count(*) FROM executions
				WHERE action_ref = NEW.action_ref AND status IN ('RUNNING', 'CANCELING')));
			RETURN NULL; END $$`,
		`CREATE TRIGGER note_running AFTER UPDATE OF status ON executions FOR EACH ROW
			WHEN (NEW.status = 'RUNNING') EXECUTE FUNCTION note_running()`,
	} {
		_, err := db.ExecContext(t.Context(), stmt)
		require.NoError(t, err, stmt)
	}
	c := client(api, "")
	c.Must(t, `mutation { createPolicy(input: {ref: "e2e.pair", action: "e2e.pair", policyType: "action.concurrency",
		parameters: {threshold: 2, action: "delay"}}) { policy { ref } } }`, nil, nil)

	const n = 200
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := postGraphQL(api.url, `mutation { executeAction(input: {action: "e2e.pair"}) { execution { id } } }`, nil)
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = out["data"].(map[string]any)["executeAction"].(map[string]any)["execution"].(map[string]any)["id"].(string)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*execDeadline)
	defer cancel()
	eventually(t, 3*execDeadline, "all 200 to succeed", func() bool {
		var done int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM executions WHERE action_ref = 'e2e.pair' AND status = 'SUCCEEDED'`).Scan(&done))
		return done == n
	})
	var most int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT n FROM running_max`).Scan(&most))
	require.Equal(t, 2, most, "at most two RUNNING at once, and two reached")
	seen := fileLines(t, filepath.Join(logDir, "seen"))
	require.Len(t, seen, n, "every execution ran once")
	for _, s := range seen {
		require.Contains(t, []string{"1", "2"}, s, "at most two processes at once")
	}
	var workers int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(DISTINCT worker) FROM executions WHERE action_ref = 'e2e.pair'`).Scan(&workers))
	require.Equal(t, 2, workers, "both workers ran some")
}

// TestNotifyRouteReachesAWebhook: an action's notify route fires
// core.st2.generic.notifytrigger when its run ends (by a job inserted with
// the final status); a rule on the route sends the message with core.http
// to a receiver of the test's.
func TestNotifyRouteReachesAWebhook(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		got := make(chan string, 4)
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- string(b)
		}))
		defer recv.Close()
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, nil, "-database-url", dbURL)
		c := client(s, "")
		c.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": st2TriggerPack(t)}, nil)
		createRule(t, c, map[string]any{
			"ref": "st2hooks.page", "pack": "st2hooks", "trigger": "core.st2.generic.notifytrigger", "action": "core.http",
			"criteria": map[string]any{"trigger.route": map[string]any{"type": "equals", "pattern": "pager"}},
			"actionParams": map[string]any{"url": recv.URL + "/hook", "method": "POST",
				"headers": map[string]any{"Content-Type": "application/json"},
				"body":    `{"text": "{{ trigger.message }}", "status": "{{ trigger.status }}"}`},
		})
		id := runAction(t, c, "st2hooks.hello", map[string]any{"who": "bob"})
		require.Equal(t, "SUCCEEDED", awaitFinal(t, c, id).Status)
		select {
		case body := <-got:
			require.JSONEq(t, `{"text": "said hello to bob", "status": "succeeded"}`, body)
		case <-time.After(execDeadline):
			t.Fatal("the notification did not reach the receiver")
		}
		// The triggers' job was inserted with the final status and ran:
		// they are emitted even if no node heard the announcement.
		sdb, err := store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		defer sdb.Close()
		eventually(t, execDeadline, "the triggers job to complete", func() bool {
			var n int
			require.NoError(t, sdb.SQL.QueryRowContext(t.Context(),
				`SELECT count(*) FROM river_job WHERE kind = 'execution_triggers' AND state = 'completed'`).Scan(&n))
			return n >= 1
		})
	})
}

// TestRerunExecution: a re-run has the original's action and parameters,
// overrides merged, and rerunOf; secret parameters are never read from the
// redacted copy: once the original ran they must be given again.
func TestRerunExecution(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startOn(t, backend)
		c := client(s, "")
		pack := writeTree(t, map[string]string{
			"pack.yaml":         "ref: again\nversion: 1.0.0\n",
			"actions/say.yaml":  "name: say\nrunner_type: shell\nentry_point: say.sh\nparameters:\n  word: {type: string, required: true}\n  times: {type: integer, default: 1}\n  token: {type: string, secret: true}\n",
			"actions/say.sh":    "#!/usr/bin/env bash\ncat | rev\n",
			"actions/wait.yaml": "name: wait\nrunner_type: shell\nentry_point: wait.sh\nparameters:\n  token: {type: string, secret: true}\n",
			"actions/wait.sh":   "#!/usr/bin/env bash\nsleep 1\ncat | rev\n",
			"policies/one.yaml": "name: wait.one\nresource_ref: again.wait\npolicy_type: action.concurrency\nparameters: {threshold: 1}\n",
		})
		c.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": pack}, nil)
		id := runAction(t, c, "again.say", map[string]any{"word": "hi", "times": 2})
		require.Equal(t, "SUCCEEDED", awaitFinal(t, c, id).Status)

		rerun := `mutation($id: ID!, $p: JSON) { rerunExecution(input: {id: $id, parameters: $p}) { id parameters rerunOf { id } } }`
		var out struct {
			RerunExecution struct {
				ID         string
				Parameters map[string]any
				RerunOf    struct{ ID string }
			}
		}
		c.Must(t, rerun, map[string]any{"id": id, "p": map[string]any{"word": "bye"}}, &out)
		require.Equal(t, id, out.RerunExecution.RerunOf.ID)
		require.Equal(t, map[string]any{"word": "bye", "times": 2.0}, out.RerunExecution.Parameters)
		var ex struct {
			Execution struct{ Status, Stdout string }
		}
		require.Equal(t, "SUCCEEDED", awaitFinal(t, c, out.RerunExecution.ID).Status)
		c.Must(t, `query($id: ID!) { execution(id: $id) { status stdout } }`, map[string]any{"id": out.RerunExecution.ID}, &ex)
		require.Contains(t, ex.Execution.Stdout, `"eyb":"drow"`, "stdin reversed")

		// A secret: gone once the original ran, so it must be given again.
		withSecret := runAction(t, c, "again.say", map[string]any{"word": "s", "token": "hunter2"})
		require.Equal(t, "SUCCEEDED", awaitFinal(t, c, withSecret).Status)
		e := c.Fail(t, rerun, map[string]any{"id": withSecret})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		require.Contains(t, e.Message, "token")
		c.Must(t, rerun, map[string]any{"id": withSecret, "p": map[string]any{"token": "hunter3"}}, &out)
		require.Equal(t, "********", out.RerunExecution.Parameters["token"])
		require.Equal(t, "SUCCEEDED", awaitFinal(t, c, out.RerunExecution.ID).Status)
		c.Must(t, `query($id: ID!) { execution(id: $id) { status stdout } }`, map[string]any{"id": out.RerunExecution.ID}, &ex)
		require.Contains(t, ex.Execution.Stdout, "3retnuh")

		// Still sealed: a DELAYED execution has not started, so its re-run
		// takes the secret from the sealed copy.
		first := runAction(t, c, "again.wait", nil)
		held := runAction(t, c, "again.wait", map[string]any{"token": "swordfish"})
		eventually(t, execDeadline, "the second wait to be delayed", func() bool { return getPoliced(t, c, held).Status == "DELAYED" })
		c.Must(t, rerun, map[string]any{"id": held}, &out)
		for _, id := range []string{first, held, out.RerunExecution.ID} {
			require.Equal(t, "SUCCEEDED", awaitFinal(t, c, id).Status)
		}
		c.Must(t, `query($id: ID!) { execution(id: $id) { status stdout } }`, map[string]any{"id": out.RerunExecution.ID}, &ex)
		require.Contains(t, ex.Execution.Stdout, "hsifdrows")

		e = c.Fail(t, rerun, map[string]any{"id": "999999"})
		require.Equal(t, "NOT_FOUND", e.Code())
		e = c.Fail(t, rerun, map[string]any{"id": id, "p": map[string]any{"times": "many"}})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
	})
}
