package pack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	entpack "github.com/attune-io/attune/ent/pack"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/ent/sensor"
	"github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/ent/workflowdefinition"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/packenv"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/policy"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

type registration struct {
	path, source, checksum string
	// files lists the version's files under path, as checksummed: they
	// are stored in the database with the registration.
	files  []string
	env    packenv.Status
	system bool
	// fileConfig is the operator's configs/<pack>.yaml, nil for none.
	fileConfig *operatorFile
}

// register writes the pack and all its components in one transaction.
// Components are matched by ref, so an upgrade keeps their ids (another
// pack's rule keeps pointing at the action); components gone from the new
// version are deleted, and history keeps their refs.
func (s *Service) register(ctx context.Context, m *manifest.Pack, r registration) (*ent.Pack, error) {
	var out *ent.Pack
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		c := tx.Ent
		p, err := c.Pack.Query().Where(entpack.Ref(m.Ref)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		var pu interface {
			Save(context.Context) (*ent.Pack, error)
		}
		now := time.Now()
		// The operator's config survives a reinstall or an upgrade; the
		// pack's defaults fill gaps, and configs/<pack>.yaml, when new or
		// changed, sets what it names. Secret fields (by the new schema)
		// are sealed.
		config := param.MergeTrees(m.Config, nil)
		if p != nil {
			current, err := s.configs.Values(p)
			if err != nil {
				return err
			}
			config = param.MergeTrees(config, current)
		}
		if r.fileConfig.applies(p) {
			config = param.MergeTrees(config, r.fileConfig.config)
		}
		plain, sealed := config, ""
		if s.configs.CanSeal() {
			// Without a key, secret defaults stay in the clear, as keys
			// cannot be secret then; the install warns (configWarnings).
			if plain, sealed, err = s.configs.Sealed(m.ConfigSchema, config); err != nil {
				return err
			}
		}
		if p != nil {
			pu = c.Pack.UpdateOne(p).SetLabel(m.Label).SetDescription(m.Description).
				SetVersion(m.Version).SetAuthor(m.Author).SetConfSchema(schemaMap(m.ConfigSchema)).
				SetConfig(plain).SetConfigSecrets(sealed).SetConfigFileChecksum(r.fileConfig.appliedChecksum(p)).SetTags(m.Tags).SetSystem(r.system).SetSource(r.source).
				SetPath(r.path).SetChecksum(r.checksum).SetInstalledAt(now).
				SetEnvStatus(envStatus(r.env)).SetEnvPath(r.env.Path).SetEnvError("").
				SetEnvChecksum(r.env.Checksum)
		} else {
			pu = c.Pack.Create().SetRef(m.Ref).SetLabel(m.Label).SetDescription(m.Description).
				SetVersion(m.Version).SetAuthor(m.Author).SetConfSchema(schemaMap(m.ConfigSchema)).
				SetConfig(plain).SetConfigSecrets(sealed).SetConfigFileChecksum(r.fileConfig.appliedChecksum(p)).SetTags(m.Tags).SetSystem(r.system).SetSource(r.source).
				SetPath(r.path).SetChecksum(r.checksum).SetInstalledAt(now).
				SetEnvStatus(envStatus(r.env)).SetEnvPath(r.env.Path).SetEnvChecksum(r.env.Checksum)
		}
		if p, err = pu.Save(ctx); err != nil {
			return err
		}
		if err := upsertComponents(ctx, c, p, m); err != nil {
			return err
		}
		if err := storeFiles(ctx, c, m.Ref, r.checksum, r.path, r.files); err != nil {
			return fmt.Errorf("storing the pack's files: %w", err)
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Entities remember the client that loaded them; hand out one bound to
	// the database, not to the finished transaction, so edges resolve.
	return s.db.Ent.Pack.Get(ctx, out.ID)
}

func upsertComponents(ctx context.Context, c *ent.Client, p *ent.Pack, m *manifest.Pack) error {
	actionIDs := map[string]int{}
	var keep []string
	for _, a := range m.Actions {
		id, err := c.Action.Query().Where(action.Ref(a.Ref)).OnlyID(ctx)
		runner := action.RunnerType(strings.ToUpper(string(a.RunnerType)))
		delivery := action.ParameterDelivery(strings.ToUpper(a.ParameterDelivery))
		switch {
		case ent.IsNotFound(err):
			var created *ent.Action
			created, err = c.Action.Create().SetRef(a.Ref).SetPack(p).SetPackRef(p.Ref).
				SetLabel(a.Label).SetDescription(a.Description).SetRunnerType(runner).SetRunnerName(a.RunnerName).
				SetEntryPoint(a.EntryPoint).SetParameters(schemaMap(a.Parameters)).
				SetOutputSchema(schemaMap(a.Output)).SetTimeoutSeconds(a.TimeoutSeconds).
				SetParameterDelivery(delivery).SetEnabled(a.Enabled).SetTags(a.Tags).SetIdempotent(a.Idempotent).SetNotify(a.Notify).Save(ctx)
			if err == nil {
				id = created.ID
			}
		case err == nil:
			err = c.Action.UpdateOneID(id).SetLabel(a.Label).SetDescription(a.Description).
				SetRunnerType(runner).SetRunnerName(a.RunnerName).SetEntryPoint(a.EntryPoint).SetParameters(schemaMap(a.Parameters)).
				SetOutputSchema(schemaMap(a.Output)).SetTimeoutSeconds(a.TimeoutSeconds).
				SetParameterDelivery(delivery).SetEnabled(a.Enabled).SetTags(a.Tags).SetIdempotent(a.Idempotent).SetNotify(a.Notify).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("action %s: %w", a.Ref, err)
		}
		actionIDs[a.Ref] = id
		keep = append(keep, a.Ref)
		// Rules of other packs that lost this action (deleted pack,
		// reinstalled) point at it again.
		if err := c.Rule.Update().Where(entrule.ActionRef(a.Ref), entrule.ActionIDIsNil()).
			SetActionID(id).Exec(ctx); err != nil {
			return err
		}
	}
	if _, err := c.Action.Delete().Where(action.PackID(p.ID), action.RefNotIn(keep...)).Exec(ctx); err != nil {
		return err
	}

	triggerIDs := map[string]int{}
	keep = nil
	for _, tr := range m.Triggers {
		id, err := c.Trigger.Query().Where(trigger.Ref(tr.Ref)).OnlyID(ctx)
		switch {
		case ent.IsNotFound(err):
			// No webhook key here: rotateWebhookKey makes one and shows it once.
			var created *ent.Trigger
			created, err = c.Trigger.Create().SetRef(tr.Ref).SetPack(p).SetPackRef(p.Ref).
				SetLabel(tr.Label).SetDescription(tr.Description).SetType(triggerType(tr)).
				SetParametersSchema(schemaMap(tr.Parameters)).SetPayloadSchema(schemaMap(tr.Payload)).
				SetWebhookEnabled(tr.Webhook).SetEnabled(tr.Enabled).Save(ctx)
			if err == nil {
				id = created.ID
			}
		case err == nil:
			var keyed bool
			// A webhook someone gave a key (rotateWebhookKey) stays on.
			if keyed, err = c.Trigger.Query().Where(trigger.ID(id), trigger.WebhookKeyNEQ("")).Exist(ctx); err != nil {
				break
			}
			err = c.Trigger.UpdateOneID(id).SetLabel(tr.Label).SetDescription(tr.Description).
				SetType(triggerType(tr)).SetParametersSchema(schemaMap(tr.Parameters)).
				SetPayloadSchema(schemaMap(tr.Payload)).SetWebhookEnabled(tr.Webhook || keyed).
				SetEnabled(tr.Enabled).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("trigger %s: %w", tr.Ref, err)
		}
		triggerIDs[tr.Ref] = id
		keep = append(keep, tr.Ref)
		if err := c.Rule.Update().Where(entrule.TriggerRef(tr.Ref), entrule.TriggerIDIsNil()).
			SetTriggerID(id).Exec(ctx); err != nil {
			return err
		}
	}
	if _, err := c.Trigger.Delete().Where(trigger.PackID(p.ID), trigger.RefNotIn(keep...)).Exec(ctx); err != nil {
		return err
	}

	keep = nil
	for _, se := range m.Sensors {
		id, err := c.Sensor.Query().Where(sensor.Ref(se.Ref)).OnlyID(ctx)
		runner := sensor.RunnerType(strings.ToUpper(string(se.RunnerType)))
		switch {
		case ent.IsNotFound(err):
			err = c.Sensor.Create().SetRef(se.Ref).SetPack(p).SetPackRef(p.Ref).
				SetLabel(se.Label).SetDescription(se.Description).SetRunnerType(runner).SetRunnerName(se.RunnerName).
				SetEntryPoint(se.EntryPoint).SetTriggerTypes(se.TriggerTypes).
				SetClassName(se.ClassName).SetPollInterval(se.PollInterval).
				SetParameters(schemaMap(se.Parameters)).SetConfig(se.Config).SetEnabled(se.Enabled).Exec(ctx)
		case err == nil:
			err = c.Sensor.UpdateOneID(id).SetLabel(se.Label).SetDescription(se.Description).
				SetRunnerType(runner).SetRunnerName(se.RunnerName).SetEntryPoint(se.EntryPoint).SetTriggerTypes(se.TriggerTypes).
				SetClassName(se.ClassName).SetPollInterval(se.PollInterval).
				SetParameters(schemaMap(se.Parameters)).SetConfig(se.Config).SetEnabled(se.Enabled).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("sensor %s: %w", se.Ref, err)
		}
		keep = append(keep, se.Ref)
	}
	if _, err := c.Sensor.Delete().Where(sensor.PackID(p.ID), sensor.RefNotIn(keep...)).Exec(ctx); err != nil {
		return err
	}

	keep = nil
	for _, r := range m.Rules {
		actionID, err := resolveID(ctx, actionIDs, r.ActionRef, func(ref string) (int, error) {
			return c.Action.Query().Where(action.Ref(ref)).OnlyID(ctx)
		})
		if err != nil {
			return err
		}
		triggerID, err := resolveID(ctx, triggerIDs, r.TriggerRef, func(ref string) (int, error) {
			return c.Trigger.Query().Where(trigger.Ref(ref)).OnlyID(ctx)
		})
		if err != nil {
			return err
		}
		id, err := c.Rule.Query().Where(entrule.Ref(r.Ref)).OnlyID(ctx)
		switch {
		case ent.IsNotFound(err):
			err = c.Rule.Create().SetRef(r.Ref).SetPack(p).SetPackRef(p.Ref).SetLabel(r.Label).
				SetDescription(r.Description).SetActionRef(r.ActionRef).SetNillableActionID(actionID).
				SetTriggerRef(r.TriggerRef).SetNillableTriggerID(triggerID).SetCriteria(r.Criteria).
				SetActionParams(r.ActionParams).SetTriggerParams(r.TriggerParams).SetEnabled(r.Enabled).Exec(ctx)
		case err == nil:
			u := c.Rule.UpdateOneID(id).SetLabel(r.Label).SetDescription(r.Description).
				SetActionRef(r.ActionRef).SetTriggerRef(r.TriggerRef).SetCriteria(r.Criteria).
				SetActionParams(r.ActionParams).SetTriggerParams(r.TriggerParams).SetEnabled(r.Enabled)
			if actionID != nil {
				u.SetActionID(*actionID)
			} else {
				u.ClearActionID()
			}
			if triggerID != nil {
				u.SetTriggerID(*triggerID)
			} else {
				u.ClearTriggerID()
			}
			err = u.Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("rule %s: %w", r.Ref, err)
		}
		keep = append(keep, r.Ref)
	}
	if _, err := c.Rule.Delete().Where(entrule.PackID(p.ID), entrule.RefNotIn(keep...)).Exec(ctx); err != nil {
		return err
	}

	keep = nil
	for _, w := range m.Workflows {
		id, err := c.WorkflowDefinition.Query().Where(workflowdefinition.Ref(w.Ref)).OnlyID(ctx)
		switch {
		case ent.IsNotFound(err):
			err = c.WorkflowDefinition.Create().SetRef(w.Ref).SetPack(p).SetPackRef(p.Ref).
				SetLabel(w.Label).SetDescription(w.Description).SetDefinition(w.Definition).Exec(ctx)
		case err == nil:
			err = c.WorkflowDefinition.UpdateOneID(id).SetLabel(w.Label).
				SetDescription(w.Description).SetDefinition(w.Definition).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("workflow %s: %w", w.Ref, err)
		}
		keep = append(keep, w.Ref)
	}
	_, err := c.WorkflowDefinition.Delete().
		Where(workflowdefinition.PackID(p.ID), workflowdefinition.RefNotIn(keep...)).Exec(ctx)
	if err != nil {
		return err
	}
	return policy.Register(ctx, c, p.ID, p.Ref, m.Policies)
}

func resolveID(ctx context.Context, local map[string]int, ref string, lookup func(string) (int, error)) (*int, error) {
	if id, ok := local[ref]; ok {
		return &id, nil
	}
	id, err := lookup(ref)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// ruleProblems refuses criteria and parameter templates that would only
// fail at event time.
func ruleProblems(r manifest.Rule) []manifest.Problem {
	var probs []manifest.Problem
	for _, p := range rule.CompileProblems(r.Criteria, r.ActionParams, "action_params", r.StackStorm) {
		probs = append(probs, manifest.Problem{File: r.File, Field: p.Key, Message: p.Message})
	}
	return probs
}

// schemaMap stores a parameter schema as the JSON object clients see.
func schemaMap(s param.Schema) map[string]any {
	if len(s) == 0 {
		return map[string]any{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{}
	}
	return m
}

func envStatus(st packenv.Status) entpack.EnvStatus {
	if st.Kind == packenv.KindNone || st.Kind == "" {
		return entpack.EnvStatusNONE
	}
	return entpack.EnvStatusREADY
}

func triggerType(tr manifest.Trigger) string {
	if tr.Type != "" {
		return tr.Type
	}
	if tr.Webhook {
		return "webhook"
	}
	return "custom"
}

func randomSuffix() string { return randomHex(4) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
