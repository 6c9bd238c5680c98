package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

var packColumns = []string{"ref", "version", "envStatus", "source", "description"}

func (a *app) packCommand() *cobra.Command {
	var force bool
	var limit int
	install := &cobra.Command{
		Use:   "install SOURCE",
		Short: "Install a pack from a directory, archive, URL or git repository, showing each step",
		Long: `Installs a pack on the server from SOURCE: a directory or archive on the
server's machine, an http(s) URL of an archive, or a git repository with an
optional #branch, #tag or #commit. Each install step (fetch, extract, validate,
move, environment, register, cleanup) is shown as it runs: a progress bar on a
terminal, a plain line per step otherwise; while the environment builds, the
lines pip or npm prints are shown as they come (the latest beside the bar on a
terminal). On failure attune exits 1 (2 for an invalid pack, whose problems
are listed by file, line, workflow task and message; 5 when the pack exists
without --force).`,
		Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			src := args[0]
			if _, err := os.Stat(src); err == nil && !strings.Contains(src, "://") {
				// A local path, made absolute: the server resolves it on
				// its own machine, which is this one for a local server.
				if abs, err := filepath.Abs(src); err == nil {
					src = abs
				}
			}
			in := InstallPackInput{Source: src}
			if force {
				in.Force = &force
			}
			res, err := StartPackInstall(c.Context(), cl, in)
			if err != nil {
				return err
			}
			rec, err := a.watchInstall(c.Context(), res.StartPackInstall.InstallFields)
			if err != nil {
				return err
			}
			if rec.Status != PackInstallStatusSucceeded {
				return a.installFailed(rec)
			}
			p, err := Pack(c.Context(), cl, rec.PackRef)
			if err != nil {
				return err
			}
			return a.printObject(&p.Pack, packColumns)
		},
	}
	install.Flags().BoolVarP(&force, "force", "f", false, "replace an installed pack of the same ref")
	list := &cobra.Command{
		Use: "list", Short: "List installed packs", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Packs(c.Context(), cl, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "packs", packColumns)
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many")
	get := &cobra.Command{
		Use: "get REF", Short: "Show a pack", Args: nArgs(1, 1),
		ValidArgsFunction: a.completePacks,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Pack(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return a.printObject(&res.Pack, packColumns)
		},
	}
	var removeForce bool
	remove := &cobra.Command{
		Use: "remove REF", Aliases: []string{"delete", "uninstall"}, Short: "Remove a pack, its components and files", Args: nArgs(1, 1),
		ValidArgsFunction: a.completePacks,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			in := DeletePackInput{Ref: args[0]}
			if removeForce {
				in.Force = &removeForce
			}
			res, err := DeletePack(c.Context(), cl, in)
			if err != nil {
				return err
			}
			return a.printObject(&res.DeletePack, nil)
		},
	}
	remove.Flags().BoolVarP(&removeForce, "force", "f", false, "cancel the pack's active executions first")
	var uploadForce bool
	upload := &cobra.Command{
		Use: "upload FILE", Short: "Upload a pack archive (.tar.gz, .tgz, .zip) and install it", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return a.uploadPack(c.Context(), args[0], uploadForce)
		},
	}
	upload.Flags().BoolVarP(&uploadForce, "force", "f", false, "replace an installed pack of the same ref")
	return group("pack", "Install, list, inspect, configure and remove packs", install, list, get, remove, upload, a.packConfigCommand())
}

// installStep is one entry of an install's steps (see PackInstall.steps).
type installStep struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	DurationMs int64  `json:"durationMs"`
	Error      string `json:"error"`
	// Output is the last lines pip or npm printed, OutputLines how many
	// it printed in all.
	Output      []string `json:"output"`
	OutputLines int      `json:"outputLines"`
	// Problems are an invalid pack's, on the step that refused it.
	Problems []installProblem `json:"problems"`
}

