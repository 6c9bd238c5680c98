package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/attune-io/attune/internal/param"
)

func (a *app) runCommand() *cobra.Command {
	var async bool
	var timeout int
	c := &cobra.Command{
		Use:   "run ACTION [name=value | name=@file | name:=json]...",
		Short: "Run an action and follow it live, exiting with its exit code",
		Long: `Runs an action. Parameters are name=value, typed by the action's parameter
schema (integer, number, boolean, array as a,b,c or JSON, object as JSON);
name=@file reads the value from a file; name:=JSON gives any JSON value.
The execution's status changes (stderr) and output lines (stdout and stderr)
are printed as they arrive, and attune exits with the action's exit code
(0 when it succeeded without one, 1 when it failed without one). A workflow
prints each task's status changes and its output lines prefixed with
[task], and exits 0 when it succeeded, 1 otherwise.
'attune run ACTION --help' lists the action's parameters.`,
		Args:              nArgs(1, -1),
		ValidArgsFunction: a.completeRun,
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			cl, err := a.gql()
			if err != nil {
				return err
			}
			act, err := Action(ctx, cl, args[0])
			if err != nil {
				return err
			}
			schema, err := actionSchema(act.Action.Parameters)
			if err != nil {
				return err
			}
			params, err := parseParams(schema, args[1:])
			if err != nil {
				return err
			}
			raw, err := json.Marshal(params)
			if err != nil {
				return err
			}
			pj := json.RawMessage(raw)
			in := ExecuteActionInput{Action: args[0], Parameters: &pj}
			if timeout > 0 {
				in.TimeoutSeconds = &timeout
			}
			res, err := ExecuteAction(ctx, cl, in)
			if err != nil {
				return err
			}
			ex := res.ExecuteAction.Execution.ExecutionFields
			if async {
				if a.output == "table" {
					fmt.Fprintln(a.stdout, ex.Id)
					a.note("execution %s %s; follow it with: attune execution tail %s", ex.Id, ex.Status, ex.Id)
					return nil
				}
				return a.printObject(&ex, executionOrder)
			}
			if act.Action.RunnerType == ActionRunnerTypeWorkflow {
				return a.followWorkflow(ctx, ex.Id)
			}
			return a.follow(ctx, ex.Id, 0)
		},
	}
	c.Flags().BoolVar(&async, "async", false, "print the execution's id and return at once")
	c.Flags().IntVar(&timeout, "timeout", 0, "override the action's timeout, in seconds")
	c.SetHelpFunc(func(c *cobra.Command, args []string) {
		ref := ""
		for _, arg := range args {
			if !strings.HasPrefix(arg, "-") && arg != "run" {
				ref = arg
				break
			}
		}
		if ref == "" {
			c.Root().HelpFunc()(c, args)
			return
		}
		if err := a.printActionHelp(c.Context(), ref); err != nil {
			code, msg := classify(err)
			fmt.Fprintln(a.stderr, "attune:", msg)
			os.Exit(code)
		}
	})
	return c
}

// actionSchema parses an action's parameter schema.
func actionSchema(raw *json.RawMessage) (param.Schema, error) {
	if raw == nil || string(*raw) == "null" {
		return param.Schema{}, nil
	}
	var v any
	if err := json.Unmarshal(*raw, &v); err != nil {
		return nil, err
	}
	return param.ParseSchema(v)
}

// printActionHelp prints an action's description and parameters.
func (a *app) printActionHelp(ctx context.Context, ref string) error {
	if ctx == nil {
		ctx = a.ctx
	}
	cl, err := a.gql()
	if err != nil {
		return err
	}
	act, err := Action(ctx, cl, ref)
	if err != nil {
		return err
	}
	schema, err := actionSchema(act.Action.Parameters)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n\nUsage: attune run %s [name=value]...\n\nParameters:\n", ref, act.Action.Description, ref)
	return a.table([]string{"name", "type", "required", "default", "description"}, paramRows(schema))
}

func paramRows(schema param.Schema) [][]string {
	names := make([]string, 0, len(schema))
	for n := range schema {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := schema[names[i]].Required, schema[names[j]].Required
		if ri != rj {
			return ri
		}
		return names[i] < names[j]
	})
	rows := make([][]string, 0, len(names))
	for _, n := range names {
		s := schema[n]
		def := ""
		if s.Default != nil {
			def = cell(s.Default)
		}
		if s.Secret {
			def = "(secret)"
		}
		rows = append(rows, []string{n, s.Type, strconv.FormatBool(s.Required), def, s.Description})
	}
	return rows
}

