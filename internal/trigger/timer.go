package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/attune-io/attune/ent"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/internal/lease"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// The core timer triggers.
const (
	IntervalTimer = "core.intervaltimer"
	CronTimer     = "core.crontimer"
	DateTimeTimer = "core.datetimetimer"
)

// StackStorm's timer triggers, with its parameters and payload
// (st2common/constants/triggers.py).
const (
	St2IntervalTimer = "core.st2.IntervalTimer"
	St2CronTimer     = "core.st2.CronTimer"
	St2DateTimer     = "core.st2.DateTimer"
)

// timerRefs are the triggers Timers fires.
var timerRefs = []string{IntervalTimer, CronTimer, DateTimeTimer, St2IntervalTimer, St2CronTimer, St2DateTimer}

// maxCronScan bounds how far back a StackStorm cron timer looks for due
// seconds in one round (a long catch-up window is cut to it).
const maxCronScan = 24 * time.Hour

// timersLease is the lease whose holder fires every timer.
const timersLease = "timers"

// maxTicksPerRound bounds the ticks one rule fires in one round, so a long
// catch-up window cannot flood the queue.
const maxTicksPerRound = 100

// TimerOptions configure Timers.
type TimerOptions struct {
	// Resolution is how often the leader looks for due ticks (default 200ms).
	Resolution time.Duration
	// CatchUp is how far back a new leader fires ticks it finds unfired (0:
	// ticks missed while no node led are skipped).
	CatchUp time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Timers fires the core timer triggers for every enabled rule that uses
// them, on the one node holding the "timers" lease. Tick times depend only
// on the rule (its parameters and updated_at), never on the node, and each
// tick's event carries the dedupe key "timer:<rule id>:<tick>", so a tick
// is stored once even when a leader handover makes two nodes fire it.
type Timers struct {
	db     *store.DB
	engine *rule.Engine
	leases *lease.Leases
	opts   TimerOptions

	schedules map[int]*schedule // rule id → parsed schedule; touched only by run
	stop      context.CancelFunc
	done      chan struct{}
}

// NewTimers returns Timers emitting through engine, led through leases.
func NewTimers(db *store.DB, engine *rule.Engine, leases *lease.Leases, o TimerOptions) *Timers {
	if o.Resolution <= 0 {
		o.Resolution = 200 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Timers{db: db, engine: engine, leases: leases, opts: o, schedules: map[int]*schedule{}}
}

// Start runs the timers until Stop.
func (t *Timers) Start(ctx context.Context) {
	ctx, t.stop = context.WithCancel(context.WithoutCancel(ctx))
	t.done = make(chan struct{})
	go t.run(ctx)
}

// Stop stops firing and gives up the lease, so another node takes over at
// once. Safe to call twice.
func (t *Timers) Stop(ctx context.Context) {
	if t.stop == nil {
		return
	}
	t.stop()
	<-t.done
	if err := t.leases.Release(ctx, timersLease); err != nil {
		t.opts.Logger.Warn("releasing timers lease", "error", err)
	}
}

func (t *Timers) run(ctx context.Context) {
	defer close(t.done)
	ticker := time.NewTicker(t.opts.Resolution)
	defer ticker.Stop()
	var leader bool
	var renewed, from time.Time
	for {
		now := t.opts.Now()
		if now.Sub(renewed) >= t.leases.TTL()/3 {
			held, err := t.leases.Acquire(ctx, timersLease)
			if err != nil && ctx.Err() == nil {
				t.opts.Logger.Warn("timers lease", "error", err)
			}
			switch {
			case held && !leader:
				t.opts.Logger.Info("leading timers", "holder", t.leases.Holder())
				from = now.Add(-t.opts.CatchUp)
			case !held && leader:
				t.opts.Logger.Warn("lost timers lease", "holder", t.leases.Holder())
			}
			leader = held
			if held {
				renewed = now
			}
		}
		if leader {
			if err := t.fire(ctx, from, now); err != nil && ctx.Err() == nil {
				t.opts.Logger.Warn("firing timers", "error", err)
			} else {
				from = now
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// fire emits the ticks of every timer rule due in (from, now].
func (t *Timers) fire(ctx context.Context, from, now time.Time) error {
	rules, err := t.db.Ent.Rule.Query().
		Where(entrule.Enabled(true), entrule.TriggerRefIn(timerRefs...)).All(ctx)
	if err != nil {
		return fmt.Errorf("listing timer rules: %w", err)
	}
	live := map[int]bool{}
	var errs []error
	for _, r := range rules {
		live[r.ID] = true
		s := t.schedules[r.ID]
		if s == nil || !s.updated.Equal(r.UpdatedAt) {
			s = newSchedule(r)
			t.schedules[r.ID] = s
			if s.err != nil {
				t.opts.Logger.Warn("timer rule has invalid parameters", "rule", r.Ref, "error", s.err)
			}
		}
		if s.err != nil {
			continue
		}
		for _, tk := range s.ticks(from, now) {
			_, err := t.engine.Emit(ctx, rule.Emission{
				Trigger: r.TriggerRef, Rule: r.Ref, Source: rule.SourceTimer,
				Payload:   s.payload(tk, now),
				DedupeKey: fmt.Sprintf("timer:%d:%d", r.ID, tk.at.UnixNano()),
			})
			if err != nil && !errors.Is(err, rule.ErrDuplicate) {
				errs = append(errs, fmt.Errorf("rule %s: %w", r.Ref, err))
			}
		}
	}
	for id := range t.schedules {
		if !live[id] {
			delete(t.schedules, id)
		}
	}
	return errors.Join(errs...)
}

// schedule is one rule's parsed timer.
type schedule struct {
	updated  time.Time
	trigger  string
	anchor   time.Time     // interval: ticks at anchor + k*every
	every    time.Duration // interval
	cron     cron.Schedule
	location *time.Location
	at       time.Time // datetime
	aps      *apsCron  // StackStorm cron
	err      error
}

// tick is one scheduled firing; n counts interval ticks from 1.
type tick struct {
	at time.Time
	n  int64
}

var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var units = map[string]time.Duration{"seconds": time.Second, "minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}

// st2Units are StackStorm's interval units (APScheduler's).
var st2Units = map[string]time.Duration{"seconds": time.Second, "minutes": time.Minute, "hours": time.Hour,
	"days": 24 * time.Hour, "weeks": 7 * 24 * time.Hour}

// dateLayouts are the forms a StackStorm date timer's date may take
// (StackStorm parses it with dateutil, which reads far more).
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// zone reads a timer's timezone parameter (default UTC).
func zone(p map[string]any) (*time.Location, error) {
	tz, _ := p["timezone"].(string)
	if tz == "" {
		tz = "UTC"
	}
	return time.LoadLocation(tz)
}

// CheckParams reports what is wrong with a timer rule's trigger parameters
// (nil for other triggers), so rules are refused when created or installed,
// not discovered broken at tick time.
func CheckParams(triggerRef string, params map[string]any) error {
	return newSchedule(&ent.Rule{TriggerRef: triggerRef, TriggerParams: params}).err
}

// newSchedule parses a rule's trigger parameters.
func newSchedule(r *ent.Rule) *schedule {
	s := &schedule{updated: r.UpdatedAt, trigger: r.TriggerRef, anchor: r.UpdatedAt}
	p := r.TriggerParams
	switch r.TriggerRef {
	case IntervalTimer:
		unit, _ := p["unit"].(string)
		if unit == "" {
			unit = "seconds"
		}
		n := number(p["interval"])
		if units[unit] == 0 || n <= 0 || n != math.Trunc(n) {
			s.err = fmt.Errorf("interval must be a positive integer and unit one of seconds, minutes, hours, days")
		}
		s.every = time.Duration(n) * units[unit]
	case CronTimer:
		tz, _ := p["timezone"].(string)
		if tz == "" {
			tz = "UTC"
		}
		if s.location, s.err = time.LoadLocation(tz); s.err != nil {
			return s
		}
		expr, _ := p["expression"].(string)
		s.cron, s.err = cronParser.Parse(expr)
	case DateTimeTimer:
		at, _ := p["fire_at"].(string)
		s.at, s.err = time.Parse(time.RFC3339, at)
	case St2IntervalTimer:
		unit, _ := p["unit"].(string)
		n := number(p["delta"])
		if st2Units[unit] == 0 || n <= 0 || n != math.Trunc(n) {
			s.err = fmt.Errorf("delta must be a positive integer and unit one of weeks, days, hours, minutes, seconds")
		}
		s.every = time.Duration(n) * st2Units[unit]
		if _, err := zone(p); err != nil && s.err == nil {
			s.err = err
		}
	case St2CronTimer:
		if s.location, s.err = zone(p); s.err != nil {
			return s
		}
		s.aps, s.err = parseAPSCron(p)
	case St2DateTimer:
		if s.location, s.err = zone(p); s.err != nil {
			return s
		}
		date, _ := p["date"].(string)
		s.err = fmt.Errorf("date %q is not a date and time such as 2030-12-31 23:59:59", date)
		for _, layout := range dateLayouts {
			if at, err := time.ParseInLocation(layout, strings.TrimSpace(date), s.location); err == nil {
				s.at, s.err = at, nil
				break
			}
		}
	}
	return s
}

// ticks lists the ticks in (from, now], at most maxTicksPerRound (the
// latest ones when more are due).
func (s *schedule) ticks(from, now time.Time) []tick {
	var out []tick
	switch s.trigger {
	case IntervalTimer, St2IntervalTimer:
		last := int64(now.Sub(s.anchor) / s.every)
		first := max(int64(from.Sub(s.anchor)/s.every)+1, last-maxTicksPerRound+1, 1)
		for k := first; k <= last; k++ {
			out = append(out, tick{at: s.anchor.Add(time.Duration(k) * s.every), n: k})
		}
	case CronTimer:
		for at := s.cron.Next(from.In(s.location)); !at.After(now) && len(out) < maxTicksPerRound; at = s.cron.Next(at) {
			out = append(out, tick{at: at})
		}
	case DateTimeTimer, St2DateTimer:
		if s.at.After(from) && !s.at.After(now) {
			out = append(out, tick{at: s.at})
		}
	case St2CronTimer:
		// Whole seconds in (from, now], each judged in the timer's zone.
		if now.Sub(from) > maxCronScan {
			from = now.Add(-maxCronScan)
		}
		for at := from.Truncate(time.Second).Add(time.Second); !at.After(now); at = at.Add(time.Second) {
			if s.aps.matches(at.In(s.location)) {
				out = append(out, tick{at: at})
			}
		}
		if len(out) > maxTicksPerRound {
			out = out[len(out)-maxTicksPerRound:]
		}
	}
	return out
}

// payload is the event data of a tick, per the core trigger's schema.
func (s *schedule) payload(tk tick, now time.Time) map[string]any {
	switch s.trigger {
	case St2IntervalTimer, St2CronTimer, St2DateTimer:
		// StackStorm's: str() of the UTC time it fired, and the rule's
		// "time" parameter, which no timer declares (so null).
		return map[string]any{"executed_at": pythonTime(now), "schedule": nil}
	}
	p := map[string]any{
		"fired_at":     now.UTC().Format(time.RFC3339Nano),
		"scheduled_at": tk.at.UTC().Format(time.RFC3339Nano),
	}
	switch s.trigger {
	case IntervalTimer:
		p["type"] = "interval"
		p["interval_seconds"] = s.every.Seconds()
		p["execution_count"] = tk.n
	case CronTimer:
		p["type"] = "cron"
		p["next_fire_at"] = s.cron.Next(tk.at).UTC().Format(time.RFC3339Nano)
	case DateTimeTimer:
		p["type"] = "datetime"
	}
	return p
}

// pythonTime is t as Python's str() of an aware UTC datetime writes it.
func pythonTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05+00:00")
	}
	return t.Format("2006-01-02 15:04:05.000000+00:00")
}

// number reads a number as JSON (float64, json.Number), GraphQL input
// (int64) or YAML (int) decoding gives it.
func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}
