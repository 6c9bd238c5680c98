package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median odd", ms(3, 1, 2), 0.5, 2 * time.Millisecond},
		{"median even is the lower", ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"max", ms(5, 9, 1), 1, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := append([]time.Duration(nil), tt.samples...)
			require.Equal(t, tt.want, Percentile(tt.samples, tt.q))
			require.Equal(t, in, tt.samples, "input untouched")
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		counts []int64
		want   int64
	}{
		{"empty", nil, 0},
		{"odd", []int64{9, 5, 5}, 5},
		{"noise above", []int64{5, 5, 5, 17}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Median(tt.counts))
		})
	}
}

func TestVmRSS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tattune\nVmPeak:\t  900 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n", 51200 << 10, false},
		{"missing", "Name:\tattune\n", 0, true},
		{"bad unit", "VmRSS:\t12 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := vmRSS([]byte(tt.status))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMedianIndex(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		values []float64
		want   int
	}{
		{nil, -1},
		{[]float64{5}, 0},
		{[]float64{3, 1, 2}, 2},
		{[]float64{0.3, 0.2, 0.25}, 2},
		{[]float64{4, 1, 3, 2}, 3},
		{[]float64{2, 2, 1}, 0},
	} {
		if got := MedianIndex(tt.values); got != tt.want {
			t.Errorf("MedianIndex(%v) = %d, want %d", tt.values, got, tt.want)
		}
	}
}
