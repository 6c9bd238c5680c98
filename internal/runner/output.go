package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxLineBytes splits absurdly long lines so one line cannot exhaust memory
// before the byte cap applies.
const maxLineBytes = 64 << 10

// errorTailLines is how many trailing stderr lines explain a failure.
const errorTailLines = 5

// capture keeps the first limit bytes of a stream, counts the rest, and
// hands every line to onLine as it arrives.
type capture struct {
	stream  string
	limit   int
	onLine  func(stream, line string)
	buf     []byte
	dropped int64
}

// consume reads r until EOF or until the pipe is closed under it.
func (c *capture) consume(r io.Reader) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			kept := min(len(chunk), c.limit-len(c.buf))
			c.buf = append(c.buf, chunk[:kept]...)
			c.dropped += int64(len(chunk) - kept)
			if c.onLine != nil {
				c.onLine(c.stream, strings.TrimRight(string(chunk), "\r\n"))
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// parseResult returns the JSON value of the whole stdout or else of its last
// non-empty line (scripts often log before printing their JSON result).
func parseResult(stdout string) any {
	if v, ok := parseJSON(stdout); ok {
		return v
	}
	trimmed := strings.TrimSpace(stdout)
	if v, ok := parseJSON(trimmed[strings.LastIndexByte(trimmed, '\n')+1:]); ok {
		return v
	}
	return nil
}

// parseJSON decodes s if it is exactly one JSON value.
func parseJSON(s string) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// failureText explains why the run failed, or returns "" when it succeeded.
func failureText(req Request, res Result, ended string) string {
	switch {
	case res.TimedOut:
		return fmt.Sprintf("timed out after %s", req.Timeout)
	case res.Canceled:
		return "canceled"
	case res.ExitCode == 0:
		return ""
	}
	if tail := lastLines(res.Stderr, errorTailLines); tail != "" {
		return tail
	}
	return ended
}

// lastLines returns the last n non-blank lines of s.
func lastLines(s string, n int) string {
	var lines []string
	for line := range strings.Lines(s) {
		if line = strings.TrimRight(line, "\r\n"); strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
