package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/attune-io/attune/ent"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/rule"
)

// StackStorm's webhooks (st2api/controllers/v1/webhooks.py).
const (
	// St2Webhook is StackStorm's webhook trigger; a rule's url parameter
	// names the hook.
	St2Webhook = "core.st2.webhook"
	// St2PathPrefix is where StackStorm serves its webhooks: St2PathPrefix + url.
	St2PathPrefix = "/api/v1/webhooks/"
	// st2SystemHook is the hook whose body names the trigger and payload.
	st2SystemHook = "st2"
	// st2TraceTagHeader carries a trace tag, which is not part of the payload.
	st2TraceTagHeader = "St2-Trace-Tag"
)

// st2AuthHeaders are left out of the payload's headers, as StackStorm
// leaves them out (plus attune's own Authorization).
var st2AuthHeaders = []string{"X-Auth-Token", "St2-Api-Key", "Cookie", "Authorization", st2TraceTagHeader}

// ErrNoHook: no enabled rule of core.st2.webhook has this url (404).
var ErrNoHook = errors.New("webhook not registered")

// St2Request is one call of a StackStorm webhook.
type St2Request struct {
	// Hook is the path after St2PathPrefix.
	Hook   string
	Header http.Header
	Body   []byte
	// Allowed, when set, says whether the caller may emit for a ref (a
	// rule's, or the trigger's for the "st2" hook); refs it refuses are
	// left out, as if they did not exist.
	Allowed func(ref string) bool
}

// St2Response is what a StackStorm webhook call did.
type St2Response struct {
	// Body is the request body as decoded, which StackStorm echoes.
	Body   any
	Events []*ent.Event
}

// ReceiveSt2 handles a StackStorm webhook call. For the "st2" hook the body
// is {trigger, payload} and the payload is emitted to that trigger. For any
// other hook, {headers, headers_lower, body} is emitted to each enabled
// rule of core.st2.webhook whose url parameter is the hook (leading and
// trailing slashes ignored), one event per rule. Errors: ErrNoHook,
// BAD_USER_INPUT for a body that cannot be read, and the emission's.
func (w *Webhooks) ReceiveSt2(ctx context.Context, req St2Request) (*St2Response, error) {
	hook := strings.Trim(req.Hook, "/")
	body, err := decodeBody(req.Header.Get("Content-Type"), req.Body)
	if err != nil {
		return nil, err
	}
	allowed := req.Allowed
	if allowed == nil {
		allowed = func(string) bool { return true }
	}
	res := &St2Response{Body: body}
	if hook == st2SystemHook {
		obj, ok := body.(map[string]any)
		if !ok {
			return nil, apperr.Errorf(apperr.BadUserInput, "Webhook body needs to be an object, got: %s", jsonType(body))
		}
		ref, _ := obj["trigger"].(string)
		if ref == "" {
			return nil, apperr.Errorf(apperr.BadUserInput, "Trigger not specified.")
		}
		if !allowed(ref) {
			return nil, apperr.Errorf(apperr.NotFound, "trigger %q not found", ref)
		}
		payload, _ := obj["payload"].(map[string]any)
		ev, err := w.engine.Emit(ctx, rule.Emission{Trigger: ref, Payload: payload, Source: rule.SourceWebhook})
		if err != nil {
			return nil, err
		}
		res.Events = append(res.Events, ev)
		return res, nil
	}
	rules, err := w.db.Ent.Rule.Query().Where(entrule.TriggerRef(St2Webhook), entrule.Enabled(true)).
		Order(entrule.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading webhook rules: %w", err)
	}
	headers, lower := map[string]any{}, map[string]any{}
	for k, v := range req.Header {
		if isAuthHeader(k) {
			continue
		}
		headers[k] = strings.Join(v, ", ")
		lower[strings.ToLower(k)] = headers[k]
	}
	payload := map[string]any{"headers": headers, "headers_lower": lower, "body": body}
	for _, r := range rules {
		u, _ := r.TriggerParams["url"].(string)
		if strings.Trim(u, "/") != hook || !allowed(r.Ref) {
			continue
		}
		ev, err := w.engine.Emit(ctx, rule.Emission{Trigger: St2Webhook, Rule: r.Ref, Payload: payload, Source: rule.SourceWebhook})
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Ref, err)
		}
		res.Events = append(res.Events, ev)
	}
	if len(res.Events) == 0 {
		return nil, ErrNoHook
	}
	return res, nil
}

func isAuthHeader(k string) bool {
	for _, h := range st2AuthHeaders {
		if strings.EqualFold(k, h) {
			return true
		}
	}
	return false
}

// decodeBody reads a webhook body as StackStorm does: JSON (the default),
// or a form (application/x-www-form-urlencoded) as an object of strings.
func decodeBody(contentType string, raw []byte) (any, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, apperr.Errorf(apperr.BadUserInput, "the body is not a valid form: %v", err)
		}
		out := map[string]any{}
		for k, v := range vals {
			if len(v) == 1 {
				out[k] = v[0]
			} else {
				out[k] = v
			}
		}
		return out, nil
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{}, nil
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, apperr.Errorf(apperr.BadUserInput, "the body is not valid JSON: %v", err)
	}
	return body, nil
}

// jsonType names a decoded JSON value's type as StackStorm's message does.
func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
