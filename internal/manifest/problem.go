package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a pack, located precisely enough for an author to fix it
// without guessing: File is relative to the pack root, Line is 1-based (0 when unknown) and
// Field names the YAML key (dotted for nested keys). Task names the workflow task a problem
// of a workflow file is in (empty elsewhere).
type Problem struct {
	File    string
	Line    int
	Task    string
	Field   string
	Message string
}

// String renders the problem as "file:line: task t: field: message", leaving out unknown
// parts.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	if p.Task != "" {
		b.WriteString(": task " + p.Task)
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// ValidationError lists every problem found in a pack, so an author fixes them all in one
// round instead of one per install attempt. Problems are ordered by file, then line.
type ValidationError struct {
	Problems []Problem
}

// Error summarises all problems on one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid pack: %d %s: %s", len(parts), noun, strings.Join(parts, "; "))
}

// problems collects Problems while a pack is parsed.
type problems []Problem

// add records a problem.
func (ps *problems) add(file string, line int, field, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// yamlLine matches the "line N: " prefix yaml.v3 puts on syntax and decoding errors.
var yamlLine = regexp.MustCompile(`^line (\d+): `)

// addYAML records a yaml.v3 error, one problem per reported error, with its line.
func (ps *problems) addYAML(file string, err error) {
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		ps.add(file, line, "", "invalid YAML: %s", msg)
	}
}

// err returns the collected problems as a sorted *ValidationError, or nil if there are none.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return &ValidationError{Problems: ps}
}
