package gqltest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Subscription is an open graphql-transport-ws subscription.
type Subscription struct {
	conn *websocket.Conn
}

// Subscribe opens a websocket to the client's URL with the
// graphql-transport-ws protocol, sends connection_init (with payload, for
// tokens) and subscribes to query. The connection closes with the test.
func (c *Client) Subscribe(tb testing.TB, ctx context.Context, query string, vars map[string]any, initPayload map[string]any) *Subscription {
	tb.Helper()
	s, err := c.TrySubscribe(ctx, query, vars, initPayload)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.conn.CloseNow() })
	return s
}

// TrySubscribe is Subscribe returning an error instead of failing, for
// tests of refused connections. The caller closes it with Close.
func (c *Client) TrySubscribe(ctx context.Context, query string, vars map[string]any, initPayload map[string]any) (*Subscription, error) {
	url := "ws" + strings.TrimPrefix(c.URL, "http")
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header(c.Header),
	})
	if err != nil {
		return nil, fmt.Errorf("websocket dial %s: %w", url, err)
	}
	conn.SetReadLimit(16 << 20)
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": initPayload}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	var ack struct{ Type string }
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("connection_ack expected, got %q (%v)", ack.Type, err)
	}
	if err := wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	return &Subscription{conn: conn}, nil
}

// Close closes the connection.
func (s *Subscription) Close() { _ = s.conn.CloseNow() }

// Next returns the next result's data, or the errors it carried. It
// returns io.EOF-like error "complete" when the server ends the stream.
func (s *Subscription) Next(ctx context.Context) (Response, error) {
	for {
		var msg struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, s.conn, &msg); err != nil {
			return Response{}, err
		}
		switch msg.Type {
		case "next":
			var r Response
			if err := json.Unmarshal(msg.Payload, &r); err != nil {
				return Response{}, err
			}
			return r, nil
		case "error":
			var errs []Error
			_ = json.Unmarshal(msg.Payload, &errs)
			return Response{Errors: errs}, nil
		case "complete":
			return Response{}, ErrComplete
		case "ping":
			_ = wsjson.Write(ctx, s.conn, map[string]any{"type": "pong"})
		}
	}
}

// ErrComplete is returned by Next after the server completed the stream.
var ErrComplete = fmt.Errorf("subscription complete")
