package rule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/event"
	"github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// Event sources recorded in Event.source_ref when no sensor emitted it.
const (
	SourceAPI     = "api"
	SourceWebhook = "webhook"
	SourceTimer   = "timer"
)

// Emission is one occurrence of a trigger, from any source.
type Emission struct {
	// Trigger is the trigger's ref.
	Trigger string
	// Payload is the event data the rules see as trigger.* and event.payload.*.
	Payload map[string]any
	// Source is the emitting sensor's ref, or SourceAPI, SourceWebhook, SourceTimer.
	Source string
	// Rule, when set, limits the event to that rule (a timer tick is for the
	// rule whose parameters scheduled it); empty means every rule of the trigger.
	Rule string
	// SensorID links the event to the sensor that emitted it.
	SensorID *int
	// DedupeKey, when set, makes the emission idempotent: a second emission
	// with the same key stores nothing (timers set it per rule and tick).
	DedupeKey string
}

// ErrDuplicate reports an emission whose DedupeKey was already stored.
var ErrDuplicate = errors.New("event already emitted")

// Emit stores the event and enqueues its rule evaluation in one
// transaction. See EmitTx for the errors.
//
// Emissions that arrive while another is being stored are stored together,
// in one transaction with one evaluation job for all of them (see ingest):
// under load a commit, and on PostgreSQL its WAL flush, serve many events,
// and a worker evaluates them with one look at the rules.
//
// On a node that works evaluation jobs, the events are evaluated in that
// same transaction instead of by a job: the enforcements and executions
// they cause commit with them, before Emit returns, one queue hop and two
// transactions less between a webhook and its execution. If the evaluation
// fails, the events are stored again with an evaluation job, so an
// evaluation's trouble never costs an event.
func (e *Engine) Emit(ctx context.Context, em Emission) (*ent.Event, error) {
	if em.DedupeKey != "" {
		return e.emitOne(ctx, em)
	}
	tr, err := e.checkEmission(ctx, e.db.Ent, em)
	if err != nil {
		return nil, err
	}
	return e.emit(em, tr)
}

// EmitFor is Emit for a caller that has just loaded the trigger (a
// webhook): it is not read again, only checked (enabled, payload schema).
// A trigger deleted meanwhile fails the event's insert, and the event is
// stored again alone with its trigger read anew (NOT_FOUND).
func (e *Engine) EmitFor(ctx context.Context, tr *ent.Trigger, em Emission) (*ent.Event, error) {
	if em.DedupeKey != "" || tr.Ref != em.Trigger {
		return e.Emit(ctx, em)
	}
	if err := checkTrigger(tr, em); err != nil {
		return nil, err
	}
	return e.emit(em, tr)
}

// emit stores a checked emission (and, on a worker node, evaluates it).
func (e *Engine) emit(em Emission, tr *ent.Trigger) (*ent.Event, error) {
	st := e.ingest.add(em, tr)
	return st.ev, st.err
}

// emitOne is Emit of an emission with a DedupeKey, alone in its
// transaction, so a duplicate fails only itself.
func (e *Engine) emitOne(ctx context.Context, em Emission) (*ent.Event, error) {
	var ev *ent.Event
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ev, err = e.EmitTx(ctx, tx, em)
		return err
	})
	if ent.IsConstraintError(err) {
		return nil, ErrDuplicate
	}
	if err != nil {
		return nil, err
	}
	// As stored (its driver goes to the database now): no read-back.
	return ev, nil
}

// EmitTx is Emit inside the caller's transaction: the event and its
// evaluation job exist exactly when tx commits. Returns NOT_FOUND for an
// unknown trigger, BAD_USER_INPUT for a disabled trigger or a payload that
// violates the trigger's payload schema (details "fields"), and
// ErrDuplicate when DedupeKey was already stored. A concurrent emission
// with the same key makes the commit fail with a constraint error, which
// Emit reports as ErrDuplicate.
func (e *Engine) EmitTx(ctx context.Context, tx *store.Tx, em Emission) (*ent.Event, error) {
	ev, err := e.storeEvent(ctx, tx, em)
	if err != nil {
		return nil, err
	}
	if err := e.queue.InsertEvaluationTx(ctx, tx, ev.ID); err != nil {
		return nil, err
	}
	return ev, nil
}

