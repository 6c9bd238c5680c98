// Package trigger turns outside occurrences into events: webhook requests
// (authenticated by the trigger's key or an HMAC of the body) and timer
// ticks (fired exactly once across nodes by the holder of a lease).
package trigger

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/attune-io/attune/ent"
	enttrigger "github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// Webhook request headers.
const (
	// KeyHeader carries the trigger's webhook key as is.
	KeyHeader = "X-Attune-Webhook-Key"
	// SignatureHeader carries "sha256=<hex>", the HMAC-SHA256 of the raw
	// body keyed with the webhook key (GitHub's scheme).
	SignatureHeader = "X-Hub-Signature-256"
	// PathPrefix is where webhooks are received: PathPrefix + trigger ref.
	PathPrefix = "/webhooks/"
)

// Webhook errors, so the HTTP layer can choose the status.
var (
	// ErrNoWebhook: the trigger does not exist or does not accept webhooks (404).
	ErrNoWebhook = errors.New("no webhook for this trigger")
	// ErrUnauthorized: neither a valid key nor a valid signature (401).
	ErrUnauthorized = errors.New("missing or invalid webhook key or signature")
)

// Webhooks receives webhook requests and manages webhook keys.
type Webhooks struct {
	db     *store.DB
	engine *rule.Engine
	// Sealer, when set, encrypts webhook keys at rest (the key/value
	// store's key); keys stored before it was set still work.
	Sealer Sealer
}

// Sealer encrypts and decrypts small secrets.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// sealedPrefix marks an encrypted webhook key in the triggers table.
const sealedPrefix = "sealed:"

// NewWebhooks returns a Webhooks storing events through engine.
func NewWebhooks(db *store.DB, engine *rule.Engine) *Webhooks {
	return &Webhooks{db: db, engine: engine}
}

// Request is one webhook call.
type Request struct {
	// Trigger is the ref from the URL.
	Trigger string
	// Key and Signature are the header values (either may be empty).
	Key, Signature string
	// Body is the raw body, a JSON object: the event payload.
	Body []byte
}

// Receive authenticates the request and stores its event with the rule
// evaluation job in one transaction. Errors: ErrNoWebhook, ErrUnauthorized,
// BAD_USER_INPUT for a body that is not a JSON object or does not match the
// trigger's payload schema (details "fields").
func (w *Webhooks) Receive(ctx context.Context, req Request) (*ent.Event, error) {
	tr, err := w.db.Ent.Trigger.Query().Where(enttrigger.Ref(req.Trigger)).Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !tr.WebhookEnabled) {
		return nil, ErrNoWebhook
	}
	if err != nil {
		return nil, fmt.Errorf("loading trigger %s: %w", req.Trigger, err)
	}
	if !Authentic(w.open(tr.WebhookKey), req.Key, req.Signature, req.Body) {
		return nil, ErrUnauthorized
	}
	var payload map[string]any
	if err := json.Unmarshal(req.Body, &payload); err != nil || payload == nil {
		return nil, apperr.Errorf(apperr.BadUserInput, "the body must be a JSON object")
	}
	return w.engine.EmitFor(ctx, tr, rule.Emission{Trigger: tr.Ref, Payload: payload, Source: rule.SourceWebhook})
}

// Authentic reports whether a request carries the trigger's key or a valid
// signature of body, comparing in constant time. A trigger without a key
// accepts nothing.
func Authentic(secret, key, signature string, body []byte) bool {
	if secret == "" {
		return false
	}
	if key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(secret)) == 1 {
		return true
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, Sign(secret, body))
}

// Sign is the HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// RotateKey gives the trigger a new random webhook key, enables webhooks
// on it and returns the key; the old key stops working at once. The key is
// shown only here. Returns NOT_FOUND for an unknown trigger.
func (w *Webhooks) RotateKey(ctx context.Context, ref string) (*ent.Trigger, string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, "", fmt.Errorf("generating webhook key: %w", err)
	}
	key := "wh_" + hex.EncodeToString(b)
	stored := key
	if w.Sealer != nil {
		sealed, err := w.Sealer.Seal([]byte(key))
		if err != nil {
			return nil, "", fmt.Errorf("sealing webhook key: %w", err)
		}
		stored = sealedPrefix + base64.StdEncoding.EncodeToString(sealed)
	}
	n, err := w.db.Ent.Trigger.Update().Where(enttrigger.Ref(ref)).
		SetWebhookKey(stored).SetWebhookEnabled(true).Save(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("storing webhook key of %s: %w", ref, err)
	}
	if n == 0 {
		return nil, "", apperr.Errorf(apperr.NotFound, "trigger %q not found", ref)
	}
	tr, err := w.db.Ent.Trigger.Query().Where(enttrigger.Ref(ref)).Only(ctx)
	return tr, key, err
}

// open returns a stored key in plaintext; a key that cannot be decrypted
// (no or another encryption key) opens to "" and so accepts nothing.
func (w *Webhooks) open(stored string) string {
	enc, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || w.Sealer == nil {
		return ""
	}
	plain, err := w.Sealer.Open(raw)
	if err != nil {
		return ""
	}
	return string(plain)
}
