package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/apitoken"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/store"
)

// tokenPrefix marks attune tokens, so leaked ones are easy to grep for.
const tokenPrefix = "att_"

// AdminTokenFile is where the first-start admin token is written (0600).
const AdminTokenFile = "admin-token"

// Service manages tokens.
type Service struct {
	db  *store.DB
	now func() time.Time

	mu       sync.Mutex
	lastSeen map[int]time.Time

	sessions sessions
}

// NewService returns a token service over db.
func NewService(db *store.DB) *Service {
	return &Service{db: db, now: time.Now, lastSeen: map[int]time.Time{}}
}

// Hash is what the database keeps of a token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a random token.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// CreateRequest describes a new token.
type CreateRequest struct {
	Name      string
	Role      Role
	Packs     []string
	ExpiresAt *time.Time
	// By is who mints it (nil: the server itself); a token never gets
	// more than its maker has.
	By *Principal
}

// Create stores a new token and returns it with its plaintext, which is
// never available again. Returns BAD_USER_INPUT for a bad role, name or
// expiry in the past, and FORBIDDEN for a token reaching beyond its
// maker's role or packs.
func (s *Service) Create(ctx context.Context, req CreateRequest) (string, *ent.APIToken, error) {
	if !req.Role.Valid() {
		return "", nil, apperr.Errorf(apperr.BadUserInput, "unknown role %q", req.Role)
	}
	if strings.TrimSpace(req.Name) == "" {
		return "", nil, apperr.Errorf(apperr.BadUserInput, "a token needs a name")
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(s.now()) {
		return "", nil, apperr.Errorf(apperr.BadUserInput, "expiresAt is in the past")
	}
	if err := req.By.mayMint(req.Role, req.Packs); err != nil {
		return "", nil, err
	}
	token := NewToken()
	t, err := s.db.Ent.APIToken.Create().SetName(req.Name).SetRole(apitoken.Role(req.Role)).
		SetTokenHash(Hash(token)).SetPrefix(token[:len(tokenPrefix)+6]).SetPacks(req.Packs).
		SetNillableExpiresAt(req.ExpiresAt).Save(ctx)
	if err != nil {
		return "", nil, err
	}
	return token, t, nil
}

// mayMint refuses a token beyond p's own role or packs: FORBIDDEN. A
// pack-limited maker must name packs, all of them its own.
func (p *Principal) mayMint(role Role, packs []string) error {
	if p == nil {
		return nil
	}
	if !p.Role.AtLeast(role) {
		return apperr.Errorf(apperr.Forbidden, "a %s token cannot create a %s token", p.Role, role)
	}
	if len(p.Packs) == 0 {
		return nil
	}
	if len(packs) == 0 {
		return apperr.Errorf(apperr.Forbidden,
			"a token limited to packs %s can only create tokens limited to some of them: give packs", strings.Join(p.Packs, ", "))
	}
	for _, pack := range packs {
		if !p.CanSeePack(pack) {
			return apperr.Errorf(apperr.Forbidden, "a token limited to packs %s cannot give access to pack %q",
				strings.Join(p.Packs, ", "), pack)
		}
	}
	return nil
}

// Revoke ends a token now, and every live connection (subscription) made
// with it, on every node. Returns NOT_FOUND for an id the caller cannot
// see (a pack-limited token sees only itself).
func (s *Service) Revoke(ctx context.Context, id int) (*ent.APIToken, error) {
	t, err := s.db.Ent.APIToken.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "token %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return t, nil
	}
	if t, err = t.Update().SetRevokedAt(s.now()).Save(ctx); err != nil {
		return nil, err
	}
	if err := s.announceRevoked(ctx, id); err != nil {
		// Stored: new requests are refused; only other nodes' open
		// connections may live on until their listener resyncs.
		return t, fmt.Errorf("announcing the revocation: %w", err)
	}
	return t, nil
}

// errUnauthenticated hides which check failed from the caller.
func errUnauthenticated(why string) error {
	return apperr.Errorf(apperr.Unauthenticated, "%s", why)
}

