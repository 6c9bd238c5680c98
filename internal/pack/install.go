package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/attune-io/attune/ent"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/packenv"
	"github.com/attune-io/attune/internal/trigger"
)

// Request is one install: from Source, or from an uploaded archive.
type Request struct {
	// Source is a directory, archive, URL or git repository (see fetch.Parse).
	Source string
	// Upload, when set, is an uploaded archive; Source is then its name.
	Upload *Upload
	// Force replaces an installed pack of the same ref (upgrade/reinstall).
	Force bool
	// System marks the pack as built in.
	System bool
	// DisplaySource overrides what the pack records as its source.
	DisplaySource string
}

// Upload is an archive sent by a client.
type Upload struct {
	File     io.Reader
	Filename string
	Size     int64
}

// Result is an install's outcome.
type Result struct {
	Pack    *ent.Pack
	Install *ent.PackInstall
}

// Start records an install and runs it in the background, for clients that
// follow it through Progress. The install outlives the request's context.
func (s *Service) Start(ctx context.Context, req Request) (*ent.PackInstall, error) {
	t, err := s.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	go func() {
		_, _ = s.run(context.WithoutCancel(ctx), t, req)
	}()
	return s.db.Ent.PackInstall.Get(ctx, t.id)
}

// Install installs a pack and returns it with its install record.
//
// Returns BAD_USER_INPUT for a bad source, unsafe archive, invalid pack (all
// problems under extensions.problems) or failed environment build (with the
// tool's last lines); NOT_FOUND for a missing source; CONFLICT when the pack
// exists and force is false, or another install of it is under way.
func (s *Service) Install(ctx context.Context, req Request) (*Result, error) {
	t, err := s.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	p, err := s.run(ctx, t, req)
	rec, recErr := s.db.Ent.PackInstall.Get(context.WithoutCancel(ctx), t.id)
	if err != nil {
		return nil, err
	}
	if recErr != nil {
		return nil, recErr
	}
	return &Result{Pack: p, Install: rec}, nil
}

func (s *Service) begin(ctx context.Context, req Request) (*tracker, error) {
	display := req.DisplaySource
	switch {
	case display != "":
	case req.Upload != nil:
		display = "upload:" + filepath.Base(req.Upload.Filename)
	default:
		display = redactSource(req.Source)
	}
	return s.startInstall(ctx, display, req.Force)
}

