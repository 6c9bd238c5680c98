package inproc

import (
	"context"
	"fmt"

	"github.com/attune-io/attune/internal/manifest"
)

// AnnouncementTrigger is the core trigger whose events the announcement
// runner emits: {route, payload}, payload being the action's parameters.
// Rules match a route with criteria on trigger.route; event subscribers see
// them on the event stream, as StackStorm's stream consumers see
// st2.announcement__<route>.
const AnnouncementTrigger = "core.announcement"

// announce is StackStorm's announcement runner: it refuses to run unless the
// action acknowledges the runner is experimental, publishes the action's
// parameters on the route and returns them, also under "output".
func announce(ctx context.Context, o Options, req Request) (Outcome, error) {
	p := req.Parameters
	if !boolean(p, "experimental", false) {
		return Outcome{}, prepErr("Experimental flag is missing for action %s", req.ActionRef)
	}
	route := str(p, "route")
	if route == "" {
		route = "general"
	}
	if o.Events == nil {
		return Outcome{}, prepErr("this worker cannot emit events")
	}
	params := actionParameters(manifest.St2Announcement, p)
	id, err := o.Events.EmitEvent(ctx, AnnouncementTrigger, map[string]any{"route": route, "payload": params}, req.ActionRef)
	if err != nil {
		return failed(fmt.Sprintf("announcing on route %q: %v", route, err)), nil
	}
	result := map[string]any{"output": params}
	for k, v := range params {
		result[k] = v
	}
	o.Logger.Debug("announcement", "route", route, "event_id", id, "action", req.ActionRef)
	return Outcome{Status: Succeeded, Result: result}, nil
}

// injectTrigger is core.inject_trigger: it emits an event of trigger (or
// trigger_name) with payload. Unlike StackStorm, whose action posts to an
// asynchronous webhook and cannot tell whether the event was stored, the
// event is stored before the action ends, and an unknown or disabled trigger
// or a payload its schema refuses fails the action. The result has the
// python-script shape StackStorm's action gives: {result: {trigger, payload,
// trace_tag, event_id}, stdout, stderr, exit_code}.
func injectTrigger(ctx context.Context, o Options, req Request) (Outcome, error) {
	p := req.Parameters
	trigger, name := str(p, "trigger"), str(p, "trigger_name")
	if trigger != "" && name != "" {
		return Outcome{}, prepErr("Parameters `trigger` and `trigger_name` are mutually exclusive.")
	}
	if trigger == "" {
		trigger = name
	}
	if trigger == "" {
		return Outcome{}, prepErr("You must include the `trigger_name` parameter.")
	}
	payload, _ := p["payload"].(map[string]any)
	if payload == nil {
		payload = map[string]any{}
	}
	if o.Events == nil {
		return Outcome{}, prepErr("this worker cannot emit events")
	}
	id, err := o.Events.EmitEvent(ctx, trigger, payload, req.ActionRef)
	if err != nil {
		msg := fmt.Sprintf("injecting trigger %s: %v", trigger, err)
		return Outcome{Status: Failed, ExitCode: 1, Error: msg, Stderr: msg + "\n",
			Result: map[string]any{"result": nil, "stdout": "", "stderr": msg, "exit_code": 1}}, nil
	}
	inner := map[string]any{"trigger": trigger, "payload": payload, "trace_tag": p["trace_tag"], "event_id": id}
	return Outcome{Status: Succeeded, Result: map[string]any{"result": inner, "stdout": "", "stderr": "", "exit_code": 0}}, nil
}
