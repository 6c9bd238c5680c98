package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSample is where the machine's CPU time had gone at one moment, split
// by who spent it: what a load figure's executions cost, and which part
// of the system limits them.
type cpuSample struct {
	ok bool
	// machine is every core's busy time (/proc/stat).
	machine time.Duration
	// server is the attune process's own time; actions its waited-for
	// children's (the actions' processes, fork to exit).
	server, actions time.Duration
	// database is every postgres process's time, its exited backends'
	// included (the postmaster's children); not read on SQLite, where the
	// database runs inside the server.
	database time.Duration
	// bench is this process's: the load's clients and their polls.
	bench time.Duration
}

// sampleCPU reads the split for the server with pid serverPID; postgres
// says whether the server's database is PostgreSQL (on this machine), whose
// processes are then counted.
func sampleCPU(serverPID int, postgres bool) cpuSample {
	machine, ok := busyCPU()
	if !ok {
		return cpuSample{}
	}
	s := cpuSample{ok: true, machine: machine, bench: selfCPU()}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", serverPID))
	if err != nil {
		return cpuSample{}
	}
	st, ok := parseProcStat(string(raw))
	if !ok {
		return cpuSample{}
	}
	s.server, s.actions = st.self, st.children
	if !postgres {
		return s
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		raw, err := os.ReadFile(d)
		if err != nil {
			continue // exited meanwhile
		}
		if st, ok := parseProcStat(string(raw)); ok && st.comm == "postgres" {
			s.database += st.self + st.children
		}
	}
	return s
}

// procStat is what the split needs of /proc/<pid>/stat.
type procStat struct {
	comm           string
	self, children time.Duration
}

// parseProcStat reads a /proc/<pid>/stat line: the command between the
// first '(' and the last ')' (it may hold spaces and parentheses), then
// utime, stime, cutime and cstime, the 12th to 15th fields after it, in
// USER_HZ ticks of 10 ms.
func parseProcStat(line string) (procStat, bool) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 15 {
		return procStat{}, false
	}
	var t [4]int64
	for i := range t {
		n, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return procStat{}, false
		}
		t[i] = n
	}
	return procStat{
		comm:     line[open+1 : end],
		self:     time.Duration(t[0]+t[1]) * userTick,
		children: time.Duration(t[2]+t[3]) * userTick,
	}, true
}

// cpuSplit is the CPU time per execution between two samples.
type cpuSplit struct {
	machine, server, actions, database, bench, other time.Duration
}

// perExecution divides the time spent between a and b by n executions (or events);
// ok is false when either sample failed or n is not positive.
func perExecution(a, b cpuSample, n int64) (cpuSplit, bool) {
	if !a.ok || !b.ok || n <= 0 {
		return cpuSplit{}, false
	}
	d := time.Duration(n)
	s := cpuSplit{
		machine:  (b.machine - a.machine) / d,
		server:   (b.server - a.server) / d,
		actions:  (b.actions - a.actions) / d,
		database: (b.database - a.database) / d,
		bench:    (b.bench - a.bench) / d,
	}
	s.other = max(0, s.machine-s.server-s.actions-s.database-s.bench)
	return s, true
}

// cpuHow is a load figure's CPU split for its detail and log line, per
// unit ("an execution", "an event"); ok is perExecution's.
func cpuHow(s cpuSplit, ok bool, unit string) string {
	if !ok {
		return "the machine's CPU time was not readable (no /proc)"
	}
	return "the machine's CPU time (/proc: every process) was " + s.per(unit)
}

// per is the split with its unit.
func (s cpuSplit) per(unit string) string {
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	db := ""
	if s.database > 0 {
		db = ", PostgreSQL " + r(s.database)
	}
	actions := ""
	if s.actions > 0 {
		actions = "actions' processes " + r(s.actions) + ", "
	}
	return fmt.Sprintf("%s %s (%sserver %s%s, bench client %s, the rest (kernel threads, other services) %s)",
		r(s.machine), unit, actions, r(s.server), db, r(s.bench), r(s.other))
}