// run performs the steps; on failure it undoes what was done, in reverse.
func (s *Service) run(ctx context.Context, t *tracker, req Request) (p *ent.Pack, err error) {
	var undo []func()
	var m *manifest.Pack
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			if _, ok := apperr.As(err); !ok {
				s.log.Error("pack install failed", "install", t.id, "step", t.current, "error", err)
			}
		}
		ref, version := "", ""
		if m != nil {
			ref, version = m.Ref, m.Version
		}
		t.finish(ctx, ref, version, err)
	}()

	// Named after the install, so a restart finds a dead install's files.
	tmp := s.installDir(t.id)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, stepError(StepFetch, err)
	}
	if err := os.Mkdir(tmp, 0o750); err != nil {
		return nil, stepError(StepFetch, err)
	}
	undo = append(undo, func() { s.removeAll(tmp) })
	staged := filepath.Join(tmp, "src")
	if err := os.Mkdir(staged, 0o750); err != nil {
		return nil, stepError(StepFetch, err)
	}

	if req.Upload != nil {
		t.step(ctx, StepExtract)
		format := fetch.FormatOf(req.Upload.Filename)
		if format == "" {
			return nil, stepError(StepExtract, apperr.Errorf(apperr.BadUserInput,
				"upload %q is not a .tar.gz, .tgz or .zip archive", filepath.Base(req.Upload.Filename)))
		}
		if err := fetch.Extract(req.Upload.File, format, req.Upload.Size, staged, s.cfg.Limits); err != nil {
			return nil, stepError(StepExtract, err)
		}
	} else {
		step := StepFetch
		t.step(ctx, step)
		src, err := fetch.Parse(req.Source)
		if err != nil {
			return nil, stepError(step, err)
		}
		if src.Kind == fetch.KindArchive || src.Kind == fetch.KindURL {
			step = StepExtract
		}
		lim := s.cfg.Limits
		if req.System {
			lim.AllowedDirs = nil // the built-in pack is staged by the server itself
		}
		if err := fetch.Fetch(ctx, src, staged, lim); err != nil {
			return nil, stepError(step, err)
		}
	}

	t.step(ctx, StepValidate)
	root, err := manifest.FindRoot(os.DirFS(staged))
	if err != nil {
		return nil, stepError(StepValidate, apperr.Errorf(apperr.BadUserInput, "%v", err))
	}
	packRoot := filepath.Join(staged, filepath.FromSlash(root))
	// Every problem of every file and kind comes in one error: what the
	// files say alone, and what needs the database (refs, rule criteria,
	// the operator's configs/<pack>.yaml).
	var loadErr error
	if m, loadErr = manifest.LoadAll(os.DirFS(packRoot), manifest.Options{MaxFileBytes: s.cfg.MaxManifestBytes}); m == nil {
		return nil, stepError(StepValidate, loadErr)
	}
	var fileConfig *operatorFile
	var refWarnings []string
	if refWarnings, fileConfig, err = s.validateAgainstInstalled(ctx, os.DirFS(packRoot), m, loadErr); err != nil {
		m = nil
		return nil, stepError(StepValidate, err)
	}
	for _, w := range m.Warnings {
		t.warnings = append(t.warnings, w.String())
	}
	t.warnings = append(t.warnings, refWarnings...)
	for _, w := range t.warnings {
		s.log.Warn("pack install warning", "install", t.id, "pack", m.Ref, "warning", w)
	}
	release, ok, err := s.lockPack(ctx, m.Ref)
	if err != nil {
		return nil, stepError(StepValidate, err)
	}
	if !ok {
		return nil, stepError(StepValidate, apperr.Errorf(apperr.Conflict,
			"pack %q is being installed or deleted by another request", m.Ref))
	}
	defer release()
	t.ref = m.Ref
	old, err := s.db.Ent.Pack.Query().Where(entpack.Ref(m.Ref)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, stepError(StepValidate, err)
	}
	if old != nil && !req.Force {
		return nil, stepError(StepValidate, apperr.Errorf(apperr.Conflict,
			"pack %q %s is already installed; pass force: true to replace it", m.Ref, old.Version))
	}
	if old != nil && old.System && !req.System {
		return nil, stepError(StepValidate, apperr.Errorf(apperr.Forbidden,
			"pack %q is built in and cannot be replaced", m.Ref))
	}
	checksum, files, err := treeChecksum(packRoot)
	if err != nil {
		return nil, stepError(StepValidate, err)
	}

	t.step(ctx, StepMove)
	// Each version has its own directory: executions requested before an
	// upgrade keep running the old one, which the sweep removes once
	// nothing points at it.
	final := s.versionDir(m.Ref, checksum)
	if old != nil && old.Path == filepath.Dir(final) {
		// Installed before versions had directories: the pack itself is
		// at <packs_dir>/<ref>; it steps aside, and comes back on failure.
		legacy := filepath.Join(tmp, "legacy")
		if err := os.Rename(old.Path, legacy); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, stepError(StepMove, err)
		}
		undo = append(undo, func() {
			if exists(legacy) {
				s.restore(legacy, old.Path)
			}
		})
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, stepError(StepMove, err)
	}
	undo = append(undo, func() { _ = os.Remove(filepath.Dir(final)) }) // when left empty
	if exists(final) {
		// The same version (a reinstall) steps aside into this install's
		// temp dir, and comes back if anything later fails.
		aside := filepath.Join(tmp, "previous")
		if err := os.Rename(final, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, stepError(StepMove, err)
		}
		undo = append(undo, func() { s.restore(aside, final) })
	}
	if err := os.Rename(packRoot, final); err != nil {
		return nil, stepError(StepMove, err)
	}
	undo = append(undo, func() { s.removeAll(final) })
	// Staged closed, installed readable: actions may run as another user.
	if err := os.Chmod(final, 0o755); err != nil {
		return nil, stepError(StepMove, err)
	}

	t.step(ctx, StepEnvironment)
	env, err := s.buildEnv(ctx, m, final, old, filepath.Join(tmp, "previous"), func(dir string) {
		t.save(ctx, s.db.Ent.PackInstall.UpdateOneID(t.id).SetEnvPath(dir))
	}, func(line string) { t.output(ctx, line) })
	if err != nil {
		return nil, stepError(StepEnvironment, envError(ctx, err))
	}
	if env.Path != "" && (old == nil || env.Path != old.EnvPath) {
		undo = append(undo, func() { s.removeAll(env.Path) })
	}

	t.step(ctx, StepRegister)
	p, err = s.register(ctx, m, registration{
		path: final, source: t.display, checksum: checksum, files: files, env: env, system: req.System,
		fileConfig: fileConfig,
	})
	if err != nil {
		return nil, stepError(StepRegister, err)
	}

	t.step(ctx, StepCleanup)
	undo = nil
	s.removeAll(tmp)
	// The old version's directory and environment stay for the executions
	// requested before the switch; the sweep removes them after.
	return p, nil
}

