package batch_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/attune-io/attune/internal/batch"
)

func TestSenderSendsEveryItemOnceInOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adders  int
		perAdd  int
		blockAt int // the first Send waits until this many items were added
	}{
		{"alone", 1, 1, 1},
		{"one adder, a burst while the first batch is out", 1, 50, 50},
		{"many adders", 8, 100, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got [][]int
			added := make(chan struct{}, tc.adders*tc.perAdd)
			release := make(chan struct{})
			done := make(chan struct{})
			total := tc.adders * tc.perAdd
			seen := 0
			s := &batch.Sender[int]{Send: func(items []int) {
				mu.Lock()
				first := len(got) == 0
				got = append(got, items)
				seen += len(items)
				all := seen == total
				mu.Unlock()
				if first {
					<-release
				}
				if all {
					close(done)
				}
			}}
			var wg sync.WaitGroup
			for a := range tc.adders {
				wg.Go(func() {
					for i := range tc.perAdd {
						s.Add(a*tc.perAdd + i)
						added <- struct{}{}
					}
				})
			}
			for range tc.blockAt {
				<-added
			}
			close(release)
			wg.Wait()
			<-done
			var flat []int
			for _, b := range got {
				flat = append(flat, b...)
			}
			slices.Sort(flat)
			want := make([]int, total)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(flat, want) {
				t.Fatalf("sent %d items (%v), want each of %d once", len(flat), got, total)
			}
			if total > 1 && len(got) >= total {
				t.Fatalf("%d batches for %d items added while the first was out: none were batched", len(got), total)
			}
		})
	}
}
