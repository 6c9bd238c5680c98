package auth

import (
	"context"
	"sync"
	"time"

	"github.com/attune-io/attune/ent/apitoken"
	"github.com/attune-io/attune/internal/notify"
)

// A websocket is authenticated once, at connection_init, and then streams
// for as long as it stays open. Hold ties such a connection to its token:
// its context ends when the token is revoked (on any node: revocations
// travel on the notify bus, PostgreSQL NOTIFY between nodes) or expires,
// and the transport closes the connection with every subscription on it.

// sessions are the live connections of each token, by token id.
type sessions struct {
	mu   sync.Mutex
	live map[int]map[*session]struct{}
	bus  *notify.Bus
}

type session struct{ cancel context.CancelCauseFunc }

// Hold returns a context that ends when ctx does or when p's token is
// revoked or expires, whichever comes first, for a connection
// authenticated once. Returns UNAUTHENTICATED when the token was revoked
// between its authentication and now.
func (s *Service) Hold(ctx context.Context, p *Principal) (context.Context, error) {
	if p.TokenID == 0 {
		return ctx, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	se := &session{cancel: cancel}
	s.sessions.mu.Lock()
	if s.sessions.live == nil {
		s.sessions.live = map[int]map[*session]struct{}{}
	}
	if s.sessions.live[p.TokenID] == nil {
		s.sessions.live[p.TokenID] = map[*session]struct{}{}
	}
	s.sessions.live[p.TokenID][se] = struct{}{}
	s.sessions.mu.Unlock()
	var expiry *time.Timer
	if p.ExpiresAt != nil {
		expiry = time.AfterFunc(time.Until(*p.ExpiresAt), func() { cancel(errUnauthenticated("token expired")) })
	}
	context.AfterFunc(ctx, func() {
		if expiry != nil {
			expiry.Stop()
		}
		s.sessions.mu.Lock()
		delete(s.sessions.live[p.TokenID], se)
		if len(s.sessions.live[p.TokenID]) == 0 {
			delete(s.sessions.live, p.TokenID)
		}
		s.sessions.mu.Unlock()
	})
	// A revocation announced before the session was registered would be
	// missed: read the token again now that it is.
	valid, err := s.db.Ent.APIToken.Query().
		Where(apitoken.ID(p.TokenID), apitoken.RevokedAtIsNil()).Exist(SystemContext(ctx))
	if err == nil && !valid {
		err = errUnauthenticated("token revoked")
	}
	if err != nil {
		cancel(err)
		return nil, err
	}
	return ctx, nil
}

// end ends the live connections of token id.
func (s *Service) end(id int, cause error) {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	for se := range s.sessions.live[id] {
		se.cancel(cause)
	}
}

// Watch ends this node's connections of tokens revoked on any node, until
// ctx ends; revocations made here are announced on bus from now on. After
// the bus missed notifications (its listener reconnected) every held token
// is read again.
func (s *Service) Watch(ctx context.Context, bus *notify.Bus) {
	s.sessions.mu.Lock()
	s.sessions.bus = bus
	s.sessions.mu.Unlock()
	sub := bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == notify.TokenRevoked })
	go func() {
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			for _, ev := range sub.Take() {
				if ev.Kind == notify.Resync {
					s.recheck(ctx)
					continue
				}
				s.end(ev.ID, errUnauthenticated("token revoked"))
			}
		}
	}()
}

// recheck ends the connections of held tokens revoked meanwhile.
func (s *Service) recheck(ctx context.Context) {
	s.sessions.mu.Lock()
	ids := make([]int, 0, len(s.sessions.live))
	for id := range s.sessions.live {
		ids = append(ids, id)
	}
	s.sessions.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	revoked, err := s.db.Ent.APIToken.Query().
		Where(apitoken.IDIn(ids...), apitoken.RevokedAtNotNil()).IDs(SystemContext(ctx))
	if err != nil {
		return // the next resync tries again; new requests are checked anyway
	}
	for _, id := range revoked {
		s.end(id, errUnauthenticated("token revoked"))
	}
}

// announceRevoked ends token id's connections here and on every node.
func (s *Service) announceRevoked(ctx context.Context, id int) error {
	s.end(id, errUnauthenticated("token revoked"))
	s.sessions.mu.Lock()
	bus := s.sessions.bus
	s.sessions.mu.Unlock()
	if bus == nil {
		return nil
	}
	return bus.Publish(context.WithoutCancel(ctx), notify.Event{Kind: notify.TokenRevoked, ID: id})
}