// validateAgainstInstalled checks what a pack cannot know alone: that the
// triggers its sensors name exist (here or installed), that none of its refs
// belong to another pack, that its rules' criteria and templates compile,
// that the operator's configs/<pack>.yaml fits the config schema, and that
// its workflow files (fsys is the pack's root) parse and run only actions
// that exist. The problems loadErr holds (the files' own) join these in one
// *manifest.ValidationError. Rules naming actions or triggers not installed
// yet are warnings, returned apart. fileConfig is the configs file, nil
// when there is none.
func (s *Service) validateAgainstInstalled(ctx context.Context, fsys fs.FS, m *manifest.Pack, loadErr error) (warnings []string, fileConfig *operatorFile, err error) {
	var probs []manifest.Problem
	if loadErr != nil {
		var ve *manifest.ValidationError
		if !errors.As(loadErr, &ve) {
			return nil, nil, loadErr
		}
		probs = append(probs, ve.Problems...)
	}
	owners, err := s.installedRefs(ctx)
	if err != nil {
		return nil, nil, err
	}
	missing, err := m.CheckRefs(func(k manifest.Kind, ref string) bool {
		_, ok := owners[string(k)+":"+ref]
		return ok
	})
	if err != nil {
		var ve *manifest.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, err
		}
		probs = append(probs, ve.Problems...)
	}
	for _, w := range missing {
		warnings = append(warnings, w.String())
	}
	warnings = append(warnings, s.configWarnings(m)...)
	own := func(kind, ref, file string) {
		if o, ok := owners[kind+":"+ref]; ok && o != m.Ref {
			probs = append(probs, manifest.Problem{File: file, Field: "ref",
				Message: fmt.Sprintf("%s %s belongs to pack %s", kind, ref, o)})
		}
	}
	for _, a := range m.Actions {
		own("action", a.Ref, a.File)
	}
	for _, tr := range m.Triggers {
		own("trigger", tr.Ref, tr.File)
	}
	for _, se := range m.Sensors {
		own("sensor", se.Ref, se.File)
	}
	for _, r := range m.Rules {
		own("rule", r.Ref, r.File)
		probs = append(probs, ruleProblems(r)...)
		if err := trigger.CheckParams(r.TriggerRef, r.TriggerParams); err != nil {
			probs = append(probs, manifest.Problem{File: r.File, Field: "trigger_params", Message: err.Error()})
		}
	}
	for _, w := range m.Workflows {
		own("workflow", w.Ref, w.File)
	}
	fileConfig, cprobs := s.configFile(m)
	probs = append(probs, cprobs...)
	wprobs, err := s.workflowProblems(ctx, fsys, m, s.cfg.MaxManifestBytes)
	if err != nil {
		return nil, nil, err
	}
	probs = append(probs, wprobs...)
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool {
			if probs[i].File != probs[j].File {
				return probs[i].File < probs[j].File
			}
			return probs[i].Line < probs[j].Line
		})
		return warnings, nil, &manifest.ValidationError{Problems: probs}
	}
	return warnings, fileConfig, nil
}

// installedRefs maps "kind:ref" of every installed component to its pack.
func (s *Service) installedRefs(ctx context.Context) (map[string]string, error) {
	c := s.db.Ent
	type row struct {
		Ref     string `json:"ref"`
		PackRef string `json:"pack_ref"`
	}
	owners := map[string]string{}
	for kind, scan := range map[string]func(*[]row) error{
		"action":   func(v *[]row) error { return c.Action.Query().Select("ref", "pack_ref").Scan(ctx, v) },
		"trigger":  func(v *[]row) error { return c.Trigger.Query().Select("ref", "pack_ref").Scan(ctx, v) },
		"sensor":   func(v *[]row) error { return c.Sensor.Query().Select("ref", "pack_ref").Scan(ctx, v) },
		"rule":     func(v *[]row) error { return c.Rule.Query().Select("ref", "pack_ref").Scan(ctx, v) },
		"workflow": func(v *[]row) error { return c.WorkflowDefinition.Query().Select("ref", "pack_ref").Scan(ctx, v) },
	} {
		var rows []row
		if err := scan(&rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			owners[kind+":"+r.Ref] = r.PackRef
		}
	}
	return owners, nil
}

