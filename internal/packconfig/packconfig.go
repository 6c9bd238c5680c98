// Package packconfig is a pack's config as StackStorm defines it: values
// checked against the pack's config.schema.yaml, secret fields sealed at
// rest like secret keys, and one reading of the result (secrets opened,
// schema defaults applied) for everything that runs pack code: actions
// (self.config, config_context), sensors and rule templates.
//
// It depends on the database and a Sealer only, so the worker, the sensor
// supervisor and the rule engine can all use it without import cycles.
package packconfig

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/attune-io/attune/ent"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// Sealer encrypts secret fields at rest; the key/value store
// (keystore.Service) is the one implementation.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
	HasKey() bool
}

// Store reads and writes pack configs.
type Store struct {
	db     *store.DB
	sealer Sealer
}

// New returns a Store; sealer may be nil, and then configs with secret
// fields cannot be set.
func New(db *store.DB, sealer Sealer) *Store { return &Store{db: db, sealer: sealer} }

// Config returns pack ref's config as pack code sees it: the operator's
// values with secrets decrypted and the schema's defaults filled in at
// every level. Returns NOT_FOUND for a pack that is not installed. The read
// is the server's own, whoever the context acts for.
func (s *Store) Config(ctx context.Context, ref string) (map[string]any, error) {
	return s.ConfigWith(ctx, s.db.Ent, ref)
}

// ConfigWith is Config read through c, a transaction's client.
func (s *Store) ConfigWith(ctx context.Context, c *ent.Client, ref string) (map[string]any, error) {
	p, err := c.Pack.Query().Where(entpack.Ref(ref)).
		Select(entpack.FieldRef, entpack.FieldConfig, entpack.FieldConfSchema, entpack.FieldConfigSecrets).
		Only(schema.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "pack %q not found", ref)
	}
	if err != nil {
		return nil, err
	}
	return s.Effective(p)
}

// Effective is Config of a loaded pack row (with its config,
// config_secrets and conf_schema columns).
func (s *Store) Effective(p *ent.Pack) (map[string]any, error) {
	values, err := s.Values(p)
	if err != nil {
		return nil, err
	}
	sch, err := param.ParseSchema(p.ConfSchema)
	if err != nil {
		return nil, fmt.Errorf("pack %s config schema: %w", p.Ref, err)
	}
	return sch.WithDefaults(values), nil
}

// Values returns the operator's values of a loaded pack row, secrets
// decrypted, without defaults.
func (s *Store) Values(p *ent.Pack) (map[string]any, error) {
	secrets, err := s.open(p.ConfigSecrets)
	if err != nil {
		return nil, fmt.Errorf("pack %s config: %w", p.Ref, err)
	}
	return param.MergeTrees(p.Config, secrets), nil
}

// Display is the config a client sees: the operator's values with the
// schema's defaults; secret fields in clear only when reveal (an ADMIN
// asks), else masked.
func (s *Store) Display(p *ent.Pack, reveal bool) (map[string]any, error) {
	sch, err := param.ParseSchema(p.ConfSchema)
	if err != nil {
		return nil, fmt.Errorf("pack %s config schema: %w", p.Ref, err)
	}
	if !reveal {
		// Only the presence of a secret shows: its ciphertext is not opened.
		marked := param.MergeTrees(p.Config, nil)
		if p.ConfigSecrets != "" {
			secrets, err := s.open(p.ConfigSecrets)
			if err != nil {
				return nil, fmt.Errorf("pack %s config: %w", p.Ref, err)
			}
			marked = param.MergeTrees(marked, secrets)
		}
		return sch.MaskSecrets(sch.WithDefaults(marked)), nil
	}
	return s.Effective(p)
}