// installProblem is one problem of an invalid pack.
type installProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Task    string `json:"task"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// newLines returns the step's output lines after the first seen, and how
// many lines between were not kept by the server.
func (st installStep) newLines(seen int) (lines []string, skipped int) {
	first := st.OutputLines - len(st.Output) // lines before Output[0]
	if seen < first {
		skipped = first - seen
	}
	for j, l := range st.Output {
		if first+j >= seen {
			lines = append(lines, l)
		}
	}
	return lines, skipped
}

// watchInstall follows an install's progress to its end: a spinner per
// step on a terminal (stderr), with the latest line pip or npm printed
// beside the environment step's; a line per step change and per tool
// output line otherwise.
func (a *app) watchInstall(ctx context.Context, first InstallFields) (InstallFields, error) {
	tty := isTTY(a.stderr)
	var (
		mu      sync.Mutex
		bar     *progressbar.ProgressBar
		current = -1 // index of the step the bar shows
		shown   = map[string]bool{}
		printed = map[int]int{} // output lines shown, by step index
	)
	// Room for a tool's line beside the step's name, the spinner and the
	// elapsed time on one terminal line (a wrapped line could not be
	// redrawn in place).
	room := a.widthOf(a.stderr)
	if room <= 0 {
		room = 80
	}
	room -= 12 + 1 + 20
	done := make(chan struct{})
	defer close(done)
	if tty {
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					mu.Lock()
					if bar != nil {
						_ = bar.Add(1)
					}
					mu.Unlock()
				}
			}
		}()
	}
	// showLines prints the step's tool output lines not shown yet, or on a
	// terminal puts the latest beside the running step's spinner.
	showLines := func(i int, st installStep) {
		lines, skipped := st.newLines(printed[i])
		if len(lines) == 0 {
			return
		}
		printed[i] = st.OutputLines
		if !tty {
			if skipped > 0 {
				fmt.Fprintf(a.stderr, "%-12s | … (%d lines not shown)\n", st.Name, skipped)
			}
			for _, l := range lines {
				fmt.Fprintf(a.stderr, "%-12s | %s\n", st.Name, l)
			}
		} else if i == current && bar != nil && st.Status == "running" && room > 8 {
			bar.Describe(fmt.Sprintf("%-12s %s", st.Name, fit(lines[len(lines)-1], room)))
		}
	}
	// showStatus prints a step's status once per status: a line, or on a
	// terminal a spinner started or finished.
	showStatus := func(i int, st installStep) {
		key := strconv.Itoa(i) + st.Status
		if shown[key] {
			return
		}
		shown[key] = true
		if !tty {
			line := fmt.Sprintf("%-12s %s", st.Name, st.Status)
			if st.Status != "running" {
				line += fmt.Sprintf(" (%dms)", st.DurationMs)
			}
			if st.Error != "" {
				line += ": " + st.Error
			}
			fmt.Fprintln(a.stderr, line)
			return
		}
		if i > current {
			// A new step (perhaps already over: records can skip states).
			if bar != nil {
				_ = bar.Finish()
			}
			current = i
			bar = progressbar.NewOptions(-1,
				progressbar.OptionSetWriter(a.stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("%-12s", st.Name)),
				progressbar.OptionSpinnerType(14),
				progressbar.OptionEnableColorCodes(a.color(a.stderr)),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
			)
			_ = bar.RenderBlank()
		}
		if st.Status != "running" && i == current && bar != nil {
			desc := fmt.Sprintf("%-12s %s", st.Name, st.Status)
			if st.Error != "" {
				desc += ": " + st.Error
			}
			bar.Describe(desc)
			_ = bar.Finish()
			bar = nil
		}
	}
	show := func(rec InstallFields) {
		mu.Lock()
		defer mu.Unlock()
		for i, raw := range rec.Steps {
			var st installStep
			_ = json.Unmarshal(raw, &st)
			if len(st.Problems) > 0 {
				// The table after the install lists them.
				st.Error = fmt.Sprintf("invalid pack: %d problem(s)", len(st.Problems))
			}
			// A running step's line comes before its tool's lines, a
			// finished step's after them.
			if st.Status == "running" || tty {
				showStatus(i, st)
				showLines(i, st)
			} else {
				showLines(i, st)
				showStatus(i, st)
			}
		}
	}
	last := first
	show(first)
	err := a.subscribe(ctx, packInstallDoc, map[string]any{"id": first.Id}, func(data json.RawMessage) error {
		var d struct {
			PackInstallProgress InstallFields `json:"packInstallProgress"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		last = d.PackInstallProgress
		show(last)
		return nil
	})
	mu.Lock()
	if bar != nil {
		_ = bar.Finish()
		bar = nil
	}
	mu.Unlock()
	return last, err
}

