package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
)

// DebugConfig turns on diagnostics for benchmarks and profiling. Both are
// off by default and, like auth.enabled=false, allowed only on a loopback
// listen address: they are served without authentication.
type DebugConfig struct {
	// SQLStats counts the SQL statements the API's ent client sends and
	// serves the running total at GET /debug/sqlstats, so a benchmark can
	// report statements per request, with how often and how long callers
	// waited for a connection of the database's writing pool (on SQLite
	// its one writer), so it can say whether the database was the
	// bottleneck.
	SQLStats bool `yaml:"sql_stats"`
	// Pprof serves Go's profiler at /debug/pprof/.
	Pprof bool `yaml:"pprof"`
}

// validate refuses diagnostics on a server reachable from elsewhere.
func (d DebugConfig) validate(listen string) error {
	if !d.SQLStats && !d.Pprof {
		return nil
	}
	if !isLoopback(listen) {
		return fmt.Errorf("debug.sql_stats and debug.pprof are allowed only when listening on loopback, not %q", listen)
	}
	return nil
}

// sqlStats is the body of GET /debug/sqlstats: running totals since start.
type sqlStats struct {
	// Statements is how many SQL statements the API's ent client sent.
	Statements int64 `json:"statements"`
	// PoolMaxOpen is the writing pool's size (1 on SQLite); PoolWaits is
	// how many times a caller found every connection in use and waited,
	// PoolWaitedNanos how long such callers waited in all.
	PoolMaxOpen     int   `json:"poolMaxOpen"`
	PoolWaits       int64 `json:"poolWaits"`
	PoolWaitedNanos int64 `json:"poolWaitedNanos"`
}

// debugRoutes adds the enabled diagnostics to mux; statements is the
// counter of store.DB.CountStatements (nil without debug.sql_stats), pool
// the writing pool's statistics.
func debugRoutes(mux *http.ServeMux, d DebugConfig, statements *atomic.Int64, pool func() sql.DBStats) {
	if statements != nil {
		mux.HandleFunc("GET /debug/sqlstats", func(w http.ResponseWriter, _ *http.Request) {
			ps := pool()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(sqlStats{
				Statements:  statements.Load(),
				PoolMaxOpen: ps.MaxOpenConnections, PoolWaits: ps.WaitCount, PoolWaitedNanos: int64(ps.WaitDuration),
			})
		})
	}
	if d.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
}
