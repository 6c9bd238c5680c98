package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The machine's busy time counts user, nice, system, irq and softirq ticks
// of /proc/stat's first line, not idle or iowait; anything else is refused.
func TestParseBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stat   string
		want   time.Duration
		wantOK bool
	}{
		{"all fields", "cpu  10 1 5 1000 7 2 3 0 0 0\ncpu0 5 0 2 500 3 1 1 0 0 0\n", 21 * 10 * time.Millisecond, true},
		{"older kernels' seven fields", "cpu 1 2 3 4 5 6 7\n", 19 * 10 * time.Millisecond, true},
		{"a core's line first", "cpu0 1 2 3 4 5 6 7\n", 0, false},
		{"too few fields", "cpu 1 2 3\n", 0, false},
		{"not a number", "cpu 1 x 3 4 5 6 7\n", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseBusy(tt.stat)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}