// installFailed prints a failed install's error and, for an invalid pack,
// its problems as a table: file, line, task (when a problem is in a
// workflow's task) and message.
func (a *app) installFailed(rec InstallFields) error {
	msg := rec.Error
	code := ExitFailed
	var probs []installProblem
	for _, raw := range rec.Steps {
		var st installStep
		if json.Unmarshal(raw, &st) == nil && len(st.Problems) > 0 {
			probs = st.Problems
		}
	}
	if _, list, ok := strings.Cut(msg, "invalid pack: "); ok {
		if _, rest, ok := strings.Cut(list, ": "); ok && probs == nil {
			// A server that does not list them in the record.
			for _, p := range strings.Split(rest, "; ") {
				probs = append(probs, parseProblem(p))
			}
		}
	}
	if len(probs) > 0 {
		a.note("attune: pack install failed at %s: invalid pack", rec.Step)
		headers := []string{"file", "line", "message"}
		for _, p := range probs {
			if p.Task != "" {
				headers = []string{"file", "line", "task", "message"}
			}
		}
		var rows [][]string
		for _, p := range probs {
			line, text := "", p.Message
			if p.Line > 0 {
				line = strconv.Itoa(p.Line)
			}
			if p.Field != "" {
				text = p.Field + ": " + text
			}
			if len(headers) == 4 {
				rows = append(rows, []string{p.File, line, p.Task, text})
			} else {
				rows = append(rows, []string{p.File, line, text})
			}
		}
		out := a.stdout
		a.stdout = a.stderr
		err := a.table(headers, rows)
		a.stdout = out
		if err != nil {
			return err
		}
		return silentExit(ExitUsage)
	}
	if strings.Contains(msg, "already installed") || strings.Contains(msg, "exists") {
		code = ExitConflict
	}
	return &exitError{code: code, msg: fmt.Sprintf("pack install failed at %s: %s", rec.Step, msg)}
}

// parseProblem splits "file[:line][: task t]: message" (the field stays in
// the message).
func parseProblem(p string) installProblem {
	file, rest, ok := strings.Cut(p, ": ")
	if !ok {
		return installProblem{Message: p}
	}
	pr := installProblem{File: file, Message: rest}
	if f, l, ok := strings.Cut(file, ":"); ok {
		if n, err := strconv.Atoi(l); err == nil {
			pr.File, pr.Line = f, n
		}
	}
	if task, msg, ok := strings.Cut(rest, ": "); ok && strings.HasPrefix(task, "task ") {
		pr.Task, pr.Message = strings.TrimPrefix(task, "task "), msg
	}
	return pr
}

// uploadPack sends an archive as a GraphQL multipart request.
func (a *app) uploadPack(ctx context.Context, path string, force bool) error {
	conn, err := a.connect()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return usageErr("%v", err)
	}
	defer f.Close()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($file: Upload!, $force: Boolean) { uploadPack(file: $file, force: $force) { pack { ref version envStatus source description } install { id status step error } } }`,
		"variables": map[string]any{"file": nil, "force": force},
	})
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0": ["variables.file"]}`)
	part, err := w.CreateFormFile("0", filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, f); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, conn.url+"/graphql", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true")
	res, err := conn.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			UploadPack *struct {
				Pack map[string]any `json:"pack"`
			} `json:"uploadPack"`
		} `json:"data"`
		Errors gqlErrors `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return fmt.Errorf("upload: HTTP %d: %w", res.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return out.Errors
	}
	if out.Data.UploadPack == nil {
		return fmt.Errorf("upload: HTTP %d without a result", res.StatusCode)
	}
	return a.printObject(out.Data.UploadPack.Pack, packColumns)
}
