package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// tokenID finds a token's id by name, as an unrestricted admin.
func tokenID(t *testing.T, admin *gqltest.Client, name string) string {
	t.Helper()
	var got struct {
		ApiTokens struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	admin.Must(t, `{ apiTokens(first: 100){ edges{ node{ id name } } } }`, nil, &got)
	for _, e := range got.ApiTokens.Edges {
		if e.Node.Name == name {
			return e.Node.ID
		}
	}
	t.Fatalf("no token %q", name)
	return ""
}

// TestPackLimitedAdminStaysInItsPacks: a token limited to a pack mints
// tokens only within its role and packs, sees no other token, reads only
// its packs' audit entries (and its own), and cannot revoke tokens it
// cannot see.
func TestPackLimitedAdminStaysInItsPacks(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		limited := client(s, newToken(t, admin, "core-admin", "ADMIN", []string{"core"}))
		// Audit entries of the core pack, of no pack and of another pack.
		admin.Must(t, `mutation{ setKey(input:{name:"in_core", pack:"core", value:1}){ name } }`, nil, nil)
		admin.Must(t, `mutation{ setKey(input:{name:"system_wide", value:1}){ name } }`, nil, nil)
		admin.Fail(t, `mutation{ deleteAction(ref:"elsewhere.act"){ deletedRef } }`, nil)

		for _, input := range []string{
			`{name:"escape", role:ADMIN}`,
			`{name:"escape", role:ADMIN, packs:["core", "elsewhere"]}`,
			`{name:"escape", role:VIEWER, packs:["elsewhere"]}`,
		} {
			e := limited.Fail(t, `mutation{ createApiToken(input:`+input+`){ token } }`, nil)
			require.Equal(t, "FORBIDDEN", e.Code(), input)
		}
		var made struct {
			CreateApiToken struct {
				Token    string
				ApiToken struct{ Packs []string }
			}
		}
		limited.Must(t, `mutation{ createApiToken(input:{name:"inside", role:VIEWER, packs:["core"]}){ token apiToken{ packs } } }`, nil, &made)
		require.Equal(t, []string{"core"}, made.CreateApiToken.ApiToken.Packs)

		var tokens struct {
			ApiTokens struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
		}
		limited.Must(t, `{ apiTokens{ totalCount edges{ node{ name } } } }`, nil, &tokens)
		require.Equal(t, 1, tokens.ApiTokens.TotalCount, "a pack-limited token sees no token but itself")
		require.Equal(t, "core-admin", tokens.ApiTokens.Edges[0].Node.Name)

		var audit struct {
			AuditEvents struct {
				Edges []struct {
					Node struct{ Operation, Actor, PackRef string }
				}
			}
		}
		limited.Must(t, `{ auditEvents(first: 100){ edges{ node{ operation actor packRef } } } }`, nil, &audit)
		var ops []string
		for _, e := range audit.AuditEvents.Edges {
			n := e.Node
			require.True(t, n.PackRef == "core" || n.Actor == "core-admin", "%+v is neither core's nor its own", n)
			ops = append(ops, n.Actor+" "+n.Operation)
		}
		require.Contains(t, ops, "admin (ATTUNE_ADMIN_TOKEN) setKey", "the core pack's entry")
		require.Contains(t, ops, "core-admin createApiToken", "its own entries")

		adminID := tokenID(t, admin, "admin (ATTUNE_ADMIN_TOKEN)")
		e := limited.Fail(t, `mutation($id:ID!){ revokeApiToken(id:$id){ revokedAt } }`, map[string]any{"id": adminID})
		require.Equal(t, "NOT_FOUND", e.Code())
		admin.Must(t, `{ viewer{ name } }`, nil, nil)
	})
}

