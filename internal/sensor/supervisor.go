// Package sensor runs pack sensors: long-lived processes that print events
// as JSON lines. The sensor role supervises one process per enabled sensor
// whose triggers have enabled rules, restarts it with capped exponential
// backoff when it dies, stops it when it is no longer wanted, and records
// its state on the Sensor row. A per-sensor lease makes each sensor run on
// exactly one node.
package sensor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	entrule "github.com/attune-io/attune/ent/rule"
	entsensor "github.com/attune-io/attune/ent/sensor"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/lease"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/store"
)

// Options configure a Supervisor.
type Options struct {
	// Poll is how often the wanted sensors are recomputed and leases renewed
	// (default 2s); keep it well under a third of the lease TTL.
	Poll time.Duration
	// BackoffMin and BackoffMax bound the delay before a restart; it doubles
	// per consecutive crash (defaults 1s and 1m).
	BackoffMin, BackoffMax time.Duration
	// StableAfter resets the backoff for a process that ran this long (default 1m).
	StableAfter time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL on stop.
	KillGrace time.Duration
	// TempDir is private scratch space for the runner.
	TempDir string
	// PackConfig, if set, is the config a sensor sees (secrets opened,
	// schema defaults applied) of its loaded pack row; without it the
	// stored non-secret values.
	PackConfig func(p *ent.Pack) (map[string]any, error)
	// Keys, when set, backs StackStorm sensors' datastore calls.
	Keys *keystore.Service
	// Packs, when set, makes the pack version a sensor runs ready on this
	// node; nil runs sensors where the pack row says.
	Packs interface {
		PrepareDirs(ctx context.Context, ref, checksum string) (dir, envPath string, err error)
	}
	Logger *slog.Logger
	// Metrics, when set, reports the state and restarts of the sensors
	// this node runs.
	Metrics *metrics.Metrics
}

// Supervisor runs the sensors this node holds leases for.
type Supervisor struct {
	db     *store.DB
	engine *rule.Engine
	leases *lease.Leases
	opts   Options

	running map[int]*proc // sensor id → its supervised process; touched only by loop
	st2     st2Files      // the StackStorm sensor wrapper, written once

	stop context.CancelFunc
	done chan struct{}
}

// proc is one supervised sensor.
type proc struct {
	ref     string
	spec    string // stdin line; a change restarts the process
	version string // the pack's checksum; a change too
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSupervisor returns a Supervisor emitting through engine. Without
// Start it only serves SetEnabled.
func NewSupervisor(db *store.DB, engine *rule.Engine, leases *lease.Leases, o Options) *Supervisor {
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(time.Minute, o.BackoffMin)
	}
	if o.StableAfter <= 0 {
		o.StableAfter = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Supervisor{db: db, engine: engine, leases: leases, opts: o, running: map[int]*proc{}}
}

// SetEnabled enables or disables a sensor; the node running it stops it
// within one poll. Returns NOT_FOUND for an unknown sensor.
func (s *Supervisor) SetEnabled(ctx context.Context, ref string, enabled bool) (*ent.Sensor, error) {
	n, err := s.db.Ent.Sensor.Update().Where(entsensor.Ref(ref)).SetEnabled(enabled).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("updating sensor %s: %w", ref, err)
	}
	if n == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "sensor %q not found", ref)
	}
	return s.db.Ent.Sensor.Query().Where(entsensor.Ref(ref)).Only(ctx)
}

// Start supervises sensors until Stop.
func (s *Supervisor) Start(ctx context.Context) {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.loop(ctx)
}