// Authenticate resolves a bearer token. Returns UNAUTHENTICATED for a
// missing, unknown, expired or revoked token.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errUnauthenticated("authentication required: send Authorization: Bearer <token>")
	}
	// Whoever ctx already acts as (a websocket upgraded with a header),
	// finding the token is the server's own read.
	t, err := s.db.Ent.APIToken.Query().Where(apitoken.TokenHash(Hash(token))).Only(SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, errUnauthenticated("invalid token")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case t.RevokedAt != nil:
		return nil, errUnauthenticated("token revoked")
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		return nil, errUnauthenticated("token expired")
	}
	s.touch(ctx, t.ID, now)
	p := &Principal{TokenID: t.ID, Name: t.Name, Role: Role(t.Role), Packs: t.Packs, ExpiresAt: t.ExpiresAt}
	if t.ExecutionID != nil {
		p.ExecutionID = *t.ExecutionID
	}
	return p, nil
}

// touch records use at most once a minute per token, so reads do not turn
// into a write each.
func (s *Service) touch(ctx context.Context, id int, now time.Time) {
	s.mu.Lock()
	last := s.lastSeen[id]
	if now.Sub(last) < time.Minute {
		s.mu.Unlock()
		return
	}
	s.lastSeen[id] = now
	s.mu.Unlock()
	_ = s.db.Ent.APIToken.UpdateOneID(id).SetLastUsedAt(now).Exec(context.WithoutCancel(ctx))
}

// Bootstrap makes sure an admin can get in. When envToken is set (from
// ATTUNE_ADMIN_TOKEN) it is registered as an admin token if new. Otherwise,
// when no token exists at all, a new admin token is created and written to
// <dataDir>/admin-token with mode 0600; it is returned so the caller can
// print it once.
func (s *Service) Bootstrap(ctx context.Context, dataDir, envToken string) (created string, err error) {
	if envToken != "" {
		exists, err := s.db.Ent.APIToken.Query().Where(apitoken.TokenHash(Hash(envToken))).Exist(ctx)
		if err != nil || exists {
			return "", err
		}
		if len(envToken) < 16 {
			return "", errors.New("ATTUNE_ADMIN_TOKEN must be at least 16 characters")
		}
		_, err = s.db.Ent.APIToken.Create().SetName("admin (ATTUNE_ADMIN_TOKEN)").
			SetRole(apitoken.RoleADMIN).SetTokenHash(Hash(envToken)).
			SetPrefix(envToken[:min(10, len(envToken))]).Save(ctx)
		return "", err
	}
	n, err := s.db.Ent.APIToken.Query().Count(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	token, _, err := s.Create(ctx, CreateRequest{Name: "admin (first start)", Role: Admin})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return token, os.Chmod(path, 0o600)
}

// MintForExecution creates the token of one run of a StackStorm Python
// action, for its action_service: OPERATOR, limited to pack, marked with
// the execution, valid until expires. The API lets it reach only the
// key/value store: its pack's keys (read and write) and the system-wide
// ones (read). release deletes it; the worker calls it when the run ends,
// and expires bounds it should the worker die first.
func (s *Service) MintForExecution(ctx context.Context, executionID int, pack string, expires time.Time) (token string, release func(), err error) {
	token = NewToken()
	t, err := s.db.Ent.APIToken.Create().SetName(fmt.Sprintf("execution %d", executionID)).
		SetRole(apitoken.RoleOPERATOR).SetTokenHash(Hash(token)).SetPrefix(token[:len(tokenPrefix)+6]).
		SetPacks([]string{pack}).SetExecutionID(executionID).SetExpiresAt(expires).Save(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("minting the token of execution %d: %w", executionID, err)
	}
	release = func() {
		// On failure it still expires on its own.
		_ = s.db.Ent.APIToken.DeleteOneID(t.ID).Exec(context.WithoutCancel(ctx))
	}
	return token, release, nil
}
