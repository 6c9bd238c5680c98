package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

func TestDebugConfigOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		debug   DebugConfig
		listen  string
		wantErr bool
	}{
		{"off anywhere", DebugConfig{}, "0.0.0.0:8080", false},
		{"sql stats on loopback", DebugConfig{SQLStats: true}, "127.0.0.1:0", false},
		{"pprof on localhost", DebugConfig{Pprof: true}, "localhost:8080", false},
		{"sql stats on all interfaces", DebugConfig{SQLStats: true}, "0.0.0.0:8080", true},
		{"pprof on a public address", DebugConfig{Pprof: true}, "192.0.2.1:8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.debug.validate(tt.listen)
			if tt.wantErr {
				require.ErrorContains(t, err, "loopback")
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestSQLStatsCountStatementsAndShowThePool: with debug.sql_stats the server
// serves its running statement count, which a query raises, and its writing
// pool's size and waits (SQLite's one writer; PostgreSQL's pool).
func TestSQLStatsCountStatementsAndShowThePool(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv("ATTUNE_DEBUG_SQL_STATS=true"), "-database-url", dbtest.URL(t, backend))
		read := func() sqlStats {
			res, body := do(t, http.MethodGet, s.url+"/debug/sqlstats", nil, "")
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			var st sqlStats
			require.NoError(t, json.Unmarshal([]byte(body), &st))
			return st
		}
		before := read()
		client(s, testAdminToken).Must(t, `{ packs { totalCount } }`, nil, nil)
		after := read()
		require.Greater(t, after.Statements, before.Statements, "a query that reads packs sends statements")
		if backend == "sqlite" {
			require.Equal(t, 1, after.PoolMaxOpen, "SQLite writes through one connection")
		} else {
			require.Greater(t, after.PoolMaxOpen, 1)
		}
		require.GreaterOrEqual(t, after.PoolWaits, before.PoolWaits)
		require.GreaterOrEqual(t, after.PoolWaitedNanos, int64(0))
	})
}
