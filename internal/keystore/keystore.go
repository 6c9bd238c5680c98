// Package keystore is the key/value store. Secret values are encrypted at
// rest with AES-256-GCM under a key from the server's configuration, and
// are decrypted only for an admin who asks, or for an action parameter
// declared secret.
package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/key"
	"github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/store"
)

// nameRE keeps names usable as template paths: {{ keystore.<name> }}.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// Service stores keys.
type Service struct {
	db   *store.DB
	aead cipher.AEAD // nil without an encryption key
}

// ParseKey reads a 32-byte key given as base64 (std or URL) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("encryption key must be 32 bytes, as 64 hex digits or base64")
}

// New returns the store; encKey may be nil, and then secrets cannot be set.
func New(db *store.DB, encKey []byte) (*Service, error) {
	s := &Service{db: db}
	if encKey != nil {
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, err
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CheckStartup refuses to run with stored secrets and no key, or with a key
// that does not decrypt them (a wrong key would otherwise surface only when
// an action needs the secret).
func (s *Service) CheckStartup(ctx context.Context) error {
	k, err := s.db.Ent.Key.Query().Where(key.Secret(true)).First(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.aead == nil {
		return errors.New("secret keys are stored but no encryption key is configured (encryption_key or ATTUNE_ENCRYPTION_KEY)")
	}
	if _, err := s.decrypt(k.Ciphertext); err != nil {
		return errors.New("the configured encryption key does not decrypt the stored secrets")
	}
	return nil
}

// SetRequest writes one key.
type SetRequest struct {
	Name   string
	Pack   string
	Value  any
	Secret bool
	// TTL, when positive, makes the key expire after it; zero never.
	TTL time.Duration
}

// Set creates or replaces a key. Returns BAD_USER_INPUT for a bad name, a
// negative TTL, or a secret when no encryption key is configured.
func (s *Service) Set(ctx context.Context, req SetRequest) (*ent.Key, error) {
	if !nameRE.MatchString(req.Name) {
		return nil, apperr.Errorf(apperr.BadUserInput,
			"key name %q: use letters, digits and _, starting with a letter or _", req.Name)
	}
	if req.TTL < 0 {
		return nil, apperr.Errorf(apperr.BadUserInput, "ttl must not be negative")
	}
	var expires *time.Time
	if req.TTL > 0 {
		at := time.Now().Add(req.TTL)
		expires = &at
	}
	// An expired key reads as absent; its row makes way for the new one.
	if _, err := s.db.Ent.Key.Delete().Where(key.Name(req.Name), key.PackRef(req.Pack),
		key.ExpiresAtLTE(time.Now())).Exec(ctx); err != nil {
		return nil, err
	}
	existing, err := s.db.Ent.Key.Query().Where(key.Name(req.Name), key.PackRef(req.Pack)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	var plain any
	cipherText := ""
	if req.Secret {
		if s.aead == nil {
			return nil, apperr.Errorf(apperr.BadUserInput,
				"secrets need an encryption key: configure encryption_key or ATTUNE_ENCRYPTION_KEY")
		}
		if cipherText, err = s.encrypt(req.Value); err != nil {
			return nil, err
		}
	} else {
		plain = req.Value
	}
	if existing != nil {
		u := existing.Update().SetSecret(req.Secret).SetCiphertext(cipherText).SetNillableExpiresAt(expires)
		if expires == nil {
			u.ClearExpiresAt()
		}
		if req.Secret {
			u.ClearValue()
		} else {
			u.SetValue(&plain)
		}
		return u.Save(ctx)
	}
	c := s.db.Ent.Key.Create().SetName(req.Name).SetPackRef(req.Pack).SetSecret(req.Secret).
		SetCiphertext(cipherText).SetNillableExpiresAt(expires)
	if !req.Secret {
		c.SetValue(&plain)
	}
	return c.Save(ctx)
}

// Delete removes a key. Returns NOT_FOUND when it does not exist.
func (s *Service) Delete(ctx context.Context, name, pack string) error {
	n, err := s.db.Ent.Key.Delete().Where(key.Name(name), key.PackRef(pack),
		key.Or(key.ExpiresAtIsNil(), key.ExpiresAtGT(time.Now()))).Exec(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return apperr.Errorf(apperr.NotFound, "key %q not found", name)
	}
	return nil
}

// Value returns a key's value; a secret's plaintext only when decrypt is
// true (callers check the right to ask).
func (s *Service) Value(k *ent.Key, decrypt bool) (any, error) {
	if !k.Secret {
		if k.Value == nil {
			return nil, nil
		}
		return *k.Value, nil
	}
	if !decrypt {
		return nil, nil
	}
	return s.decrypt(k.Ciphertext)
}

// Values are the keys visible to a pack's templates: system keys overlaid
// by the pack's own. Secrets maps the names of secret ones.
type Values struct {
	Plain   map[string]any
	Secrets map[string]bool
}

// Lookup returns the keys a template in pack may read, secrets decrypted.
func (s *Service) Lookup(ctx context.Context, pack string) (Values, error) {
	return s.LookupWith(ctx, s.db.Ent, pack)
}

// LookupWith is Lookup through c, a transaction's client. The template's
// pack decides which keys it reads, not who triggered it (an OPERATOR
// running an action, a token limited to the pack): the read is the
// server's own.
func (s *Service) LookupWith(ctx context.Context, c *ent.Client, pack string) (Values, error) {
	ks, err := c.Key.Query().Where(key.PackRefIn("", pack)).All(schema.SystemContext(ctx))
	if err != nil {
		return Values{}, err
	}
	v := Values{Plain: map[string]any{}, Secrets: map[string]bool{}}
	for _, scope := range []string{"", pack} {
		for _, k := range ks {
			if k.PackRef != scope {
				continue
			}
			val, err := s.Value(k, true)
			if err != nil {
				return Values{}, fmt.Errorf("key %s: %w", k.Name, err)
			}
			v.Plain[k.Name] = val
			v.Secrets[k.Name] = k.Secret
		}
	}
	return v, nil
}

func (s *Service) encrypt(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", apperr.Errorf(apperr.BadUserInput, "value is not JSON")
	}
	sealed, err := s.Seal(b)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

func (s *Service) decrypt(ct string) (any, error) {
	raw, err := base64.StdEncoding.DecodeString(ct)
	if err != nil {
		return nil, errors.New("corrupt secret")
	}
	plain, err := s.Open(raw)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Seal encrypts bytes with the store's key, for other secrets at rest
// (queued secret parameters); callers check HasKey first.
func (s *Service) Seal(plain []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, errors.New("no encryption key configured")
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, nil), nil
}

// Open decrypts what Seal produced.
func (s *Service) Open(sealed []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, errors.New("no encryption key configured")
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("corrupt secret")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errors.New("cannot decrypt secret: wrong encryption key")
	}
	return plain, nil
}

// HasKey reports whether secrets can be stored.
func (s *Service) HasKey() bool { return s.aead != nil }
