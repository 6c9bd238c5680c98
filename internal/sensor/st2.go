package sensor

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/key"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/rule"
)

// st2py is attune's wrapper for StackStorm Python sensors and the
// st2reactor package it provides (Sensor, PollingSensor).
//
//go:embed all:st2py
var st2py embed.FS

// st2WrapperFile is the wrapper script inside st2py.
const st2WrapperFile = "attune_st2sensor.py"

// st2Files writes the wrapper once per process into a directory named by
// its content, and returns the wrapper's path.
type st2Files struct {
	once sync.Once
	path string
	err  error
}

func (f *st2Files) wrapper(tempDir string) (string, error) {
	f.once.Do(func() {
		h := sha256.New()
		_ = fs.WalkDir(st2py, "st2py", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := st2py.ReadFile(p)
				h.Write([]byte(p))
				h.Write(b)
			}
			return nil
		})
		dir := filepath.Join(tempDir, "st2py-"+hex.EncodeToString(h.Sum(nil))[:12])
		sub, err := fs.Sub(st2py, "st2py")
		if err == nil {
			if _, statErr := os.Stat(filepath.Join(dir, st2WrapperFile)); statErr != nil {
				tmp, mkErr := os.MkdirTemp(tempDir, "st2py-new-")
				if mkErr != nil {
					f.err = mkErr
					return
				}
				if err = os.CopyFS(tmp, sub); err == nil {
					if err = os.Rename(tmp, dir); err != nil && fileExists(filepath.Join(dir, st2WrapperFile)) {
						err = nil // another process of this node wrote it first
					}
				}
				_ = os.RemoveAll(tmp)
			}
		}
		if err != nil {
			f.err = fmt.Errorf("writing the StackStorm sensor wrapper: %w", err)
			return
		}
		abs, err := filepath.Abs(filepath.Join(dir, st2WrapperFile))
		f.path, f.err = abs, err
	})
	return f.path, f.err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// st2Call is one request of a StackStorm sensor's sensor_service.
type st2Call struct {
	Op       string         `json:"op"`
	Trigger  string         `json:"trigger"`
	Payload  map[string]any `json:"payload"`
	TraceTag *string        `json:"trace_tag"`
	Name     string         `json:"name"`
	Value    any            `json:"value"`
	Local    *bool          `json:"local"`
	Scope    string         `json:"scope"`
	Decrypt  bool           `json:"decrypt"`
	Encrypt  bool           `json:"encrypt"`
	Prefix   string         `json:"prefix"`
}

// serveSt2 listens on a new Unix socket for the calls of one run of a
// StackStorm sensor (its dispatches and datastore calls) and returns the
// socket's path and a function that stops serving. The socket lives in a
// private directory under the system temp dir: socket paths are short.
func (s *Supervisor) serveSt2(ctx context.Context, se *ent.Sensor, log *slog.Logger) (string, func(), error) {
	dir, err := os.MkdirTemp("", "attune-sensor-")
	if err != nil {
		return "", nil, fmt.Errorf("making sensor socket dir: %w", err)
	}
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("listening for sensor %s: %w", se.Ref, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.st2Conn(ctx, se, c, log)
			}()
		}
	}()
	stop := func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
		_ = os.RemoveAll(dir)
	}
	return path, stop, nil
}

// st2Conn answers one connection's calls, one JSON line each way.
func (s *Supervisor) st2Conn(ctx context.Context, se *ent.Sensor, c net.Conn, log *slog.Logger) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	enc := json.NewEncoder(c)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		var call st2Call
		var answer map[string]any
		if err := json.Unmarshal(line, &call); err != nil {
			answer = map[string]any{"ok": false, "error": "not a JSON request"}
		} else {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			res, err := s.st2Answer(cctx, se, call)
			cancel()
			if err != nil {
				answer = map[string]any{"ok": false, "error": err.Error()}
				log.Warn("sensor call refused", "op", call.Op, "error", err)
			} else {
				answer = map[string]any{"ok": true, "result": res}
			}
		}
		if err := enc.Encode(answer); err != nil {
			return
		}
	}
}

// st2Answer performs one sensor_service call. local (the default) keys
// are the sensor's pack's, the others system keys; StackStorm's user scope
// has no user here (a sensor acts for no one).
func (s *Supervisor) st2Answer(ctx context.Context, se *ent.Sensor, call st2Call) (any, error) {
	pack := se.PackRef
	if call.Local != nil && !*call.Local {
		pack = ""
	}
	if call.Scope != "" && call.Scope != "system" && call.Scope != "st2kv.system" {
		return nil, fmt.Errorf("scope %q is not available to sensors (use the system scope)", call.Scope)
	}
	switch call.Op {
	case "dispatch":
		ref := call.Trigger
		if !strings.Contains(ref, ".") {
			ref = se.PackRef + "." + ref
		}
		if !slices.Contains(se.TriggerTypes, ref) {
			return nil, fmt.Errorf("sensor %s does not declare trigger %s (its trigger_types: %s)", se.Ref, ref, strings.Join(se.TriggerTypes, ", "))
		}
		id := se.ID
		_, err := s.engine.Emit(ctx, rule.Emission{Trigger: ref, Payload: call.Payload, Source: se.Ref, SensorID: &id})
		return nil, err
	}
	if s.opts.Keys == nil {
		return nil, errors.New("the key/value store is not available on this node")
	}
	switch call.Op {
	case "get_value":
		k, err := s.db.Ent.Key.Query().Where(key.Name(call.Name), key.PackRef(pack)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return s.opts.Keys.Value(k, call.Decrypt)
	case "set_value":
		_, err := s.opts.Keys.Set(ctx, keystore.SetRequest{Name: call.Name, Pack: pack, Value: call.Value, Secret: call.Encrypt})
		return nil, err
	case "delete_value":
		err := s.opts.Keys.Delete(ctx, call.Name, pack)
		if ae, client := apperr.As(err); client && ae.Code == apperr.NotFound {
			return false, nil
		}
		return err == nil, err
	case "list_values":
		ks, err := s.db.Ent.Key.Query().Where(key.PackRef(pack), key.NameHasPrefix(call.Prefix)).Order(key.ByName()).All(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]map[string]any, 0, len(ks))
		for _, k := range ks {
			v, err := s.opts.Keys.Value(k, false)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"name": k.Name, "value": v, "secret": k.Secret, "scope": "system"})
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown call %q", call.Op)
}