// parseParams reads name=value, name=@file and name:=json arguments.
func parseParams(schema param.Schema, args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, arg := range args {
		k, v, err := parseAssign(arg, func(k string) param.Spec { return schema[k] })
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// parseAssign reads one name=value, name=@file or name:=json argument,
// typing a plain value by the spec specFor gives for its name.
func parseAssign(arg string, specFor func(string) param.Spec) (string, any, error) {
	if k, v, ok := strings.Cut(arg, ":="); ok && k != "" && !strings.Contains(k, "=") {
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			return "", nil, usageErr("%s: not JSON: %v", k, err)
		}
		return k, val, nil
	}
	k, v, ok := strings.Cut(arg, "=")
	if !ok || k == "" {
		return "", nil, usageErr("%q: parameters are name=value, name=@file or name:=json", arg)
	}
	spec := specFor(k)
	if strings.HasPrefix(v, "@") {
		raw, err := os.ReadFile(v[1:])
		if err != nil {
			return "", nil, usageErr("%s: %v", k, err)
		}
		v = string(raw)
		if t := spec.Type; t != "" && t != "string" {
			v = strings.TrimSpace(v)
		}
	}
	val, err := typed(spec, v)
	if err != nil {
		return "", nil, usageErr("%s: %v", k, err)
	}
	return k, val, nil
}

// typed converts a command-line string to the spec's type.
func typed(s param.Spec, v string) (any, error) {
	switch s.Type {
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return n, nil
	case "number":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	case "boolean":
		switch strings.ToLower(v) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", v)
	case "array":
		if strings.HasPrefix(strings.TrimSpace(v), "[") {
			var l []any
			if err := json.Unmarshal([]byte(v), &l); err != nil {
				return nil, fmt.Errorf("not a JSON array: %v", err)
			}
			return l, nil
		}
		var l []any
		for _, part := range strings.Split(v, ",") {
			item := param.Spec{Type: "string"}
			if s.Items != nil {
				item = *s.Items
			}
			x, err := typed(item, strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			l = append(l, x)
		}
		return l, nil
	case "object":
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		return m, nil
	}
	return v, nil
}

// follow prints an execution's status changes and output lines live, from
// output line from, until it finishes, then ends with its exit code.
func (a *app) follow(ctx context.Context, id string, from int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := a.output == "table"
	var (
		wg      sync.WaitGroup
		outErr  error
		lines   int
		linesMu sync.Mutex
	)
	if live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outErr = a.subscribe(ctx, executionOutputDoc, map[string]any{"id": id, "from": from}, func(data json.RawMessage) error {
				var d struct {
					ExecutionOutput struct {
						Seq    int    `json:"seq"`
						Stream string `json:"stream"`
						Line   string `json:"line"`
					} `json:"executionOutput"`
				}
				if err := json.Unmarshal(data, &d); err != nil {
					return err
				}
				w := a.stdout
				if d.ExecutionOutput.Stream == "stderr" {
					w = a.stderr
				}
				linesMu.Lock()
				lines++
				linesMu.Unlock()
				_, err := fmt.Fprintln(w, d.ExecutionOutput.Line)
				return err
			})
		}()
	}
	var last ExecutionFields
	status := ExecutionStatus("")
	err := a.subscribe(ctx, executionUpdatedDoc, map[string]any{"id": id}, func(data json.RawMessage) error {
		var d struct {
			ExecutionUpdated ExecutionFields `json:"executionUpdated"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		last = d.ExecutionUpdated
		if live && last.Status != status {
			a.note("execution %s: %s", id, last.Status)
		}
		status = last.Status
		return nil
	})
	if err != nil {
		cancel()
		wg.Wait()
		if errors.Is(err, context.Canceled) && a.ctx.Err() != nil {
			// Interrupted: the execution goes on without us.
			return &exitError{code: ExitFailed, msg: fmt.Sprintf("stopped following; execution %s goes on: attune execution tail %s", id, id)}
		}
		return err
	}
	wg.Wait()
	if outErr != nil {
		return outErr
	}
	if !live {
		cl, err := a.gql()
		if err != nil {
			return err
		}
		full, err := Execution(ctx, cl, id)
		if err != nil {
			return err
		}
		if err := a.printExecution(&full.Execution); err != nil {
			return err
		}
		last = full.Execution.ExecutionFields
	} else if lines == 0 && last.Status == ExecutionStatusSucceeded && last.Result != nil {
		// An action that printed nothing (python, http): show its result.
		var v any
		if json.Unmarshal(*last.Result, &v) == nil && v != nil && v != "" {
			if err := a.encode(v); err != nil {
				return err
			}
		}
	}
	return executionExit(a, last)
}

// executionExit ends with the execution's exit code.
func executionExit(a *app, e ExecutionFields) error {
	ok := e.Status == ExecutionStatusSucceeded
	if !ok {
		msg := e.Error
		if msg == "" {
			msg = "no error message"
		}
		a.note("attune: execution %s %s: %s", e.Id, e.Status, msg)
	}
	if e.ExitCode != nil && (e.Status == ExecutionStatusSucceeded || e.Status == ExecutionStatusFailed) {
		if *e.ExitCode != 0 {
			return silentExit(*e.ExitCode)
		}
		if ok {
			return nil
		}
	}
	if ok {
		return nil
	}
	return silentExit(ExitFailed)
}

var executionOrder = []string{"id", "actionRef", "status", "exitCode", "requestedAt", "requestedBy", "startedAt", "finishedAt", "duration", "parameters", "result", "error", "stdout", "stderr"}
