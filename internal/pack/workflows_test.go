package pack_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/pack"
)

// workflowProblems installs files and returns the install's problems, one string each.
func workflowProblems(t *testing.T, b *bundle, files map[string]string, force bool) []string {
	t.Helper()
	_, err := b.svc.Install(t.Context(), pack.Request{Source: writePack(t, files), Force: force})
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.BadUserInput, e.Code, e.Message)
	probs, _ := e.Details["problems"].([]map[string]any)
	var out []string
	for _, p := range probs {
		s := p["file"].(string) + ":" + strconv.Itoa(p["line"].(int))
		if task, ok := p["task"]; ok {
			s += ": task " + task.(string)
		}
		out = append(out, s+": "+p["field"].(string)+": "+p["message"].(string))
	}
	return out
}

// TestWorkflowActionsMustExist: a workflow's actions are the pack's own or installed ones of
// other packs; the version of the pack an upgrade replaces does not count, an action the
// parser already refused is not reported twice, and an invalid workflow refuses its pack
// even when everything else is fine.
func TestWorkflowActionsMustExist(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		v1 := shellPack("wf", "1.0.0", map[string]string{
			"actions/flow.yaml":           "runner_type: orquesta\nentry_point: workflows/flow.yaml\n",
			"actions/workflows/flow.yaml": "version: 1.0\ntasks:\n  one:\n    action: wf.hello\n",
		})
		v1["actions/quiet.yaml"] = "runner_type: shell\nentry_point: hello.sh\n"
		v1["actions/chains/c.yaml"] = "chain:\n  - {name: a, ref: wf.quiet, params: {anything: 1}}\n"
		v1["actions/c.yaml"] = "runner_type: action-chain\nentry_point: chains/c.yaml\n"
		_, err := b.svc.Install(t.Context(), pack.Request{Source: writePack(t, v1)})
		require.NoError(t, err, "an action that declares no parameters takes any")

		// Another pack may run wf.hello; its workflow's other problems come with it.
		other := shellPack("other", "1.0.0", map[string]string{
			"actions/flow.yaml": "runner_type: orquesta\nentry_point: workflows/flow.yaml\n",
			"actions/workflows/flow.yaml": "version: 1.0\ntasks:\n  one:\n    action: wf.hello who=\"x\" bogus=1\n" +
				"  two:\n    action: echo\n  three:\n    action: wf.gone\n",
		})
		require.Equal(t, []string{
			"actions/workflows/flow.yaml:4: task one: tasks.one.input.bogus: action \"wf.hello\" has unexpected input \"bogus\"",
			"actions/workflows/flow.yaml:6: task two: tasks.two.action: \"echo\" is not an action ref: write pack.name",
			"actions/workflows/flow.yaml:8: task three: tasks.three.action: the action \"wf.gone\" is not registered",
		}, workflowProblems(t, b, other, false))

		// v2 drops hello but its workflow still runs it: the installed v1's hello does not count.
		v2 := shellPack("wf", "2.0.0", map[string]string{
			"actions/flow.yaml":           "runner_type: orquesta\nentry_point: workflows/flow.yaml\n",
			"actions/workflows/flow.yaml": "version: 1.0\ntasks:\n  one:\n    action: wf.hello\n",
			"actions/hello.yaml":          "runner_type: shell\nentry_point: hello.sh\nname: greet\n",
			"rules/on_ping.yaml":          "trigger: ping\naction: greet\n",
		})
		require.Equal(t, []string{
			"actions/workflows/flow.yaml:4: task one: tasks.one.action: the action \"wf.hello\" is not registered",
		}, workflowProblems(t, b, v2, true))
		p, err := b.db.Ent.Pack.Query().Only(t.Context())
		require.NoError(t, err)
		require.Equal(t, "1.0.0", p.Version, "the refused upgrade left v1 installed")
	})
}
