package rule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/enforcement"
	"github.com/attune-io/attune/ent/event"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// Enqueuer inserts the rule-evaluation job of an event inside the
// transaction that stores the event; internal/queue implements it.
type Enqueuer interface {
	// InsertEvaluationTx inserts one job evaluating all these events.
	InsertEvaluationTx(ctx context.Context, tx *store.Tx, eventIDs ...int) error
	// EvaluatesHere reports that this process works evaluation jobs, so it
	// may evaluate the events it stores in their own transaction (see
	// Engine.Emit).
	EvaluatesHere() bool
}

// Requester creates an execution inside the caller's transaction;
// *execution.Service implements it.
type Requester interface {
	PrepareTx(ctx context.Context, tx *store.Tx, req execution.Request) (*execution.Prepared, error)
	InsertTx(ctx context.Context, tx *store.Tx, p *execution.Prepared, enforcementID *int) (*ent.Execution, error)
}

// ContextFunc adds namespaces to a rule's template context before it
// renders (the keystore). It runs inside the enforcement's transaction and
// must use only tx. It returns the context paths that hold secrets, which
// may flow only into parameters the action declares secret.
type ContextFunc func(ctx context.Context, tx *store.Tx, r *ent.Rule, c Context) (secrets []string, err error)

// Options configure an Engine.
type Options struct {
	// Now is the clock criteria (timediff) and timers use; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Context, if set, extends every template context.
	Context ContextFunc
	// CheckTriggerParams, if set, refuses trigger parameters the trigger's
	// schema allows but its source cannot use (a bad cron expression, an
	// unknown time zone), at createRule rather than at tick time.
	CheckTriggerParams func(triggerRef string, params map[string]any) error
	// PackConfig, if set, reads a pack's config as pack code sees it
	// (secrets opened, schema defaults applied) through c; without it
	// templates see the stored non-secret values.
	PackConfig func(ctx context.Context, c *ent.Client, packRef string) (map[string]any, error)
	// Metrics, when set, counts the events stored, the rule evaluations
	// and the enforcements.
	Metrics *metrics.Metrics
}

// Engine is the event pipeline's stateful half: it stores events with
// their evaluation jobs, evaluates rules into enforcements and executions,
// and manages rules. Safe for concurrent use.
type Engine struct {
	db    *store.DB
	queue Enqueuer
	exec  Requester
	bus   *notify.Bus
	opts  Options

	mu     sync.Mutex
	cache  map[int]*compiled     // rule id → compiled criteria and templates
	scopes map[scope]*scopeRules // an event scope's enabled rules, compiled
	// scopesWithEdges is scopes as evaluateTx reads them, whose versions
	// cover the rules' actions and packs too.
	scopesWithEdges map[scope]*scopeRules

	ingest ingest
}

// compiled is a rule's criteria and templates, valid while the rule's
// updated_at is unchanged.
type compiled struct {
	updated   time.Time
	criteria  *Criteria
	templates *Templates
	err       error // the criteria's
	// tplErr is the action parameters' with attune's template engine;
	// rules of StackStorm actions render theirs with Jinja instead.
	tplErr error
}

// NewEngine returns an Engine over db that enqueues evaluations on q,
// requests executions from x and announces events on bus.
func NewEngine(db *store.DB, q Enqueuer, x Requester, bus *notify.Bus, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Engine{db: db, queue: q, exec: x, bus: bus, opts: o, cache: map[int]*compiled{}, scopes: map[scope]*scopeRules{}, scopesWithEdges: map[scope]*scopeRules{}}
	e.ingest.e = e
	return e
}

// Evaluate judges every enabled rule of the event's trigger (or only the
// event's rule when it names one) against the event, each in its own transaction, so one rule's trouble never blocks
// another's enforcement. It is idempotent: a rule that already has an
// enforcement for the event is skipped, so a redelivered job creates
// nothing twice. An error means some rule should be retried.
func (e *Engine) Evaluate(ctx context.Context, eventID int) error {
	return e.EvaluateMany(ctx, []int{eventID})
}

// EvaluateMany is Evaluate of several events (a job's), loaded in one query,
// with one look at the rules of each trigger among them. Events purged
// before evaluation are skipped.
func (e *Engine) EvaluateMany(ctx context.Context, eventIDs []int) error {
	evs, err := e.db.Ent.Event.Query().Where(event.IDIn(eventIDs...)).Order(event.ByID()).All(ctx)
	if err != nil {
		return fmt.Errorf("loading events %v: %w", eventIDs, err)
	}
	return e.evaluate(ctx, evs...)
}