// storeEvent is EmitTx without the evaluation job.
func (e *Engine) storeEvent(ctx context.Context, tx *store.Tx, em Emission) (*ent.Event, error) {
	tr, err := e.checkEmission(ctx, tx.Ent, em)
	if err != nil {
		return nil, err
	}
	if em.DedupeKey != "" {
		dup, err := tx.Ent.Event.Query().Where(event.DedupeKey(em.DedupeKey)).Exist(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking event key: %w", err)
		}
		if dup {
			return nil, ErrDuplicate
		}
	}
	ev, err := eventCreate(tx.Ent, em, tr).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("storing event of %s: %w", tr.Ref, err)
	}
	e.bus.PublishAfterCommit(tx, notify.Event{Kind: notify.EventCreated, ID: ev.ID})
	e.stored(tx, tr.Ref)
	return ev, nil
}

// checkEmission loads the emission's trigger and refuses an unknown or
// disabled one and a payload its schema rejects.
func (e *Engine) checkEmission(ctx context.Context, c *ent.Client, em Emission) (*ent.Trigger, error) {
	tr, err := c.Trigger.Query().Where(trigger.Ref(em.Trigger)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "trigger %q not found", em.Trigger)
	}
	if err != nil {
		return nil, fmt.Errorf("loading trigger %q: %w", em.Trigger, err)
	}
	if err := checkTrigger(tr, em); err != nil {
		return nil, err
	}
	return tr, nil
}

// checkTrigger refuses a disabled trigger and a payload its schema rejects.
func checkTrigger(tr *ent.Trigger, em Emission) error {
	if !tr.Enabled {
		return apperr.Errorf(apperr.BadUserInput, "trigger %q is disabled", em.Trigger)
	}
	return checkPayload(tr, em.Payload)
}

// eventCreate is the insert of em's event.
func eventCreate(c *ent.Client, em Emission, tr *ent.Trigger) *ent.EventCreate {
	payload := asStored(em.Payload)
	ec := c.Event.Create().SetTriggerID(tr.ID).SetTriggerRef(tr.Ref).SetPayload(payload).
		SetSourceRef(em.Source).SetNillableSourceID(em.SensorID).SetRuleRef(em.Rule)
	if em.DedupeKey != "" {
		ec.SetDedupeKey(em.DedupeKey)
	}
	return ec
}

// asStored is payload as the database gives it back (a JSON round trip:
// numbers as float64, no json.Number or Go-typed values), so an event
// evaluated in the transaction that stores it, and the event Emit returns,
// see the payload a later read would.
func asStored(payload map[string]any) map[string]any {
	out := map[string]any{}
	if len(payload) == 0 {
		return out
	}
	raw, err := json.Marshal(payload)
	if err != nil || json.Unmarshal(raw, &out) != nil {
		return payload // storing it fails the same way, with its own error
	}
	return out
}

// checkPayload validates the payload fields the trigger's payload schema
// declares; undeclared fields pass, since senders (webhooks above all)
// often add more than a trigger describes.
func checkPayload(tr *ent.Trigger, payload map[string]any) error {
	schema, err := param.ParseSchema(tr.PayloadSchema)
	if err != nil || len(schema) == 0 {
		// A pack's schema was validated at install; an unparsable one
		// constrains nothing rather than dropping every event.
		return nil //nolint:nilerr // see above
	}
	declared := make(map[string]any, len(schema))
	for name := range schema {
		if v, ok := payload[name]; ok {
			declared[name] = v
		}
	}
	if _, err := schema.Validate(declared); err != nil {
		var pe *param.Error
		if errors.As(err, &pe) {
			return apperr.Errorf(apperr.BadUserInput, "payload does not match trigger %s: %s", tr.Ref, pe.Error()).
				WithDetails("fields", fieldDetails(pe))
		}
		return err
	}
	return nil
}

// fieldDetails lists validation problems for extensions.fields.
func fieldDetails(pe *param.Error) []map[string]string {
	out := make([]map[string]string, len(pe.Fields))
	for i, f := range pe.Fields {
		out[i] = map[string]string{"field": f.Field, "message": f.Message}
	}
	return out
}

// stored counts an event of trigger once tx commits.
func (e *Engine) stored(tx *store.Tx, trigger string) {
	if m := e.opts.Metrics; m != nil {
		tx.AfterCommit(func() { m.Event(trigger) })
	}
}