// TestNodeReadsFollowTheRoles: node(id:) refuses what the type's root
// query refuses (the full matrix is graph's
// TestEveryPathToARowAgreesWithItsRootQuery).
func TestNodeReadsFollowTheRoles(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		var key struct{ SetKey struct{ ID string } }
		admin.Must(t, `mutation{ setKey(input:{name:"k", value:1}){ id } }`, nil, &key)
		var audit struct {
			AuditEvents struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		admin.Must(t, `{ auditEvents(first: 1){ edges{ node{ id } } } }`, nil, &audit)
		adminID := tokenID(t, admin, "admin (ATTUNE_ADMIN_TOKEN)")
		for _, role := range []string{"VIEWER", "OPERATOR", "EDITOR"} {
			c := client(s, newToken(t, admin, "n-"+role, role, nil))
			ids := map[string]string{"APIToken": adminID, "AuditEvent": audit.AuditEvents.Edges[0].Node.ID}
			if role != "EDITOR" {
				ids["Key"] = key.SetKey.ID
			}
			for typ, id := range ids {
				e := c.Fail(t, `query($id:ID!){ node(id:$id){ id } }`, map[string]any{"id": id})
				require.Equal(t, "FORBIDDEN", e.Code(), "%s reading a %s through node", role, typ)
				r := c.Do(t, `query($id:ID!){ nodes(ids:[$id, $id]){ id } }`, map[string]any{"id": id})
				require.NotEmpty(t, r.Errors)
				require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), "%s reading a %s through nodes", role, typ)
				require.NotContains(t, string(r.Data), id)
			}
		}
	})
}

// closeBound is how soon a revoked or expired token's subscriptions end.
const closeBound = time.Second

// openSubscription subscribes to every execution change with token and
// returns once the server accepted the subscription.
func openSubscription(t *testing.T, s *server, token string) *gqltest.Subscription {
	t.Helper()
	sub, err := client(s, "").TrySubscribe(t.Context(), `subscription{ executionUpdated{ id status } }`, nil,
		map[string]any{"Authorization": "Bearer " + token})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	return sub
}

// requireClosed waits for the server to close sub, failing after wait.
// It returns when the close arrived.
func requireClosed(t *testing.T, sub *gqltest.Subscription, wait time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	for {
		_, err := sub.Next(ctx)
		if err == nil {
			continue // a message sent before the end
		}
		require.NoError(t, ctx.Err(), "the subscription still streams after %s", wait)
		require.False(t, errors.Is(err, gqltest.ErrComplete), "closed, not completed")
		return time.Now()
	}
}

// TestRevokedTokensSubscriptionsEnd: revoking a token closes its
// websocket subscriptions within a second, on every node (two API
// processes on one PostgreSQL: revoked through one, subscribed on the
// other), and so does its expiry.
func TestRevokedTokensSubscriptionsEnd(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		url := dbtest.URL(t, backend)
		a := startServer(t, authEnv(), "-database-url", url)
		b := a
		if backend == "postgres" {
			b = startServer(t, authEnv(), "-database-url", url)
		}
		admin := client(a, testAdminToken)

		token := newToken(t, admin, "streamer", "VIEWER", nil)
		sub := openSubscription(t, b, token)
		other := openSubscription(t, b, newToken(t, admin, "bystander", "VIEWER", nil))
		admin.Must(t, `mutation($id:ID!){ revokeApiToken(id:$id){ revokedAt } }`,
			map[string]any{"id": tokenID(t, admin, "streamer")}, nil)
		revoked := time.Now()
		closed := requireClosed(t, sub, 10*time.Second)
		require.Less(t, closed.Sub(revoked), closeBound, "closed %s after the revocation", closed.Sub(revoked))

		// Another token's subscription lives on: it still gets changes.
		admin.Must(t, `mutation{ executeAction(input:{action:"core.noop"}){ execution{ id } } }`, nil, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		r, err := other.Next(ctx)
		require.NoError(t, err)
		require.Empty(t, r.Errors)

		var short struct{ CreateApiToken struct{ Token string } }
		expires := time.Now().Add(2 * time.Second)
		admin.Must(t, `mutation($at:Time!){ createApiToken(input:{name:"short", role:VIEWER, expiresAt:$at}){ token } }`,
			map[string]any{"at": expires.UTC().Format(time.RFC3339Nano)}, &short)
		sub = openSubscription(t, b, short.CreateApiToken.Token)
		closed = requireClosed(t, sub, 10*time.Second)
		require.False(t, closed.Before(expires.Add(-50*time.Millisecond)), "closed %s before the expiry", expires.Sub(closed))
		require.Less(t, closed.Sub(expires), closeBound, "closed %s after the expiry", closed.Sub(expires))
	})
}
