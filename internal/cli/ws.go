package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Subscription documents; their results decode into the fragment types
// genqlient generated for operations.graphql.
const (
	executionUpdatedDoc = `subscription($id: ID) { executionUpdated(id: $id) {
  id actionRef packRef status parameters result exitCode error requestedAt requestedBy startedAt finishedAt duration parentID } }`
	executionOutputDoc = `subscription($id: ID!, $from: Int) { executionOutput(id: $id, from: $from) { seq stream line } }`
	packInstallDoc     = `subscription($id: ID!) { packInstallProgress(id: $id) { id source packRef version status step steps error } }`
)

// subscribe runs one graphql-transport-ws subscription, calling next with
// each result's data until the server completes the stream (nil), next
// returns an error, the server sends errors, or ctx ends.
func (a *app) subscribe(ctx context.Context, doc string, vars map[string]any, next func(json.RawMessage) error) error {
	c, err := a.connect()
	if err != nil {
		return err
	}
	u := "ws" + strings.TrimPrefix(c.url, "http") + "/graphql"
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return fmt.Errorf("websocket %s: %w", u, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(32 << 20)
	init := map[string]any{}
	if c.token != "" {
		init["Authorization"] = "Bearer " + c.token
	}
	if err := wsjson.Write(ctx, ws, map[string]any{"type": "connection_init", "payload": init}); err != nil {
		return err
	}
	if err := wsjson.Write(ctx, ws, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": doc, "variables": vars}}); err != nil {
		return err
	}
	for {
		var msg struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, ws, &msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) && ce.Code == 4403 {
				return gqlerror.List{{Message: "forbidden: " + ce.Reason, Extensions: map[string]any{"code": "FORBIDDEN"}}}
			}
			if errors.As(err, &ce) && (ce.Code == 4401 || ce.Code == 4400) {
				return gqlerror.List{{Message: ce.Reason, Extensions: map[string]any{"code": "UNAUTHENTICATED"}}}
			}
			return fmt.Errorf("subscription: %w", err)
		}
		switch msg.Type {
		case "connection_ack", "pong":
		case "ping":
			_ = wsjson.Write(ctx, ws, map[string]any{"type": "pong"})
		case "next":
			var r struct {
				Data   json.RawMessage `json:"data"`
				Errors gqlerror.List   `json:"errors"`
			}
			if err := json.Unmarshal(msg.Payload, &r); err != nil {
				return err
			}
			if len(r.Errors) > 0 {
				return r.Errors
			}
			if err := next(r.Data); err != nil {
				return err
			}
		case "error":
			var errs gqlerror.List
			_ = json.Unmarshal(msg.Payload, &errs)
			if len(errs) == 0 {
				errs = gqlerror.List{{Message: string(msg.Payload)}}
			}
			return errs
		case "complete":
			_ = ws.Close(websocket.StatusNormalClosure, "")
			return nil
		}
	}
}
