package execution

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/executionsecret"
	entschema "github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// Secret parameters are stored redacted in Execution.parameters. Their
// plaintext waits in an ExecutionSecret row, written with the execution and
// deleted by the worker in the transaction that claims the run (or by a
// cancel before it starts; a policed action's run keeps it until it ends,
// for a retry: finishInTx; a workflow's engine keeps it until the workflow
// ends: KeepSecretsTx), so it exists only while the execution is queued,
// policed or a running workflow, and it reaches only the action's stdin or
// parameter file, or the tasks the workflow renders.
//
// seal and unseal are the one place the row's bytes are encoded: JSON,
// encrypted by the Sealer (the key/value store's AES-256-GCM key) when the
// server has an encryption key. The first byte says which, so nodes with
// and without a key read each other's rows.

// secretValues returns the secret parameters present in params.
func secretValues(s param.Schema, params map[string]any) map[string]any {
	out := map[string]any{}
	for _, name := range s.SecretNames() {
		if v, ok := params[name]; ok && v != nil {
			out[name] = v
		}
	}
	return out
}

// Sealer encrypts secret parameters while they wait in the queue.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// Formats of a sealed row's first byte.
const (
	sealedPlain     byte = 0
	sealedEncrypted byte = 1
)

func (s *Service) seal(secrets map[string]any) ([]byte, error) {
	b, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("sealing secret parameters: %w", err)
	}
	if s.opts.Sealer == nil {
		return append([]byte{sealedPlain}, b...), nil
	}
	enc, err := s.opts.Sealer.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("sealing secret parameters: %w", err)
	}
	return append([]byte{sealedEncrypted}, enc...), nil
}

func (s *Service) unseal(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("unsealing secret parameters: empty")
	}
	body := b[1:]
	switch b[0] {
	case sealedPlain:
	case sealedEncrypted:
		if s.opts.Sealer == nil {
			return nil, fmt.Errorf("unsealing secret parameters: this node has no encryption key")
		}
		var err error
		if body, err = s.opts.Sealer.Open(body); err != nil {
			return nil, fmt.Errorf("unsealing secret parameters: %w", err)
		}
	default:
		body = b // rows written before the format byte existed
	}
	var secrets map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&secrets); err != nil {
		return nil, fmt.Errorf("unsealing secret parameters: %w", err)
	}
	return secrets, nil
}

// redactor scrubs secret values out of what an action prints, in case it
// echoes them: output lines, stdout, stderr, error and result.
type redactor struct{ r *strings.Replacer }

// minSecretLen keeps tiny values (a secret "1") from redacting every digit.
const minSecretLen = 3

func newRedactor(secrets map[string]any) redactor {
	var forms []string
	for _, v := range secrets {
		if s, ok := v.(string); ok {
			forms = append(forms, s)
		}
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, strings.Trim(string(b), `"`))
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	var pairs []string
	for _, f := range slices.Compact(forms) {
		if len(f) >= minSecretLen {
			pairs = append(pairs, f, param.Redacted)
		}
	}
	if len(pairs) == 0 {
		return redactor{}
	}
	return redactor{strings.NewReplacer(pairs...)}
}

// String returns s with every secret replaced by param.Redacted.
func (r redactor) String(s string) string {
	if r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Value returns v with String applied to every string inside it, so a
// decoded JSON result stays valid JSON.
func (r redactor) Value(v any) any {
	if r.r == nil {
		return v
	}
	switch t := v.(type) {
	case string:
		return r.String(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[r.String(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.Value(e)
		}
		return out
	}
	return v
}

// A workflow needs its secret parameters at every step, on whichever node
// takes it, for the tasks it renders: its engine keeps them in the
// workflow execution's ExecutionSecret row (sealed as above) from its start
// until it ends, and stores placeholders in its state.

// KeepSecretsTx stores secrets as execution id's sealed secret parameters
// in tx, replacing any it had.
func (s *Service) KeepSecretsTx(ctx context.Context, tx *store.Tx, id int, secrets map[string]any) error {
	sealed, err := s.seal(secrets)
	if err != nil {
		return err
	}
	if err := s.DropSecretsTx(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.Ent.ExecutionSecret.Create().SetExecutionID(id).SetSealed(sealed).Exec(ctx); err != nil {
		return fmt.Errorf("storing secret parameters: %w", err)
	}
	return nil
}

// SecretsTx returns execution id's sealed secret parameters, unsealed, or
// nil when it has none. It reads as the server, whoever ctx acts for.
func (s *Service) SecretsTx(ctx context.Context, tx *store.Tx, id int) (map[string]any, error) {
	sec, err := tx.Ent.ExecutionSecret.Query().Where(executionsecret.ExecutionID(id)).Only(entschema.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.unseal(sec.Sealed)
}

// DropSecretsTx deletes execution id's sealed secret parameters, if any.
func (s *Service) DropSecretsTx(ctx context.Context, tx *store.Tx, id int) error {
	_, err := tx.Ent.ExecutionSecret.Delete().Where(executionsecret.ExecutionID(id)).Exec(ctx)
	return err
}
