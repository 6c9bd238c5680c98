package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
)

// TestRefusedWebsocketClosesUnauthorized: a connection_init without a
// valid token is answered with a close of 4401 and the reason, on both
// subprotocols (the legacy one gets connection_error first), not with
// 1000, which graphql-ws clients take as "reconnect now".
func TestRefusedWebsocketClosesUnauthorized(t *testing.T) {
	t.Parallel()
	s := startServer(t, authEnv())
	tests := []struct {
		name, subprotocol string
		init              map[string]any
		reason            string
	}{
		{"no token", "graphql-transport-ws", nil, "Unauthorized: authentication required"},
		{"wrong token", "graphql-transport-ws", map[string]any{"Authorization": "Bearer att_wrong"}, "Unauthorized: invalid token"},
		{"legacy wrong token", "graphql-ws", map[string]any{"token": "att_wrong"}, "Unauthorized: invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, _, err := dialGraphQL(ctx, s, tt.subprotocol, "")
			require.NoError(t, err)
			defer c.CloseNow()
			payload, err := json.Marshal(tt.init)
			require.NoError(t, err)
			require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "connection_init", Payload: payload}))
			if tt.subprotocol == "graphql-ws" {
				m := readFrame(ctx, t, c)
				require.Equal(t, "connection_error", m.Type)
				require.JSONEq(t, `{"message":"invalid token"}`, string(m.Payload))
			}
			var m wsMessage
			err = wsjson.Read(ctx, c, &m)
			var closed websocket.CloseError
			require.True(t, errors.As(err, &closed), "want a close, got %v (frame %+v)", err, m)
			require.Equal(t, websocket.StatusCode(4401), closed.Code)
			require.Contains(t, closed.Reason, tt.reason)
		})
	}
}

// graphqlWsRefused subscribes with the graphql-ws client (what Apollo's
// GraphQLWsLink runs) and its default retry policy, and reports how it
// ended within argv[4] ms: the error it raised, or that it kept trying.
// It gives up early after 50 connection attempts.
const graphqlWsRefused = `
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');
const [url, token, windowMs] = process.argv.slice(2);
let attempts = 0;
let client;
const done = (out) => {
  process.stdout.write(JSON.stringify({ ...out, attempts }));
  client.dispose();
  process.exit(0);
};
client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { Authorization: 'Bearer ' + token } : {},
  on: { connecting: () => { if (++attempts >= 50) done({ gaveUp: true }); } },
});
client.subscribe({ query: 'subscription { executionUpdated { id status } }' }, {
  next: () => {},
  error: (err) => done({ error: { code: err.code, reason: err.reason, message: err.message } }),
  complete: () => done({ complete: true }),
});
setTimeout(() => done({ timedOut: true }), Number(windowMs));
`

// TestGraphQLWsClientStopsWhenRefused: the real graphql-ws client,
// refused for a wrong or missing token, reports an error after one
// connection attempt instead of reconnecting without end.
func TestGraphQLWsClientStopsWhenRefused(t *testing.T) {
	t.Parallel()
	dir := npmInstall(t, "graphql-ws@6.4.2", "ws@8.23.1", "graphql@16.11.0")
	s := startServer(t, authEnv())
	url := "ws" + s.url[len("http"):] + "/graphql"
	for _, token := range []string{"att_wrong", ""} {
		var got struct {
			Error *struct {
				Code   int
				Reason string
			}
			Attempts int
			GaveUp   bool
			TimedOut bool
		}
		out := runNode(t, dir, t.TempDir(), "refused.cjs", graphqlWsRefused, url, token, "10000")
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.NotNil(t, got.Error, "the subscriber saw no error: %s", out)
		require.Equal(t, 4401, got.Error.Code, out)
		require.Contains(t, got.Error.Reason, "Unauthorized", out)
		require.LessOrEqual(t, got.Attempts, 2, out)
	}
}
