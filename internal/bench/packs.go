package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Refs of the bench's packs.
const (
	benchPack   = "bench"
	nativeRef   = "bench.true"
	hookTrigger = "bench.hook" // webhook → execution latency
	evalTrigger = "bench.evt"  // rule evaluation throughput
	shellPack   = "benchshell"
	// The workflows figures' pack: a sequence of core.noop tasks and a
	// with-items of core.noop over the items given as its parameter.
	workflowPack = "benchwf"
	seqRef       = "benchwf.seq"
	itemsRef     = "benchwf.items"
	askRef       = "benchwf.ask"
	noopRef      = "core.noop"
)

// writeBenchPack writes the pack the figures drive: the native action
// bench.true, whose entry point is a copy of trueBin, and two webhook
// triggers. It returns the pack directory.
func writeBenchPack(root, trueBin string) (string, error) {
	dir := filepath.Join(root, benchPack)
	files := map[string]string{
		"pack.yaml": "ref: bench\nversion: 1.0.0\ndescription: Benchmark pack of attune-bench.\n",
		"actions/true.yaml": "ref: bench.true\nrunner_type: native\nentry_point: \"true\"\n" +
			"description: Exits 0 at once (a copy of true(1)).\n",
		"triggers/hook.yaml": "ref: bench.hook\ntype: webhook\nwebhook: true\ndescription: Latency probe.\n",
		"triggers/evt.yaml":  "ref: bench.evt\ntype: webhook\nwebhook: true\ndescription: Rule evaluation load.\n",
	}
	if err := writeFiles(dir, files); err != nil {
		return "", err
	}
	if err := copyFile(trueBin, filepath.Join(dir, "actions", "true"), 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// writeShellPack writes a pack with one shell action and no environment:
// the cheapest install.
func writeShellPack(root string) (string, error) {
	dir := filepath.Join(root, shellPack)
	return dir, writeFiles(dir, map[string]string{
		"pack.yaml":          "ref: benchshell\nversion: 1.0.0\ndescription: Shell-only pack of attune-bench.\n",
		"actions/hello.yaml": "ref: benchshell.hello\nrunner_type: shell\nentry_point: hello.sh\n",
		"actions/hello.sh":   "#!/bin/sh\necho hello\n",
	})
}

// writeWorkflowPack writes the pack of the workflows figures: benchwf.seq,
// an Orquesta workflow of tasks core.noop tasks t1 → t2 → … each started
// when the one before succeeded, and benchwf.items, a with-items of
// core.noop over its parameter items, concurrency at once.
func writeWorkflowPack(root string, tasks, concurrency int) (string, error) {
	dir := filepath.Join(root, workflowPack)
	var seq strings.Builder
	seq.WriteString("version: 1.0\ntasks:\n")
	for i := 1; i <= tasks; i++ {
		fmt.Fprintf(&seq, "  t%d:\n    action: %s\n", i, noopRef)
		if i < tasks {
			fmt.Fprintf(&seq, "    next:\n      - when: <%% succeeded() %%>\n        do: t%d\n", i+1)
		}
	}
	items := fmt.Sprintf("version: 1.0\ninput:\n  - items\ntasks:\n  each:\n    with:\n      items: <%% ctx(items) %%>\n      concurrency: %d\n    action: %s\n",
		concurrency, noopRef)
	return dir, writeFiles(dir, map[string]string{
		"pack.yaml": "ref: benchwf\nversion: 1.0.0\ndescription: Workflow pack of attune-bench.\n",
		"actions/seq.yaml": "ref: benchwf.seq\nrunner_type: orquesta\nentry_point: workflows/seq.yaml\n" +
			fmt.Sprintf("description: %d core.noop tasks in sequence.\n", tasks),
		"actions/items.yaml": "ref: benchwf.items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\n" +
			fmt.Sprintf("description: core.noop for each of its items, %d at once.\n", concurrency) +
			"parameters:\n  items:\n    type: array\n    required: true\n",
		"actions/workflows/seq.yaml":   seq.String(),
		"actions/workflows/items.yaml": items,
		"actions/ask.yaml": "ref: benchwf.ask\nrunner_type: orquesta\nentry_point: workflows/ask.yaml\n" +
			"description: asks (core.ask), then core.noop once answered.\n",
		"actions/workflows/ask.yaml": "version: 1.0\ntasks:\n  ask:\n    action: core.ask\n    next:\n" +
			"      - when: <% succeeded() %>\n        do: after\n  after:\n    action: " + noopRef + "\n",
	})
}

func writeFiles(dir string, files map[string]string) error {
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating pack directory: %w", err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			return fmt.Errorf("writing pack file: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