// evaluate is EvaluateMany of loaded events.
func (e *Engine) evaluate(ctx context.Context, evs ...*ent.Event) error {
	rulesFor := make(map[scope][]candidate)
	var errs []error
	for _, ev := range evs {
		sc := scope{ev.TriggerRef, ev.RuleRef}
		rules, ok := rulesFor[sc]
		if !ok {
			var err error
			if rules, err = e.rulesOf(ctx, e.db.Reader(), e.db.Ent, sc, false); err != nil {
				errs = append(errs, err)
				continue
			}
			rulesFor[sc] = rules
		}
		for _, r := range rules {
			if r.mismatch(ev, e.opts.Now()) {
				e.opts.Metrics.RuleEvaluated(r.rule.Ref, metrics.RuleUnmatched)
				continue
			}
			if err := e.enforce(ctx, ev, r.rule.ID); err != nil {
				errs = append(errs, fmt.Errorf("rule %s on event %d: %w", r.rule.Ref, ev.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// evaluateTx evaluates events inside the transaction that stores them (see
// ingest): the enforcements and executions they cause commit with them, so
// an event needs no evaluation job, no second transaction and no lock. The
// rules, with their packs and actions, come from memory when their version,
// read in tx, is the one last seen. Any error is the transaction's: the
// caller stores the events again with an evaluation job instead.
func (e *Engine) evaluateTx(ctx context.Context, tx *store.Tx, evs []*ent.Event) error {
	rulesFor := make(map[scope][]candidate)
	// Rules whose criteria did not match, counted once tx commits: one
	// hook for the batch, not one per rule and event.
	var unmatched map[string]int
	if e.opts.Metrics != nil {
		unmatched = map[string]int{}
		tx.AfterCommit(func() {
			for rule, n := range unmatched {
				e.opts.Metrics.RuleEvaluations(rule, metrics.RuleUnmatched, n)
			}
		})
	}
	for _, ev := range evs {
		sc := scope{ev.TriggerRef, ev.RuleRef}
		rules, ok := rulesFor[sc]
		if !ok {
			var err error
			if rules, err = e.rulesOf(ctx, tx.SQL, tx.Ent, sc, true); err != nil {
				return err
			}
			rulesFor[sc] = rules
		}
		for _, c := range rules {
			if c.mismatch(ev, e.opts.Now()) {
				if unmatched != nil {
					unmatched[c.rule.Ref]++
				}
				continue
			}
			v, err := e.judge(ctx, tx, c.rule, ev)
			if err == nil && v == nil && unmatched != nil {
				unmatched[c.rule.Ref]++
			}
			if err == nil && v != nil {
				err = e.record(ctx, tx, c.rule, ev, v)
			}
			if err != nil {
				return fmt.Errorf("rule %s on event %d: %w", c.rule.Ref, ev.ID, err)
			}
		}
	}
	return nil
}

// candidate is an enabled rule of an event's trigger with its compiled
// criteria and templates, as loaded when its scope's version was read (for
// evaluateTx, with its pack, action and action's pack).
type candidate struct {
	rule *ent.Rule
	*compiled
}

// querier runs one query: the database or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scope is which rules an event is for: its trigger's, or only one of them
// (a timer tick's).
type scope struct{ trigger, rule string }

// scopeRules is a scope's enabled rules as of a version (see rulesVersion).
type scopeRules struct {
	version string
	rules   []candidate
}

// rulesVersion is one short query whose answer changes whenever the set of
// enabled rules of a scope changes or the updated_at of any of them, as one
// string; withEdges, also the updated_at of their actions and of the packs
// their templates read (a deleted action shows as "-"). Comparing it is far
// cheaper than reading the rules as rows (on SQLite, reading 100 rows' ids
// and timestamps was a third of an evaluation's CPU). Only an evaluation
// that enforces with the remembered actions and packs (evaluateTx) needs
// their version; the joins and the extra timestamps cost a queued
// evaluation of 100 rules a third of its rate, so it reads the rules' alone.
// The items are joined in the order the query reads them (its index's, by
// id), not sorted: sorting them (a temporary b-tree on SQLite) was half of
// the query's cost, and an order that ever differed would only make one
// evaluation read the rules again.
func (e *Engine) rulesVersion(ctx context.Context, db querier, sc scope, withEdges bool) (string, error) {
	var v string
	if err := db.QueryRowContext(ctx, rulesVersionSQL(e.db.Dialect, withEdges), sc.trigger, sc.rule).Scan(&v); err != nil {
		return "", fmt.Errorf("checking rules of %s: %w", sc.trigger, err)
	}
	return v, nil
}

// rulesVersionSQL is rulesVersion's query in dialect d.
func rulesVersionSQL(d string, withEdges bool) string {
	agg, text := "group_concat", ""
	if d == dialect.Postgres {
		agg, text = "string_agg", "::text"
	}
	item, from := "r.id || ':' || r.updated_at", " FROM rules r"
	if withEdges {
		item += " || ':' || coalesce(a.updated_at" + text + ", '-') || ':' || coalesce(ap.updated_at" + text + ", '-')" +
			" || ':' || coalesce(rp.updated_at" + text + ", '-')"
		from += " LEFT JOIN actions a ON a.id = r.action_id LEFT JOIN packs ap ON ap.id = a.pack_id LEFT JOIN packs rp ON rp.id = r.pack_id"
	}
	return "SELECT coalesce(" + agg + "(" + item + ", ','), '')" + from +
		" WHERE r.trigger_ref = $1 AND r.enabled AND ($2 = '' OR r.ref = $2)"
}

// rulesOf returns the enabled rules of a scope, in id order, read through
// db and c (the database, or a transaction). When their version (see
// rulesVersion) is the one last seen it returns them from memory;
// otherwise it loads them, and compiles only those whose compiled form is
// missing or stale: decoding every rule's JSON for every event was most of
// the evaluation's cost.
func (e *Engine) rulesOf(ctx context.Context, db querier, c *ent.Client, sc scope, withEdges bool) ([]candidate, error) {
	// Read before the rules: a change between the two reads makes the next
	// evaluation read them again, never miss them.
	version, err := e.rulesVersion(ctx, db, sc, withEdges)
	if err != nil {
		return nil, err
	}
	scopes := e.scopes
	if withEdges {
		scopes = e.scopesWithEdges
	}
	e.mu.Lock()
	known := scopes[sc]
	e.mu.Unlock()
	if known != nil && known.version == version {
		return known.rules, nil
	}
	rules, err := e.loadRules(ctx, c, sc, withEdges)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	scopes[sc] = &scopeRules{version: version, rules: rules}
	e.mu.Unlock()
	return rules, nil
}

// loadRules reads the enabled rules of a scope, withEdges with what
// enforcing them reads: their pack, their action and its pack.
func (e *Engine) loadRules(ctx context.Context, c *ent.Client, sc scope, withEdges bool) ([]candidate, error) {
	q := c.Rule.Query().Where(entrule.TriggerRef(sc.trigger), entrule.Enabled(true))
	if sc.rule != "" {
		q.Where(entrule.Ref(sc.rule))
	}
	if withEdges {
		q.WithPack().WithAction(func(q *ent.ActionQuery) { q.WithPack() })
	}
	rules, err := q.Order(entrule.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading rules of %s: %w", sc.trigger, err)
	}
	out := make([]candidate, len(rules))
	for i, r := range rules {
		out[i] = candidate{rule: r, compiled: e.compile(r)}
	}
	return out, nil
}

// mismatch reports that the rule's criteria reject ev, judged outside any
// transaction: most rules do not match most events, and those store
// nothing, so they need no transaction (100 rules cost one query, not 100
// transactions). Anything else is judged again inside enforce's.
func (c *compiled) mismatch(ev *ent.Event, now time.Time) bool {
	if c == nil || c.err != nil || c.tplErr != nil || c.criteria.HasTemplates() {
		return false // templated patterns are judged in the transaction, with the keys they read
	}
	ok, err := c.criteria.Match(ev.Payload, now)
	return err == nil && !ok
}

// verdict is what a rule decided about an event.
type verdict struct {
	status enforcement.Status
	reason string
	params map[string]any
}

// enforce judges one rule in one transaction: the enforcement, its
// execution and the execution's job commit together or not at all.
func (e *Engine) enforce(ctx context.Context, ev *ent.Event, ruleID int) error {
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		if e.db.Dialect == dialect.Postgres {
			// Concurrent deliveries of one event queue up here, so the
			// second sees the first's enforcements (SQLite has one writer).
			if _, err := tx.Ent.Event.Query().Where(event.ID(ev.ID)).ForUpdate().OnlyID(ctx); err != nil {
				if ent.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("locking event: %w", err)
			}
		}
		r, err := tx.Ent.Rule.Query().Where(entrule.ID(ruleID)).
			WithPack().WithAction(func(q *ent.ActionQuery) { q.WithPack() }).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("loading rule: %w", err)
		}
		if !r.Enabled {
			return nil
		}
		done, err := tx.Ent.Enforcement.Query().
			Where(enforcement.RuleRef(r.Ref), enforcement.EventRef(ev.ID)).Exist(ctx)
		if err != nil || done {
			return err
		}
		v, err := e.judge(ctx, tx, r, ev)
		if m := e.opts.Metrics; err == nil && v == nil && m != nil {
			tx.AfterCommit(func() { m.RuleEvaluated(r.Ref, metrics.RuleUnmatched) })
		}
		if err != nil || v == nil {
			return err
		}
		return e.record(ctx, tx, r, ev, v)
	})
}

// judge decides: nil when the criteria do not match; otherwise the
// verdict, with rendered parameters when the action should run.
func (e *Engine) judge(ctx context.Context, tx *store.Tx, r *ent.Rule, ev *ent.Event) (_ *verdict, err error) {
	c := e.compile(r)
	// A rule of an action of StackStorm's runners passes its parameters
	// on unrendered: they render with the action's own, StackStorm's way
	// (Jinja, with trigger and rule in the context), before the run.
	stackstorm := execution.RendersJinja(r.Edges.Action)
	if c.err == nil && !stackstorm {
		c = &compiled{criteria: c.criteria, templates: c.templates, err: c.tplErr}
	}
	if c.err != nil {
		return &verdict{status: enforcement.StatusFAILED, reason: c.err.Error()}, nil
	}
	// The template context is built once, before matching when a pattern
	// is a template (it may read trigger and st2kv, as in StackStorm).
	var tc Context
	var secrets []string
	if c.criteria.HasTemplates() {
		if tc, secrets, err = e.templateContext(ctx, tx, r, ev); err != nil {
			return nil, err
		}
	}
	ok, err := c.criteria.MatchContext(ev.Payload, tc, e.opts.Now())
	if err != nil {
		return &verdict{status: enforcement.StatusFAILED, reason: err.Error()}, nil
	}
	if !ok {
		return nil, nil
	}
	// A rule whose trigger or action is not installed (never was, or was
	// deleted) waits, SKIPPED with the reason, until a pack brings it.
	switch {
	case r.TriggerID == nil:
		return &verdict{status: enforcement.StatusSKIPPED, reason: fmt.Sprintf("trigger %s is not installed", r.TriggerRef)}, nil
	case r.ActionID == nil:
		return &verdict{status: enforcement.StatusSKIPPED, reason: fmt.Sprintf("action %s is not installed", r.ActionRef)}, nil
	}
	if stackstorm {
		return &verdict{status: enforcement.StatusCREATED, params: r.ActionParams}, nil
	}
	if tc == nil {
		if tc, secrets, err = e.templateContext(ctx, tx, r, ev); err != nil {
			return nil, err
		}
	}
	if len(secrets) > 0 {
		schema, err := param.ParseSchema(r.Edges.Action.Parameters)
		if err != nil {
			return nil, fmt.Errorf("action %s parameter schema: %w", r.ActionRef, err)
		}
		isSecret := func(p string) bool { return schema[p].Secret }
		if err := CheckSecretFlow(c.templates.ParamReferences(), secrets, isSecret); err != nil {
			return &verdict{status: enforcement.StatusFAILED, reason: err.Error()}, nil
		}
	}
	params, err := c.templates.Render(tc)
	if err != nil {
		return &verdict{status: enforcement.StatusFAILED, reason: err.Error()}, nil
	}
	return &verdict{status: enforcement.StatusCREATED, params: params}, nil
}

// templateContext is what action parameters render against: trigger (the
// payload), event, rule and pack (the rule's pack, else the action's).
func (e *Engine) templateContext(ctx context.Context, tx *store.Tx, r *ent.Rule, ev *ent.Event) (Context, []string, error) {
	payload := map[string]any(ev.Payload)
	if payload == nil {
		payload = map[string]any{}
	}
	p := r.Edges.Pack
	if p == nil && r.Edges.Action != nil {
		p = r.Edges.Action.Edges.Pack
	}
	config := map[string]any{}
	switch {
	case p != nil && e.opts.PackConfig != nil:
		var err error
		if config, err = e.opts.PackConfig(ctx, tx.Ent, p.Ref); err != nil {
			return nil, nil, fmt.Errorf("config of pack %s: %w", p.Ref, err)
		}
	case p != nil && p.Config != nil:
		config = p.Config
	}
	c := Context{
		"trigger": payload,
		"event": map[string]any{
			"id": ev.ID, "payload": payload, "trigger": ev.TriggerRef, "source": ev.SourceRef,
			"created_at": ev.CreatedAt.UTC().Format(time.RFC3339Nano),
		},
		"rule": map[string]any{"ref": r.Ref, "id": r.ID},
		"pack": map[string]any{"config": config},
		// StackStorm's name for the pack's config in templates.
		"config_context": config,
	}
	// Pack config fields marked secret count as secrets: they may only
	// flow into secret parameters, like secret keys.
	var secrets []string
	if p != nil {
		if schema, err := param.ParseSchema(p.ConfSchema); err == nil {
			for _, path := range schema.SecretPaths() {
				name := strings.Join(path, ".")
				secrets = append(secrets, "pack.config."+name, "config_context."+name)
			}
		}
	}
	if e.opts.Context != nil {
		more, err := e.opts.Context(ctx, tx, r, c)
		if err != nil {
			return nil, nil, err
		}
		secrets = append(secrets, more...)
	}
	return c, secrets, nil
}

// record stores the enforcement and, for a CREATED verdict, requests the
// execution and marks the enforcement PROCESSED; an action that refuses
// the parameters makes it FAILED with the reason instead.
func (e *Engine) record(ctx context.Context, tx *store.Tx, r *ent.Rule, ev *ent.Event, v *verdict) error {
	// The request is checked first, so the enforcement is written once,
	// with its outcome (it was inserted, then updated: a statement per
	// enforcement), and before the execution that points to it.
	create := tx.Ent.Enforcement.Create().SetRuleID(r.ID).SetRuleRef(r.Ref).
		SetEventFk(ev.ID).SetEventRef(ev.ID).SetStatus(v.status).SetReason(v.reason)
	var p *execution.Prepared
	if v.status == enforcement.StatusCREATED {
		var err error
		p, err = e.exec.PrepareTx(ctx, tx, execution.Request{Action: r.ActionRef, Loaded: r.Edges.Action, Parameters: v.params,
			RequestedBy: execution.SystemUser})
		switch ae, client := apperr.As(err); {
		case err == nil:
			create.SetStatus(enforcement.StatusPROCESSED).SetParameters(p.Parameters())
		case client && ae.Code != apperr.Internal:
			create.SetStatus(enforcement.StatusFAILED).SetReason(ae.Message)
		default:
			return err
		}
	}
	enf, err := create.Save(ctx)
	if err != nil {
		return fmt.Errorf("storing enforcement: %w", err)
	}
	if p != nil {
		if _, err := e.exec.InsertTx(ctx, tx, p, &enf.ID); err != nil {
			return err
		}
	}
	e.opts.Logger.Debug("rule enforced", "rule", r.Ref, "event_id", ev.ID, "status", v.status)
	if m := e.opts.Metrics; m != nil {
		status, outcome := string(enf.Status), metrics.RuleFailed
		switch enf.Status {
		case enforcement.StatusPROCESSED:
			outcome = metrics.RuleMatched
		case enforcement.StatusSKIPPED:
			outcome = metrics.RuleSkipped
		}
		tx.AfterCommit(func() {
			m.RuleEvaluated(r.Ref, outcome)
			m.Enforcement(r.Ref, status)
		})
	}
	e.bus.PublishAfterCommit(tx, notify.Event{Kind: notify.EnforcementCreated, ID: enf.ID})
	return nil
}

// compile returns the rule's compiled criteria and templates, cached per
// rule until its updated_at changes.
func (e *Engine) compile(r *ent.Rule) *compiled {
	if c := e.cached(r.ID, r.UpdatedAt); c != nil {
		return c
	}
	c := &compiled{updated: r.UpdatedAt}
	c.criteria, c.err = CompileCriteria(r.Criteria)
	if c.err == nil {
		c.templates, c.tplErr = CompileTemplates(r.ActionParams)
	}
	e.mu.Lock()
	e.cache[r.ID] = c
	e.mu.Unlock()
	return c
}

// cached returns rule id's compiled form if it is of the rule as updated
// at updated, else nil.
func (e *Engine) cached(id int, updated time.Time) *compiled {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.cache[id]; ok && c.updated.Equal(updated) {
		return c
	}
	return nil
}
