package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// parseProcStat reads the command between the first '(' and the last ')',
// then utime+stime and cutime+cstime in 10 ms ticks; a line it cannot read
// is refused.
func TestParseProcStat(t *testing.T) {
	t.Parallel()
	const tail = " S 1 2 3 0 -1 4194560 100 0 0 0 %s 0 0 20 0 1 0 123 456 789"
	tests := []struct {
		name, line string
		want       procStat
		wantOK     bool
	}{
		{"postgres", "4242 (postgres)" + fill(tail, "30 12 400 100"), procStat{comm: "postgres", self: 420 * time.Millisecond, children: 5 * time.Second}, true},
		{"spaces and parentheses in the command", "7 (a (b) c)" + fill(tail, "1 2 3 4"), procStat{comm: "a (b) c", self: 30 * time.Millisecond, children: 70 * time.Millisecond}, true},
		{"cut short", "7 (x) S 1 2 3", procStat{}, false},
		{"no command", "7 x S" + fill(tail, "1 2 3 4"), procStat{}, false},
		{"not a number", "7 (x)" + fill(tail, "1 two 3 4"), procStat{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseProcStat(tt.line)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// fill puts the four times into a stat line's tail.
func fill(tail, times string) string { return strings.Replace(tail, "%s", times, 1) }

// The split divides each part by the executions and leaves the rest of
// the machine's time to "other"; a failed sample or no executions gives
// nothing.
func TestPerExecution(t *testing.T) {
	t.Parallel()
	a := cpuSample{ok: true, machine: time.Second, server: 100 * time.Millisecond, actions: 200 * time.Millisecond, database: 300 * time.Millisecond, bench: 10 * time.Millisecond}
	b := cpuSample{ok: true, machine: 11 * time.Second, server: 2100 * time.Millisecond, actions: 4200 * time.Millisecond, database: 2300 * time.Millisecond, bench: 510 * time.Millisecond}
	s, ok := perExecution(a, b, 1000)
	require.True(t, ok)
	require.Equal(t, cpuSplit{machine: 10 * time.Millisecond, server: 2 * time.Millisecond, actions: 4 * time.Millisecond,
		database: 2 * time.Millisecond, bench: 500 * time.Microsecond, other: 1500 * time.Microsecond}, s)
	require.Contains(t, cpuHow(s, true, "an execution"), "PostgreSQL 2ms")

	_, ok = perExecution(a, cpuSample{}, 1000)
	require.False(t, ok)
	_, ok = perExecution(a, b, 0)
	require.False(t, ok)
}

// On this machine the sample reads the process it is given: the test's own
// (no children; the database's processes are not read) is found, with time spent.
func TestSampleCPUReadsTheServer(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	s := sampleCPU(os.Getpid(), false)
	require.True(t, s.ok)
	require.Positive(t, s.machine)
	require.Positive(t, s.bench)
}
