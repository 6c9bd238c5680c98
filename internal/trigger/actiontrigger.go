package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// StackStorm's execution triggers (st2actions/notifier/notifier.py).
const (
	// ActionTrigger fires when an execution ends.
	ActionTrigger = "core.st2.generic.actiontrigger"
	// NotifyTrigger fires for each route of an action's notify settings
	// when its run ends.
	NotifyTrigger = "core.st2.generic.notifytrigger"
)

// resyncWindow is how far back a resync of the notifications looks for
// ended runs whose triggers may have been missed.
const resyncWindow = 5 * time.Minute

// finalStatuses are the statuses that end a run, as StackStorm names them.
var finalStatuses = map[execution.Status]string{
	execution.StatusSUCCEEDED: "succeeded",
	execution.StatusFAILED:    "failed",
	execution.StatusTIMEOUT:   "timeout",
	execution.StatusCANCELED:  "canceled",
	execution.StatusABANDONED: "abandoned",
}

// ExecutionTriggers emits StackStorm's action and notify triggers when
// executions end. Every node running it hears each final status (the
// notify bus reaches all nodes) and emits with a dedupe key per execution
// (and route), so the event is stored once whichever nodes run it; no node
// is special. Events are emitted only while an enabled rule uses the
// trigger: nothing else consumes them.
type ExecutionTriggers struct {
	db     *store.DB
	engine *rule.Engine
	bus    *notify.Bus
	log    *slog.Logger

	stop context.CancelFunc
	done chan struct{}
}

// NewExecutionTriggers returns ExecutionTriggers emitting through engine.
func NewExecutionTriggers(db *store.DB, engine *rule.Engine, bus *notify.Bus, log *slog.Logger) *ExecutionTriggers {
	if log == nil {
		log = slog.Default()
	}
	return &ExecutionTriggers{db: db, engine: engine, bus: bus, log: log}
}

// Start listens for final statuses until Stop.
func (x *ExecutionTriggers) Start(ctx context.Context) {
	ctx, x.stop = context.WithCancel(context.WithoutCancel(ctx))
	x.done = make(chan struct{})
	sub := x.bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == notify.Status })
	go func() {
		defer close(x.done)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			var ids []int
			resync := false
			for _, ev := range sub.Take() {
				switch ev.Kind {
				case notify.Status:
					ids = append(ids, ev.ID)
				case notify.Resync:
					resync = true
				}
			}
			if resync {
				// Statuses may have been missed while the listener
				// reconnected: look at the runs that ended lately (the
				// dedupe keys make a second emission store nothing).
				recent, err := x.db.Ent.Execution.Query().
					Where(execution.FinishedAtGT(time.Now().Add(-resyncWindow))).IDs(ctx)
				if err != nil && ctx.Err() == nil {
					x.log.Warn("listing executions after a resync", "error", err)
				}
				ids = append(ids, recent...)
			}
			if err := x.Handle(ctx, ids...); err != nil && ctx.Err() == nil {
				x.log.Warn("emitting execution triggers", "error", err)
			}
		}
	}()
}

// Stop stops listening. Safe to call twice.
func (x *ExecutionTriggers) Stop() {
	if x.stop == nil {
		return
	}
	x.stop()
	<-x.done
}

// Handle emits the triggers of those of the executions that have ended.
func (x *ExecutionTriggers) Handle(ctx context.Context, ids ...int) error {
	if len(ids) == 0 {
		return nil
	}
	used, err := x.db.Ent.Rule.Query().
		Where(entrule.TriggerRefIn(ActionTrigger, NotifyTrigger), entrule.Enabled(true)).
		Select(entrule.FieldTriggerRef).Strings(ctx)
	if err != nil || len(used) == 0 {
		return err
	}
	wantAction, wantNotify := false, false
	for _, ref := range used {
		wantAction = wantAction || ref == ActionTrigger
		wantNotify = wantNotify || ref == NotifyTrigger
	}
	final := make([]execution.Status, 0, len(finalStatuses))
	for s := range finalStatuses {
		final = append(final, s)
	}
	exs, err := x.db.Ent.Execution.Query().Where(execution.IDIn(ids...), execution.StatusIn(final...)).
		WithAction().All(ctx)
	if err != nil {
		return fmt.Errorf("loading executions: %w", err)
	}
	var errs []error
	for _, e := range exs {
		if wantAction {
			errs = append(errs, x.emit(ctx, ActionTrigger, fmt.Sprintf("st2.actiontrigger:%d", e.ID), actionPayload(e)))
		}
		if wantNotify && e.Edges.Action != nil {
			for _, n := range notifications(e) {
				errs = append(errs, x.emit(ctx, NotifyTrigger, fmt.Sprintf("st2.notifytrigger:%d:%s:%s", e.ID, n.section, n.route), n.payload))
			}
		}
	}
	return errors.Join(errs...)
}

