package execution

import (
	"context"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/store"
)

// Inquiries runs the actions that ask a person (StackStorm's core.ask,
// runner inquirer; internal/inquiry implements it). The execution package
// calls it where an execution's life meets its inquiry's: a worker claimed
// an asking action, an asking execution is canceled.
type Inquiries interface {
	// Handles reports whether act asks a person.
	Handles(act *ent.Action) bool
	// Ask creates the inquiry of execution e, which worker claimed
	// (RUNNING), with its parameters params (secrets included): in one
	// transaction e becomes PENDING and the inquiry is stored. An error
	// fails e with that cause (a preparation failure).
	Ask(ctx context.Context, e *ent.Execution, act *ent.Action, params map[string]any, worker string) error
	// CancelTx ends, inside tx, the PENDING execution e and its inquiry
	// CANCELED. It reports false when e was no longer PENDING.
	CancelTx(ctx context.Context, tx *store.Tx, e *ent.Execution) (bool, error)
}

// SetInquiries sets who runs asking actions (before the queue starts).
func (s *Service) SetInquiries(i Inquiries) { s.opts.Inquiries = i }

// ask hands a claimed asking action to the inquiries; the execution then
// stays PENDING, owned by no running process, until the inquiry ends. One
// that cannot ask fails with the cause.
func (w *Worker) ask(ctx context.Context, c *claimed) error {
	params := make(map[string]any, len(c.exec.Parameters)+len(c.secrets))
	for k, v := range c.exec.Parameters {
		params[k] = v
	}
	for k, v := range c.secrets {
		params[k] = v
	}
	err := w.svc.opts.Inquiries.Ask(ctx, c.exec, c.action, params, w.opts.Name)
	if err == nil {
		return nil
	}
	return w.failPrepared(ctx, c, err, "inquiry changed before it was asked; outcome not recorded")
}
