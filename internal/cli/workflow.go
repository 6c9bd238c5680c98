package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/spf13/cobra"
)

// workflowTreeDoc streams a workflow's tree: the workflow and every
// execution under it, as they stand and then as they change.
const workflowTreeDoc = `subscription($wf: ID) { executionUpdated(workflow: $wf) {
  id actionRef status parentID taskName taskItem error } }`

// treeExecution is one execution of a workflow's tree as streamed.
type treeExecution struct {
	ID        string          `json:"id"`
	ActionRef string          `json:"actionRef"`
	Status    ExecutionStatus `json:"status"`
	ParentID  *string         `json:"parentID"`
	TaskName  string          `json:"taskName"`
	TaskItem  *int            `json:"taskItem"`
	Error     string          `json:"error"`
}

// outputTails bounds the children whose output is streamed at once (a
// with-items task may start hundreds); the others wait their turn and
// then stream from their first line.
const outputTails = 8

// executionView is an execution for printing: without workflow when it
// runs none, and, in a table, without it at all (the tasks follow as
// their own table).
func (a *app) executionView(e *ExecutionExecution) (map[string]any, error) {
	g, err := generic(e)
	if err != nil {
		return nil, err
	}
	m, _ := g.(map[string]any)
	if e.Workflow == nil || (a.output == "table" && a.attrs == "") {
		delete(m, "workflow")
	}
	return m, nil
}

// printExecution prints an execution and, for a workflow in a table, its
// task table below.
func (a *app) printExecution(e *ExecutionExecution) error {
	m, err := a.executionView(e)
	if err != nil {
		return err
	}
	if err := a.printObject(m, executionOrder); err != nil {
		return err
	}
	if e.Workflow == nil || a.output != "table" || a.attrs != "" {
		return nil
	}
	fmt.Fprintf(a.stdout, "\nWorkflow (%s, %s) tasks:\n", e.Workflow.Language, e.Workflow.File)
	rows := make([][]string, 0, len(e.Workflow.Tasks))
	for _, t := range e.Workflow.Tasks {
		item, child := "", ""
		if t.ItemIndex != nil {
			item = strconv.Itoa(*t.ItemIndex)
		}
		if t.Execution != nil {
			child = t.Execution.Id
		}
		rows = append(rows, []string{t.Name, item, strconv.Itoa(t.Attempt), string(t.Status), child})
	}
	return a.table([]string{"task", "item", "attempt", "status", "execution"}, rows)
}

func (a *app) getExecutionCommand() *cobra.Command {
	return &cobra.Command{
		Use: "get ID", Short: "Show an execution with its result and output (a workflow: its tasks too)", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Execution(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return a.printExecution(&res.Execution)
		},
	}
}

// isWorkflow reports whether execution id runs a workflow: it has one, or
// (not started yet) its action is one.
func (a *app) isWorkflow(ctx context.Context, id string) (bool, error) {
	cl, err := a.gql()
	if err != nil {
		return false, err
	}
	res, err := Execution(ctx, cl, id)
	if err != nil {
		return false, err
	}
	if res.Execution.Workflow != nil {
		return true, nil
	}
	act, err := Action(ctx, cl, res.Execution.ActionRef)
	if err != nil {
		return false, nil // the action is gone: follow it as one execution
	}
	return act.Action.RunnerType == ActionRunnerTypeWorkflow, nil
}