// needsPython reports whether any action or sensor runs in Python.
func needsPython(m *manifest.Pack) bool {
	if m.HasRequirements {
		return true
	}
	for _, a := range m.Actions {
		if a.RunnerType == manifest.RunnerPython {
			return true
		}
	}
	for _, se := range m.Sensors {
		if se.RunnerType == manifest.RunnerPython {
			return true
		}
	}
	return false
}

// buildEnv builds the pack's environment at its final place. A Python env
// is keyed by the requirements checksum: an upgrade that keeps the same
// requirements keeps the same, still valid env; one that changes them gets
// a new env beside the old, which stays usable until the switch commits.
// building is told the directory of a Python env before it is made; log
// gets each line pip or npm prints.
func (s *Service) buildEnv(ctx context.Context, m *manifest.Pack, final string, old *ent.Pack, previous string,
	building func(envDir string), log func(line string),
) (packenv.Status, error) {
	sum, err := packenv.Checksum(final)
	if err != nil {
		return packenv.Status{}, err
	}
	spec := packenv.Spec{
		PackDir: final, Python: s.cfg.Python, Npm: s.cfg.Npm, Timeout: s.cfg.EnvTimeout,
		Sandbox: s.cfg.Sandbox, TempDir: s.cfg.TempDir, Log: log,
	}
	switch {
	case needsPython(m):
		if old != nil && old.EnvChecksum == sum && old.EnvPath != "" {
			if err := spec.Verify(ctx, old.EnvPath); err == nil {
				return packenv.Status{Kind: packenv.KindPython, Path: old.EnvPath, Checksum: sum}, nil
			}
		}
		spec.EnvDir = filepath.Join(s.cfg.EnvsDir, m.Ref+"-"+sum[:12])
		if old != nil && old.EnvPath == spec.EnvDir {
			// Same checksum but broken: build under a fresh name so the
			// old version keeps its (broken) env until the switch.
			spec.EnvDir += "-" + randomSuffix()
		}
		building(spec.EnvDir)
		return packenv.BuildPython(ctx, spec)
	case m.HasPackageJSON:
		prevModules := filepath.Join(previous, "node_modules")
		if old != nil && old.EnvChecksum == sum && exists(prevModules) {
			// node_modules is relocatable; carry it over.
			if err := os.Rename(prevModules, filepath.Join(final, "node_modules")); err == nil {
				return packenv.Status{Kind: packenv.KindNode, Path: filepath.Join(final, "node_modules"), Checksum: sum}, nil
			}
		}
		oldModules := ""
		if old != nil {
			oldModules = filepath.Join(old.Path, "node_modules")
		}
		if old != nil && old.EnvChecksum == sum && old.Path != final && exists(oldModules) {
			// An upgrade: the old version keeps its node_modules for the
			// executions requested before the switch; the new one gets a
			// copy (links kept), offline like a carried-over one.
			modules := filepath.Join(final, "node_modules")
			out, err := exec.CommandContext(ctx, "cp", "-a", oldModules, modules).CombinedOutput()
			if err == nil {
				return packenv.Status{Kind: packenv.KindNode, Path: modules, Checksum: sum}, nil
			}
			s.log.Warn("copying node_modules from the previous version; running npm", "error", err, "output", string(out))
			s.removeAll(modules)
		}
		return packenv.BuildNode(ctx, spec)
	}
	return packenv.Status{Kind: packenv.KindNone, Checksum: sum}, nil
}

func (s *Service) restore(aside, final string) {
	s.removeAll(final)
	if err := os.Rename(aside, final); err != nil {
		s.log.Error("restoring previous pack version", "path", final, "error", err)
	}
}

func (s *Service) removeAll(p string) {
	if p == "" {
		return
	}
	if err := os.RemoveAll(p); err != nil {
		s.log.Error("removing directory", "path", p, "error", err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// treeChecksum hashes every file's path, mode and content, in order, and
// lists the files (slash-separated, relative to root).
func treeChecksum(root string) (string, []string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", filepath.ToSlash(rel), info.Mode().Perm(), info.Size())
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(h.Sum(nil)), files, nil
}

// redactSource hides URL credentials and query strings.
func redactSource(src string) string {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return src
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return strings.TrimSpace(u.String())
}

// envError turns a failed pip or npm run into a client error carrying the
// tool's last lines; a canceled request stays what it is.
func envError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	msg := err.Error()
	tail := msg
	if i := strings.Index(msg, "\n"); i >= 0 {
		tail = msg[i+1:]
	}
	return &apperr.Error{Code: apperr.BadUserInput, Message: "building the environment failed:\n" + strings.TrimSpace(tail), Err: err}
}