// Checked validates config against the schema and splits it into what is
// stored in the clear and the sealed secrets. Returns BAD_USER_INPUT (with
// every field under extensions.fields) for a config the schema refuses, or
// a secret field set without an encryption key.
func (s *Store) Checked(sch param.Schema, config map[string]any) (plain map[string]any, sealed string, err error) {
	if config == nil {
		config = map[string]any{}
	}
	if _, err := sch.ValidateConfig(config); err != nil {
		return nil, "", invalid(err)
	}
	return s.Sealed(sch, config)
}

// Sealed splits config into what is stored in the clear and the sealed
// secret fields, without checking it: registration keeps an operator's
// config that a new schema would refuse, to be fixed with setPackConfig.
// Returns BAD_USER_INPUT for a secret field set without an encryption key.
func (s *Store) Sealed(sch param.Schema, config map[string]any) (plain map[string]any, sealed string, err error) {
	plain, secrets := sch.SplitSecrets(config)
	if len(secrets) == 0 {
		return plain, "", nil
	}
	if s.sealer == nil || !s.sealer.HasKey() {
		return nil, "", apperr.Errorf(apperr.BadUserInput,
			"the config sets secret fields, which need an encryption key: configure encryption_key or ATTUNE_ENCRYPTION_KEY")
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return nil, "", apperr.Errorf(apperr.BadUserInput, "config is not JSON")
	}
	out, err := s.sealer.Seal(b)
	if err != nil {
		return nil, "", err
	}
	return plain, base64.StdEncoding.EncodeToString(out), nil
}

// Set replaces pack ref's config (the whole of it, as StackStorm's config
// API does) after checking it against the pack's schema. With merge, config
// holds only the fields to change: it is merged into the stored values
// (secrets opened, no defaults applied), in the same transaction, so the
// fields it leaves out keep following the schema's defaults. Returns
// NOT_FOUND for a pack that is not installed and BAD_USER_INPUT as Checked
// does.
func (s *Store) Set(ctx context.Context, ref string, config map[string]any, merge bool) (*ent.Pack, error) {
	var out *ent.Pack
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.Ent.Pack.Query().Where(entpack.Ref(ref)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "pack %q not found", ref)
		}
		if err != nil {
			return err
		}
		sch, err := param.ParseSchema(p.ConfSchema)
		if err != nil {
			return fmt.Errorf("pack %s config schema: %w", ref, err)
		}
		current, err := s.Values(p)
		if err != nil {
			return err
		}
		if merge {
			config = param.MergeTrees(current, config)
		}
		config, missing := sch.KeepMaskedSecrets(config, current)
		if len(missing) > 0 {
			return apperr.Errorf(apperr.BadUserInput,
				"%s: the masked value %s stands for a secret that is not set; give the secret itself",
				strings.Join(missing, ", "), param.Redacted)
		}
		plain, sealed, err := s.Checked(sch, config)
		if err != nil {
			return err
		}
		out, err = p.Update().SetConfig(plain).SetConfigSecrets(sealed).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.db.Ent.Pack.Get(ctx, out.ID)
}

// CanSeal reports whether secret fields can be sealed (an encryption key is
// configured).
func (s *Store) CanSeal() bool { return s.sealer != nil && s.sealer.HasKey() }

// open decrypts sealed secrets; "" is none.
func (s *Store) open(sealed string) (map[string]any, error) {
	if sealed == "" {
		return nil, nil
	}
	if s.sealer == nil || !s.sealer.HasKey() {
		return nil, errors.New("secret config fields are stored but no encryption key is configured")
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, errors.New("corrupt sealed config")
	}
	plain, err := s.sealer.Open(raw)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// invalid turns a *param.Error into BAD_USER_INPUT naming every field.
func invalid(err error) error {
	var pe *param.Error
	if !errors.As(err, &pe) {
		return err
	}
	fields := make([]map[string]string, len(pe.Fields))
	for i, f := range pe.Fields {
		fields[i] = map[string]string{"field": f.Field, "message": f.Message}
	}
	return (&apperr.Error{Code: apperr.BadUserInput, Message: "invalid pack config: " + pe.Error(), Err: err}).
		WithDetails("fields", fields)
}
