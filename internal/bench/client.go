package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// client talks to one server through its public interfaces only: GraphQL
// over HTTP and websocket, webhooks and the opt-in debug endpoint.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128 // reuse connections: no port exhaustion at high rates
	return &client{base: base, http: &http.Client{Transport: tr}}
}

// gqlError is one GraphQL error.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// do posts a GraphQL operation and decodes data into out (if not nil); any
// GraphQL error is an error.
func (c *client) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fmt.Errorf("encoding request: %w", err)
	}
	raw, status, err := c.post(ctx, "/graphql", body, nil)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("decoding response (HTTP %d): %w: %.300s", status, err, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s %v", r.Errors[0].Message, r.Errors[0].Extensions)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return fmt.Errorf("decoding data: %w", err)
	}
	return nil
}

func (c *client) post(ctx context.Context, path string, body []byte, header http.Header) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("POST %s: %w", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, res.StatusCode, fmt.Errorf("reading response of %s: %w", path, err)
	}
	return raw, res.StatusCode, nil
}

// webhook posts payload to a trigger's webhook and returns the event id.
func (c *client) webhook(ctx context.Context, trigger, key string, payload any) (int64, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("encoding payload: %w", err)
	}
	raw, status, err := c.post(ctx, "/webhooks/"+trigger, body, http.Header{"X-Attune-Webhook-Key": {key}})
	if err != nil {
		return 0, err
	}
	if status != http.StatusAccepted {
		return 0, fmt.Errorf("webhook %s: HTTP %d: %.300s", trigger, status, raw)
	}
	var r struct {
		EventID int64 `json:"eventId"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, fmt.Errorf("decoding webhook response: %w", err)
	}
	return r.EventID, nil
}

// statements is the server's running SQL statement count (debug.sql_stats).
func (c *client) statements(ctx context.Context) (int64, error) {
	st, err := c.sqlStats(ctx)
	return st.Statements, err
}

// sqlStats are the server's running SQL totals (debug.sql_stats).
type sqlStats struct {
	Statements      int64 `json:"statements"`
	PoolMaxOpen     int   `json:"poolMaxOpen"`
	PoolWaits       int64 `json:"poolWaits"`
	PoolWaitedNanos int64 `json:"poolWaitedNanos"`
}

func (c *client) sqlStats(ctx context.Context) (sqlStats, error) {
	var r sqlStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/debug/sqlstats", nil)
	if err != nil {
		return r, fmt.Errorf("building request: %w", err)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return r, fmt.Errorf("GET /debug/sqlstats: %w", err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("decoding /debug/sqlstats (HTTP %d): %w", res.StatusCode, err)
	}
	return r, nil
}

// subscribe opens a graphql-transport-ws subscription and returns once it
// is sent (the server may start it a little later); each result's data
// goes to onData, on the reading goroutine. It ends when ctx does or the
// server completes it.
func (c *client) subscribe(ctx context.Context, query string, vars map[string]any, onData func(json.RawMessage)) error {
	url := "ws" + strings.TrimPrefix(c.base, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return fmt.Errorf("websocket dial %s: %w", url, err)
	}
	conn.SetReadLimit(16 << 20)
	type frame struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	fail := func(err error) error {
		_ = conn.CloseNow()
		return err
	}
	if err := wsjson.Write(ctx, conn, frame{Type: "connection_init"}); err != nil {
		return fail(fmt.Errorf("websocket init: %w", err))
	}
	var ack frame
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		return fail(fmt.Errorf("websocket: connection_ack expected, got %q (%v)", ack.Type, err))
	}
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fail(fmt.Errorf("encoding subscription: %w", err))
	}
	if err := wsjson.Write(ctx, conn, frame{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		return fail(fmt.Errorf("subscribing: %w", err))
	}
	go func() {
		defer conn.CloseNow()
		for {
			var f frame
			if err := wsjson.Read(ctx, conn, &f); err != nil {
				return
			}
			switch f.Type {
			case "next":
				var r struct {
					Data json.RawMessage `json:"data"`
				}
				if json.Unmarshal(f.Payload, &r) == nil && r.Data != nil {
					onData(r.Data)
				}
			case "ping":
				_ = wsjson.Write(ctx, conn, frame{Type: "pong"})
			case "error", "complete":
				return
			}
		}
	}()
	return nil
}