func (x *ExecutionTriggers) emit(ctx context.Context, trigger, key string, payload map[string]any) error {
	_, err := x.engine.Emit(ctx, rule.Emission{Trigger: trigger, Payload: payload, Source: "notifier", DedupeKey: key})
	if errors.Is(err, rule.ErrDuplicate) {
		return nil
	}
	return err
}

// actionPayload is StackStorm's actiontrigger payload of a finished run.
func actionPayload(e *ent.Execution) map[string]any {
	return map[string]any{
		"execution_id":    strconv.Itoa(e.ID),
		"status":          finalStatuses[e.Status],
		"start_timestamp": pythonTime(startOf(e)),
		"action_name":     e.ActionRef,
		"action_ref":      e.ActionRef,
		"runner_ref":      runnerRef(e),
		"parameters":      orEmpty(e.Parameters),
		"result":          resultOf(e),
	}
}

func startOf(e *ent.Execution) time.Time {
	if e.StartedAt != nil {
		return *e.StartedAt
	}
	return e.RequestedAt
}

// runnerRef is the action's runner as StackStorm names it.
func runnerRef(e *ent.Execution) string {
	if e.Edges.Action == nil {
		return ""
	}
	return e.Edges.Action.RunnerName
}

func resultOf(e *ent.Execution) any {
	var v any
	if len(e.Result) > 0 {
		_ = json.Unmarshal(e.Result, &v)
	}
	return v
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// notification is one notifytrigger event of a run.
type notification struct {
	section, route string
	payload        map[string]any
}

// notifySections are StackStorm's notify settings in the order its
// notifier fires them, with the default message's last word and whether a
// status selects the section.
var notifySections = []struct {
	names  []string
	suffix string
	when   func(execution.Status) bool
}{
	{[]string{"on-complete", "on_complete"}, "completed.", func(execution.Status) bool { return true }},
	{[]string{"on-success", "on_success"}, "succeeded.", func(s execution.Status) bool { return s == execution.StatusSUCCEEDED }},
	{[]string{"on-failure", "on_failure"}, "failed.", func(s execution.Status) bool {
		return s == execution.StatusFAILED || s == execution.StatusTIMEOUT || s == execution.StatusABANDONED
	}},
}

// notifications are the notifytrigger events of a finished run, per its
// action's notify settings: for each section the status selects, one per
// route, with the message and data rendered against action_parameters,
// action_results and action_context (a template that fails to render is
// kept as written, as StackStorm keeps it).
func notifications(e *ent.Execution) []notification {
	settings := e.Edges.Action.Notify
	if len(settings) == 0 {
		return nil
	}
	end := time.Now()
	if e.FinishedAt != nil {
		end = *e.FinishedAt
	}
	result := resultOf(e)
	tctx := rule.Context{
		"action_parameters": orEmpty(e.Parameters),
		"action_results":    result,
		"action_context":    map[string]any{},
	}
	var out []notification
	for _, sec := range notifySections {
		var raw map[string]any
		var name string
		for _, n := range sec.names {
			if m, ok := settings[n].(map[string]any); ok {
				raw, name = m, sec.names[0]
				break
			}
		}
		if raw == nil || !sec.when(e.Status) {
			continue
		}
		routes := stringsOf(raw["routes"])
		if len(routes) == 0 {
			routes = stringsOf(raw["channels"])
		}
		if len(routes) == 0 {
			continue
		}
		message, _ := raw["message"].(string)
		if message == "" {
			message = "Action " + e.ActionRef + " " + sec.suffix
		}
		if r, err := rule.Render(map[string]any{"message": message}, tctx); err == nil {
			if s, ok := r["message"].(string); ok {
				message = s
			}
		}
		data, _ := raw["data"].(map[string]any)
		if r, err := rule.Render(orEmpty(data), tctx); err == nil {
			data = r
		}
		data = copyMap(data)
		res, _ := json.Marshal(result)
		data["result"] = string(res)
		for _, route := range routes {
			out = append(out, notification{section: name, route: route, payload: map[string]any{
				"execution_id":    strconv.Itoa(e.ID),
				"status":          finalStatuses[e.Status],
				"start_timestamp": isoTime(startOf(e)),
				"end_timestamp":   isoTime(end),
				"action_ref":      e.ActionRef,
				"runner_ref":      runnerRef(e),
				"route":           route,
				"channel":         route,
				"message":         message,
				"data":            data,
			}})
		}
	}
	return out
}

func stringsOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, item := range list {
		if s, ok := item.(string); ok && strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// isoTime is StackStorm's isotime.format of t: microseconds and an offset.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}
