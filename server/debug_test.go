package main

import (
	"testing"

	"github.com/stretchr/testify/require"
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
