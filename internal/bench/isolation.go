package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// isolationInfo is what a server says of its action isolation.
type isolationInfo struct {
	SystemInfo struct {
		Isolation struct {
			Enabled bool
			Active  []string
		}
	}
}

// activeIsolation asks a server which protections confine its actions.
func activeIsolation(ctx context.Context, c *client) (string, error) {
	var info isolationInfo
	if err := c.do(ctx, `{ systemInfo { isolation { enabled active } } }`, nil, &info); err != nil {
		return "", err
	}
	iso := info.SystemInfo.Isolation
	if !iso.Enabled || len(iso.Active) == 0 {
		return "none", nil
	}
	return strings.Join(iso.Active, ", "), nil
}

// isolationCost measures what confining actions costs: executions/s of the
// trivial native action on the main server (worker.isolation: auto) and on
// a second one with worker.isolation: off, alternating round by round in
// the same run, on the same backend. The report gives the round with the
// median ratio.
func (b *run) isolationCost(ctx context.Context, backend string, on *server, onClient *client) (err error) {
	db, err := b.newDatabase(ctx, backend, "noisolation")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.drop()) }()
	off, offClient, err := b.start(ctx, db, filepath.Join(b.tmp, backend+"-noisolation"), "",
		"ATTUNE_WORKER_ISOLATION=off", "ATTUNE_DEBUG_SQL_STATS=true")
	if err != nil {
		return err
	}
	defer off.stop()
	if err := installPack(ctx, offClient, b.benchDir); err != nil {
		return err
	}
	active, err := activeIsolation(ctx, onClient)
	if err != nil {
		return fmt.Errorf("reading systemInfo: %w", err)
	}
	submit := func(c *client) func(context.Context) error {
		return func(ctx context.Context) error {
			return c.do(ctx, `mutation($a: String!) { executeAction(input: {action: $a}) { execution { id } } }`,
				map[string]any{"a": nativeRef}, nil)
		}
	}
	type round struct{ on, off, ratio float64 }
	var rounds []round
	var failed int64
	for range b.cfg.Sizes.Rounds {
		offRes, err := b.sustain(ctx, backend, "", off, offClient, submit(offClient))
		if err != nil {
			return fmt.Errorf("executions/s without isolation: %w", err)
		}
		onRes, err := b.sustain(ctx, backend, "", on, onClient, submit(onClient))
		if err != nil {
			return fmt.Errorf("executions/s with isolation: %w", err)
		}
		failed += offRes.failed + onRes.failed
		rounds = append(rounds, round{on: onRes.rate, off: offRes.rate, ratio: onRes.rate / offRes.rate})
		b.logf("isolation: %.0f/s with (%s), %.0f/s without (%.2f×)", onRes.rate, active, offRes.rate, onRes.rate/offRes.rate)
	}
	ratios := make([]float64, len(rounds))
	var each []string
	for i, r := range rounds {
		ratios[i] = r.ratio
		each = append(each, fmt.Sprintf("%.2f× (%.0f/s against %.0f/s)", r.ratio, r.on, r.off))
	}
	m := rounds[MedianIndex(ratios)]
	b.report.add(Figure{
		Name: "executions/s, trivial native action, with action isolation", Backend: backend,
		Value:    fmt.Sprintf("%.0f/s", m.on),
		Baseline: fmt.Sprintf("%.0f/s with worker.isolation: off", m.off),
		Ratio:    fmt.Sprintf("%.2f×", m.ratio),
		Detail: fmt.Sprintf("what confining each action costs: the same load as the executions/s figure on two servers of the same build, one with worker.isolation: auto (active here: %s), one with worker.isolation: off, each on its own database, alternating (off first) within each round; %s; %d failed in all; informational (no goal)",
			active, b.roundsHow("ratios", each), failed),
	})
	return nil
}
