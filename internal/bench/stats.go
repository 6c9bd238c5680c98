package bench

import (
	"cmp"
	"slices"
	"time"
)

// Percentile is the q-quantile (0 < q ≤ 1) of samples by nearest rank, or 0
// without samples. samples is not modified.
func Percentile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(q*float64(len(s)) + 0.999999999)
	return s[min(max(rank, 1), len(s))-1]
}

// Median is the median of counts by nearest rank, or 0 without any.
func Median(counts []int64) int64 {
	if len(counts) == 0 {
		return 0
	}
	s := slices.Clone(counts)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// MedianIndex is the index of the median of values by nearest rank (the
// lower one of an even count), or -1 without any.
func MedianIndex(values []float64) int {
	if len(values) == 0 {
		return -1
	}
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(values[a], values[b]) })
	return idx[(len(idx)-1)/2]
}