// Stop stops every sensor process of this node and releases their leases.
// Safe to call twice.
func (s *Supervisor) Stop(ctx context.Context) {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
	for id := range s.running {
		s.halt(ctx, id)
	}
}

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	ticker := time.NewTicker(s.opts.Poll)
	defer ticker.Stop()
	for {
		if err := s.reconcile(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("supervising sensors", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// wanted is a sensor that should run, with the line it gets on stdin.
type wanted struct {
	sensor *ent.Sensor
	spec   string
	// version is the pack's checksum: an upgrade restarts the sensor on
	// the new version.
	version string
}

// reconcile stops processes no longer wanted (or whose input changed),
// renews the leases of the others, and starts wanted sensors whose lease
// this node wins.
func (s *Supervisor) reconcile(ctx context.Context) error {
	want, err := s.wanted(ctx)
	if err != nil {
		return err
	}
	for id, p := range s.running {
		w, ok := want[id]
		if ok && w.spec == p.spec && w.version == p.version {
			if held, err := s.leases.Acquire(ctx, leaseName(id)); err == nil && held {
				continue
			}
		}
		s.halt(ctx, id)
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if _, ok := s.running[id]; ok {
			continue
		}
		held, err := s.leases.Acquire(ctx, leaseName(id))
		if err != nil {
			return err
		}
		if held {
			s.launch(ctx, want[id])
		}
	}
	return nil
}

// wanted lists enabled sensors one of whose triggers has an enabled rule.
func (s *Supervisor) wanted(ctx context.Context) (map[int]wanted, error) {
	rules, err := s.db.Ent.Rule.Query().Where(entrule.Enabled(true)).
		Order(entrule.ByRef()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	byTrigger := map[string][]*ent.Rule{}
	for _, r := range rules {
		byTrigger[r.TriggerRef] = append(byTrigger[r.TriggerRef], r)
	}
	sensors, err := s.db.Ent.Sensor.Query().Where(entsensor.Enabled(true)).WithPack().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sensors: %w", err)
	}
	out := map[int]wanted{}
	for _, se := range sensors {
		var rs []map[string]any
		for _, t := range se.TriggerTypes {
			for _, r := range byTrigger[t] {
				rs = append(rs, map[string]any{"ref": r.Ref, "trigger": r.TriggerRef, "trigger_params": r.TriggerParams})
			}
		}
		if len(rs) == 0 || se.Edges.Pack == nil {
			continue
		}
		config := se.Edges.Pack.Config
		if s.opts.PackConfig != nil {
			if config, err = s.opts.PackConfig(se.Edges.Pack); err != nil {
				return nil, fmt.Errorf("config of sensor %s: %w", se.Ref, err)
			}
		}
		spec := map[string]any{
			"sensor": se.Ref, "config": config, "parameters": se.Config, "rules": rs,
		}
		if se.ClassName != "" {
			spec["pack"], spec["class_name"], spec["poll_interval"] = se.PackRef, se.ClassName, se.PollInterval
		}
		line, err := json.Marshal(spec)
		if err != nil {
			return nil, fmt.Errorf("encoding input of sensor %s: %w", se.Ref, err)
		}
		out[se.ID] = wanted{sensor: se, spec: string(line), version: se.Edges.Pack.Checksum}
	}
	return out, nil
}

func leaseName(id int) string { return "sensor:" + strconv.Itoa(id) }

// launch supervises w's process until halted.
func (s *Supervisor) launch(ctx context.Context, w wanted) {
	pctx, cancel := context.WithCancel(ctx)
	p := &proc{ref: w.sensor.Ref, spec: w.spec, version: w.version, cancel: cancel, done: make(chan struct{})}
	s.running[w.sensor.ID] = p
	go func() {
		defer close(p.done)
		s.supervise(pctx, w)
	}()
}

// halt stops a sensor's process, records it STOPPED and releases its lease.
func (s *Supervisor) halt(ctx context.Context, id int) {
	p := s.running[id]
	delete(s.running, id)
	p.cancel()
	<-p.done
	s.opts.Metrics.SensorState(p.ref, "")
	ctx = context.WithoutCancel(ctx)
	if err := s.db.Ent.Sensor.UpdateOneID(id).SetStatus(entsensor.StatusSTOPPED).Exec(ctx); err != nil && !ent.IsNotFound(err) {
		s.opts.Logger.Warn("recording sensor stop", "sensor_id", id, "error", err)
	}
	if err := s.leases.Release(ctx, leaseName(id)); err != nil {
		s.opts.Logger.Warn("releasing sensor lease", "sensor_id", id, "error", err)
	}
}

// supervise runs the sensor, restarting it with backoff, until ctx ends.
func (s *Supervisor) supervise(ctx context.Context, w wanted) {
	se := w.sensor
	log := s.opts.Logger.With("sensor", se.Ref)
	var params map[string]any
	_ = json.Unmarshal([]byte(w.spec), &params)
	crashes := 0
	for {
		s.setStatus(ctx, se.ID, func(u *ent.SensorUpdateOne) { u.SetStatus(entsensor.StatusRUNNING) })
		s.opts.Metrics.SensorState(se.Ref, string(entsensor.StatusRUNNING))
		started := time.Now()
		req, err := s.request(ctx, se, params, log)
		stopServing := func() {}
		if err == nil {
			stopServing, err = s.st2Prepare(ctx, se, &req, log)
		}
		if err != nil {
			log.Error("sensor cannot start", "error", err)
			s.setStatus(ctx, se.ID, func(u *ent.SensorUpdateOne) { u.SetStatus(entsensor.StatusFAILED).SetLastError(err.Error()) })
			s.opts.Metrics.SensorState(se.Ref, string(entsensor.StatusFAILED))
			s.opts.Metrics.SensorRestarted(se.Ref)
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.opts.BackoffMin):
			}
			continue
		}
		req.OnStart = func(pid int, argv []string) {
			s.system(SpawnTrigger, map[string]any{"id": se.Ref, "timestamp": time.Now().Unix(), "pid": pid, "cmd": strings.Join(argv, " ")}, log)
		}
		res, err := runner.Run(ctx, req)
		stopServing()
		if res.PID != 0 {
			s.system(ExitTrigger, map[string]any{"id": se.Ref, "timestamp": time.Now().Unix(), "exit_code": res.ExitCode}, log)
		}
		if ctx.Err() != nil {
			return
		}
		status, why := entsensor.StatusBACKOFF, res.Error
		if err != nil {
			status, why = entsensor.StatusFAILED, err.Error()
		}
		if why == "" {
			why = fmt.Sprintf("exited with status %d", res.ExitCode)
		}
		if time.Since(started) >= s.opts.StableAfter {
			crashes = 0
		}
		delay := min(s.opts.BackoffMin<<min(crashes, 20), s.opts.BackoffMax)
		crashes++
		log.Warn("sensor stopped; restarting", "error", why, "in", delay)
		s.setStatus(ctx, se.ID, func(u *ent.SensorUpdateOne) {
			u.SetStatus(status).SetLastError(why).AddRestarts(1)
		})
		s.opts.Metrics.SensorState(se.Ref, string(status))
		s.opts.Metrics.SensorRestarted(se.Ref)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// request describes the sensor's process; its stdout lines become events.
// It runs the pack version it was started for, made ready on this node.
func (s *Supervisor) request(ctx context.Context, se *ent.Sensor, params map[string]any, log *slog.Logger) (runner.Request, error) {
	p := se.Edges.Pack
	if s.opts.Packs != nil {
		dir, envPath, err := s.opts.Packs.PrepareDirs(ctx, p.Ref, p.Checksum)
		if err != nil {
			return runner.Request{}, fmt.Errorf("preparing pack %s: %w", p.Ref, err)
		}
		local := *p
		local.Path, local.EnvPath = dir, envPath
		p = &local
	}
	req := runner.Request{
		PackDir: p.Path, EntryPoint: se.EntryPoint, Parameters: params,
		KillGrace: s.opts.KillGrace, TempDir: s.opts.TempDir, MaxOutput: 64 << 10,
		Env: map[string]string{
			"ATTUNE_SENSOR_REF": se.Ref, "ATTUNE_SENSOR_ID": strconv.Itoa(se.ID), "ATTUNE_PACK_REF": se.PackRef,
		},
		OnLine: func(stream, line string) {
			if stream == "stdout" {
				s.emit(se, line, log)
			}
		},
	}
	switch se.RunnerType {
	case entsensor.RunnerTypePYTHON:
		req.Runner = runner.Python
		if p.EnvPath != "" {
			req.Interpreter = filepath.Join(p.EnvPath, "bin", "python")
		} else {
			req.Interpreter = "python3"
		}
		req.Env["PYTHONPATH"] = filepath.Join(p.Path, "lib")
	case entsensor.RunnerTypeNODE:
		req.Runner = runner.Node
	case entsensor.RunnerTypeNATIVE:
		req.Runner = runner.Native
	default:
		req.Runner = runner.Shell
	}
	return req, nil
}

// emit turns one stdout line {"trigger": ref, "payload": {...}} into an
// event. Other lines are the sensor's log; events for triggers the sensor
// does not declare are refused.
func (s *Supervisor) emit(se *ent.Sensor, line string, log *slog.Logger) {
	line = string(bytes.TrimSpace([]byte(line)))
	var msg struct {
		Trigger string         `json:"trigger"`
		Payload map[string]any `json:"payload"`
	}
	if len(line) == 0 || line[0] != '{' || json.Unmarshal([]byte(line), &msg) != nil || msg.Trigger == "" {
		log.Debug("sensor output", "line", line)
		return
	}
	if !slices.Contains(se.TriggerTypes, msg.Trigger) {
		log.Warn("sensor emitted an undeclared trigger; ignored", "trigger", msg.Trigger)
		return
	}
	// The process outlives no single request; its events are stored even
	// while the supervisor stops it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := se.ID
	if _, err := s.engine.Emit(ctx, rule.Emission{
		Trigger: msg.Trigger, Payload: msg.Payload, Source: se.Ref, SensorID: &id,
	}); err != nil {
		log.Warn("sensor event refused", "trigger", msg.Trigger, "error", err)
	}
}

// st2Prepare makes req run a StackStorm Python sensor (one with a class)
// through attune's wrapper, serving its sensor_service on a Unix socket
// until the returned function is called, and logs its stderr (its
// logger's and its prints). For other sensors it does nothing.
func (s *Supervisor) st2Prepare(ctx context.Context, se *ent.Sensor, req *runner.Request, log *slog.Logger) (func(), error) {
	if se.ClassName == "" {
		return func() {}, nil
	}
	wrapper, err := s.st2.wrapper(s.opts.TempDir)
	if err != nil {
		return nil, err
	}
	sock, stop, err := s.serveSt2(ctx, se, log)
	if err != nil {
		return nil, err
	}
	req.Runner, req.Wrapper = runner.Python, wrapper
	req.Env["ATTUNE_SENSOR_SOCKET"] = sock
	onLine := req.OnLine
	req.OnLine = func(stream, line string) {
		if stream == "stderr" {
			log.Info("sensor log", "line", line)
			return
		}
		onLine(stream, line)
	}
	return stop, nil
}

// StackStorm's sensor process triggers (st2reactor/container/process_container.py).
const (
	SpawnTrigger = "core.st2.sensor.process_spawn"
	ExitTrigger  = "core.st2.sensor.process_exit"
)

// system emits a sensor process trigger, as StackStorm's container does
// (its payload names the sensor by class; here by ref). Only while a rule
// uses it: nothing else consumes these events.
func (s *Supervisor) system(trigger string, payload map[string]any, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	used, err := s.db.Ent.Rule.Query().Where(entrule.TriggerRef(trigger), entrule.Enabled(true)).Exist(ctx)
	if err != nil || !used {
		return
	}
	if _, err := s.engine.Emit(ctx, rule.Emission{Trigger: trigger, Payload: payload, Source: "sensor-container"}); err != nil {
		log.Warn("sensor process event refused", "trigger", trigger, "error", err)
	}
}

// setStatus records the sensor's state; a deleted sensor is ignored.
func (s *Supervisor) setStatus(ctx context.Context, id int, set func(*ent.SensorUpdateOne)) {
	u := s.db.Ent.Sensor.UpdateOneID(id)
	set(u)
	if err := u.Exec(context.WithoutCancel(ctx)); err != nil && !ent.IsNotFound(err) {
		s.opts.Logger.Warn("recording sensor status", "sensor_id", id, "error", err)
	}
}
