package pack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// workflowFile is one workflow file of a pack and the language it is written in.
type workflowFile struct {
	path string // relative to the pack root
	lang spec.Language
}

// workflowFiles lists the pack's workflow files, each once, in a stable order: the files of
// its workflow actions (attune's workflow_file, orquesta and action-chain entry points) and
// its standalone workflows/ definitions, which are attune workflow files. Files the manifest
// could not resolve (already a problem) are left out, and so are runners without a language
// attune parses (mistral-v2).
func workflowFiles(m *manifest.Pack) []workflowFile {
	seen := map[workflowFile]bool{}
	var out []workflowFile
	add := func(f workflowFile) {
		if f.path != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, a := range m.Actions {
		if a.RunnerType != manifest.RunnerWorkflow {
			continue
		}
		if lang, ok := spec.LanguageForRunner(a.RunnerName); ok {
			add(workflowFile{a.EntryPoint, lang})
		}
	}
	for _, w := range m.Workflows {
		add(workflowFile{w.File, spec.Attune})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// workflowProblems parses every workflow file of the pack rooted at fsys, as the engine will
// run it, and checks that every action a task runs exists: in the pack, or installed in
// another pack (the built-in core pack included), with the inputs it requires and no input it
// does not know. Every problem comes back located by file, line and task; a pack with any of
// them is refused whole, like a pack with a bad manifest. maxBytes caps each file (0: spec's
// own cap).
func (s *Service) workflowProblems(ctx context.Context, fsys fs.FS, m *manifest.Pack, maxBytes int64) ([]manifest.Problem, error) {
	files := workflowFiles(m)
	if len(files) == 0 {
		return nil, nil
	}
	if maxBytes <= 0 || maxBytes > spec.MaxFileBytes {
		maxBytes = spec.MaxFileBytes
	}
	var probs []manifest.Problem
	var parsed []*spec.Workflow
	for _, f := range files {
		data, err := readCapped(fsys, f.path, maxBytes)
		if err != nil {
			probs = append(probs, manifest.Problem{File: f.path, Message: err.Error()})
			continue
		}
		// A workflow with problems is still checked for its actions, as far as it could be
		// read, so that every problem comes at once.
		wf, err := spec.Inspect(f.path, data, f.lang)
		ps, err := specProblems(err)
		if err != nil {
			return nil, err
		}
		probs = append(probs, ps...)
		if wf != nil {
			parsed = append(parsed, wf)
		}
	}
	lookup, err := s.actionLookup(ctx, m, parsed)
	if err != nil {
		return nil, err
	}
	// A task's action already refused by the parser ("echo" is no ref) is not also
	// reported unregistered.
	type at struct{ file, task, field string }
	found := map[at]bool{}
	for _, p := range probs {
		found[at{p.File, p.Task, p.Field}] = true
	}
	for _, wf := range parsed {
		ps, err := specProblems(wf.CheckActions(lookup))
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !found[at{p.File, p.Task, p.Field}] {
				probs = append(probs, p)
			}
		}
	}
	return probs, nil
}

// readCapped reads a file of at most max bytes; a bigger one is an error saying so.
func readCapped(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read the workflow file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the workflow file: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("the workflow file is larger than %d bytes", max)
	}
	return data, nil
}

// specProblems turns a workflow's *spec.Error into pack problems; other errors are returned.
func specProblems(err error) ([]manifest.Problem, error) {
	if err == nil {
		return nil, nil
	}
	var se *spec.Error
	if !errors.As(err, &se) {
		return nil, err
	}
	out := make([]manifest.Problem, len(se.Problems))
	for i, p := range se.Problems {
		out[i] = manifest.Problem{File: p.File, Line: p.Line, Task: p.Task, Field: p.Field, Message: p.Message}
	}
	return out, nil
}

// actionLookup answers CheckActions from the pack's own actions and, for the refs the
// workflows name outside it, from the installed actions of other packs. The installed
// version of the pack being replaced does not count: its actions go with it.
func (s *Service) actionLookup(ctx context.Context, m *manifest.Pack, wfs []*spec.Workflow) (func(string) (spec.ActionInfo, bool), error) {
	known := map[string]spec.ActionInfo{}
	for _, a := range m.Actions {
		known[a.Ref] = actionInfo(a.Parameters)
	}
	var others []string
	for _, wf := range wfs {
		for _, u := range wf.ActionRefs() {
			if _, ok := known[u.Ref]; !ok {
				others = append(others, u.Ref)
			}
		}
	}
	if len(others) > 0 {
		var rows []struct {
			Ref        string         `json:"ref"`
			Parameters map[string]any `json:"parameters"`
		}
		err := s.db.Ent.Action.Query().Where(action.RefIn(others...), action.PackRefNEQ(m.Ref)).
			Select(action.FieldRef, action.FieldParameters).Scan(ctx, &rows)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			var schema param.Schema
			if b, err := json.Marshal(r.Parameters); err == nil {
				_ = json.Unmarshal(b, &schema)
			}
			known[r.Ref] = actionInfo(schema)
		}
	}
	return func(ref string) (spec.ActionInfo, bool) {
		info, ok := known[ref]
		return info, ok
	}, nil
}

// actionInfo lists an action's parameters and those a task must give: required ones without
// a default. An action that declares none takes any, as param.Schema.Validate lets it.
func actionInfo(schema param.Schema) spec.ActionInfo {
	info := spec.ActionInfo{AnyInput: len(schema) == 0}
	for name, p := range schema {
		info.Params = append(info.Params, name)
		if p.Required && p.Default == nil {
			info.Required = append(info.Required, name)
		}
	}
	sort.Strings(info.Params)
	sort.Strings(info.Required)
	return info
}