// followWorkflow prints a workflow's task status changes and its
// children's output lines (prefixed with their task) live, until it
// finishes, then ends with 0 when it succeeded and ExitFailed otherwise.
func (a *app) followWorkflow(ctx context.Context, id string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := a.output == "table"
	var (
		wg      sync.WaitGroup
		printMu sync.Mutex
		errMu   sync.Mutex
		outErr  error
		labels  = map[string]string{}
		seen    = map[string]ExecutionStatus{}
		slots   = make(chan struct{}, outputTails)
	)
	note := func(format string, args ...any) {
		printMu.Lock()
		defer printMu.Unlock()
		a.note(format, args...)
	}
	tail := func(exID, label string) {
		defer wg.Done()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-slots }()
		err := a.subscribe(ctx, executionOutputDoc, map[string]any{"id": exID, "from": 0}, func(data json.RawMessage) error {
			var d struct {
				ExecutionOutput struct {
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
			printMu.Lock()
			defer printMu.Unlock()
			_, err := fmt.Fprintf(w, "[%s] %s\n", label, d.ExecutionOutput.Line)
			return err
		})
		if err != nil && ctx.Err() == nil {
			errMu.Lock()
			outErr = errors.Join(outErr, err)
			errMu.Unlock()
		}
	}
	err := a.subscribe(ctx, workflowTreeDoc, map[string]any{"wf": id}, func(data json.RawMessage) error {
		var d struct {
			ExecutionUpdated treeExecution `json:"executionUpdated"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		e := d.ExecutionUpdated
		prev, known := seen[e.ID]
		seen[e.ID] = e.Status
		if !live || (known && prev == e.Status) {
			return nil
		}
		if e.ID == id {
			// Its end comes last, after its tasks' ends sent with it.
			if !finished(e.Status) {
				note("workflow %s: %s", id, e.Status)
			}
			return nil
		}
		label, ok := labels[e.ID]
		if !ok {
			label = e.TaskName
			if label == "" {
				label = e.ActionRef
			}
			if e.TaskItem != nil {
				label += "[" + strconv.Itoa(*e.TaskItem) + "]"
			}
			if e.ParentID != nil && *e.ParentID != id {
				if pl, ok := labels[*e.ParentID]; ok {
					label = pl + "." + label
				}
			}
			labels[e.ID] = label
			wg.Add(1)
			go tail(e.ID, label)
		}
		if e.Error != "" && (e.Status == ExecutionStatusFailed || e.Status == ExecutionStatusTimeout) {
			note("task %s [#%s] %s: %s", label, e.ID, e.Status, e.Error)
		} else {
			note("task %s [#%s] %s", label, e.ID, e.Status)
		}
		return nil
	})
	if err != nil {
		cancel()
		wg.Wait()
		if errors.Is(err, context.Canceled) && a.ctx.Err() != nil {
			return &exitError{code: ExitFailed, msg: fmt.Sprintf("stopped following; workflow %s goes on: attune execution tail %s", id, id)}
		}
		return err
	}
	wg.Wait()
	if outErr != nil {
		return outErr
	}
	if st := seen[id]; live && finished(st) {
		note("workflow %s: %s", id, st)
	}
	cl, err := a.gql()
	if err != nil {
		return err
	}
	full, err := Execution(ctx, cl, id)
	if err != nil {
		return err
	}
	if !live {
		if err := a.printExecution(&full.Execution); err != nil {
			return err
		}
	}
	return executionExit(a, full.Execution.ExecutionFields)
}

// followAny follows execution id: as a workflow when it runs one.
func (a *app) followAny(ctx context.Context, id string, from int) error {
	wf, err := a.isWorkflow(ctx, id)
	if err != nil {
		return err
	}
	if wf {
		return a.followWorkflow(ctx, id)
	}
	return a.follow(ctx, id, from)
}

func (a *app) pauseResumeCommands() []*cobra.Command {
	pause := oneArg(a, "pause ID", "Pause a running workflow: running tasks finish, no new task starts",
		PauseExecution, func(r *PauseExecutionResponse) any { return &r.PauseExecution }, executionOrder)
	resume := oneArg(a, "resume ID", "Resume a paused workflow",
		ResumeExecution, func(r *ResumeExecutionResponse) any { return &r.ResumeExecution }, executionOrder)
	return []*cobra.Command{pause, resume}
}

// finished reports whether an execution with status s has ended.
func finished(s ExecutionStatus) bool {
	switch s {
	case ExecutionStatusSucceeded, ExecutionStatusFailed, ExecutionStatusTimeout,
		ExecutionStatusCanceled, ExecutionStatusAbandoned:
		return true
	}
	return false
}

func (a *app) rerunCommand() *cobra.Command {
	var async bool
	var tasks, reset []string
	c := &cobra.Command{
		Use:   "rerun ID [name=value | name=@file | name:=json]... [--task T]... [--reset T]...",
		Short: "Run an execution's action again as a new execution (with its parameters, those given override) and follow it; a workflow from chosen tasks with --task",
		Args:  nArgs(1, -1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			cl, err := a.gql()
			if err != nil {
				return err
			}
			in := RerunExecutionInput{Id: args[0], Tasks: tasks, ResetTasks: reset}
			if len(args) > 1 {
				orig, err := Execution(ctx, cl, args[0])
				if err != nil {
					return err
				}
				act, err := Action(ctx, cl, orig.Execution.ActionRef)
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
				in.Parameters = &pj
			}
			res, err := RerunExecution(ctx, cl, in)
			if err != nil {
				return err
			}
			ex := res.RerunExecution
			if async {
				if a.output == "table" {
					fmt.Fprintln(a.stdout, ex.Id)
					return nil
				}
				return a.printObject(&ex, executionOrder)
			}
			return a.followAny(ctx, ex.Id, 0)
		},
	}
	c.Flags().BoolVar(&async, "async", false, "print the new execution's id and return at once")
	c.Flags().StringArrayVar(&tasks, "task", nil, "a workflow: re-run from this task, keeping the rest of its context (repeatable)")
	c.Flags().StringArrayVar(&reset, "reset", nil, "a with-items task among --task whose items all run again (repeatable)")
	return c
}
