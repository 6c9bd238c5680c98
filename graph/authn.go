package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
)

// Authenticate resolves the request's bearer token into a principal on its
// context. A bad token does not end the request here: the guard reports
// UNAUTHENTICATED as a GraphQL error with its code. With tokens nil
// (authentication off) every request acts as the system.
func Authenticate(tokens *auth.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch {
		case tokens == nil:
			ctx = auth.WithPrincipal(ctx, auth.System)
		case r.Header.Get("Authorization") != "":
			ctx = withToken(ctx, tokens, r.Header.Get("Authorization"))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func withToken(ctx context.Context, tokens *auth.Service, header string) context.Context {
	token, ok := strings.CutPrefix(strings.TrimSpace(header), "Bearer ")
	if !ok {
		token, _ = strings.CutPrefix(strings.TrimSpace(header), "bearer ")
	}
	p, err := tokens.Authenticate(ctx, token)
	if err != nil {
		return WithAuthError(ctx, err)
	}
	return auth.WithPrincipal(ctx, p)
}

// WebsocketAuth authenticates subscriptions from the connection_init
// payload: {"Authorization": "Bearer <token>"} (as graphql-ws clients send
// headers) or {"token": "<token>"}. A connection without a valid token is
// refused at init: closed with 4401 and the reason (the legacy graphql-ws
// subprotocol also gets connection_error first). A plain close (1000)
// tells the graphql-ws client, and so Apollo's GraphQLWsLink, to
// reconnect at once, which it did thousands of times a second without
// ever reporting an error; 4401 is one it treats as fatal and reports.
// 4403, which the protocol suggests, it retries five times with backoff
// ("might grant access after retry"), which a wrong token never will.
// Any other failure (the database) closes with 1013 Try Again Later,
// which the client retries with backoff.
func WebsocketAuth(tokens *auth.Service) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		if tokens == nil {
			return auth.WithPrincipal(ctx, auth.System), nil, nil
		}
		header := payload.Authorization()
		if header == "" {
			header, _ = payload["authorization"].(string)
		}
		if header == "" {
			if t, _ := payload["token"].(string); t != "" {
				header = "Bearer " + t
			}
		}
		p, ok := auth.FromContext(ctx)
		if !ok || header != "" {
			// Not already authenticated by the upgrade request's header.
			token, _ := strings.CutPrefix(header, "Bearer ")
			var err error
			if p, err = tokens.Authenticate(ctx, token); err != nil {
				return refuseWebsocket(ctx, err)
			}
		}
		// The connection ends when its token is revoked or expires.
		held, err := tokens.Hold(auth.WithPrincipal(ctx, p), p)
		if err != nil {
			return refuseWebsocket(ctx, err)
		}
		// No payload in connection_ack: it must not echo the token.
		return held, nil, nil
	}
}

// Close codes of a refused connection_init.
const (
	// closeUnauthorized is graphql-ws's CloseCode.Unauthorized.
	closeUnauthorized = 4401
	// closeTryAgainLater is RFC 6455's 1013.
	closeTryAgainLater = 1013
)

// refuseWebsocket makes gqlgen close a connection whose init failed with
// err: 4401 with the reason when err is UNAUTHENTICATED, else 1013 with
// a generic one (the cause is the server's, not the client's to read).
func refuseWebsocket(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	if apperr.CodeOf(err) != apperr.Unauthenticated {
		err = errors.New("try again later")
		ctx = transport.WithWebsocketCloseCode(ctx, closeTryAgainLater)
		return transport.AppendCloseReason(ctx, "Try Again Later"), nil, err
	}
	ctx = transport.WithWebsocketCloseCode(ctx, closeUnauthorized)
	// A close frame's reason holds at most 123 bytes.
	reason := "Unauthorized: " + err.Error()
	if len(reason) > 123 {
		reason = strings.ToValidUTF8(reason[:123], "")
	}
	return transport.AppendCloseReason(ctx, reason), nil, err
}
