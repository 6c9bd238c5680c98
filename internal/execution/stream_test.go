package execution_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	entexec "github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/executionoutput"
	"github.com/attune-io/attune/internal/dbtest"
)

// TestStreamWhileRunning: a running execution's stdout and stderr are the
// lines stored so far; a finished one's are its stored text.
func TestStreamWhileRunning(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, nil, setupOptions{insertOnly: true})
		ctx := t.Context()
		e := b.db.Ent.Execution.Create().SetActionRef("tp.x").SetStatus(entexec.StatusRUNNING).SaveX(ctx)
		for i, l := range []struct{ stream, line string }{{"stdout", "one"}, {"stderr", "oops"}, {"stdout", "two"}} {
			b.db.Ent.ExecutionOutput.Create().SetExecutionID(e.ID).SetSeq(i).
				SetStream(executionoutput.Stream(l.stream)).SetLine(l.line).ExecX(ctx)
		}
		out, err := b.svc.Stream(ctx, e, "stdout")
		require.NoError(t, err)
		require.Equal(t, "one\ntwo\n", out)
		errOut, err := b.svc.Stream(ctx, e, "stderr")
		require.NoError(t, err)
		require.Equal(t, "oops\n", errOut)

		done := b.db.Ent.Execution.UpdateOne(e).SetStatus(entexec.StatusSUCCEEDED).SetStdout("final\n").SaveX(ctx)
		out, err = b.svc.Stream(ctx, done, "stdout")
		require.NoError(t, err)
		require.Equal(t, "final\n", out)
	})
}
