package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// SQLite in WAL mode copies the log back into the database file at a
// checkpoint, which by default the connection that commits past 1,000 log
// pages runs itself, inside that commit. attune has one connection that
// every write and claim waits for, so each such checkpoint stalled the
// whole server for tens of milliseconds every few seconds under load (the
// p99 of webhook → RUNNING). A checkpointer with a connection of its own
// does them instead, PASSIVE (never waiting for, nor blocking, the writer);
// the writer's own checkpoints stay only as a safety net far past the usual
// log size.

// checkpointEvery is how often the checkpointer copies the log back.
const checkpointEvery = 250 * time.Millisecond

// writerAutoCheckpoint is the log size, in pages, at which the writer
// checkpoints by itself: only if the checkpointer falls far behind.
const writerAutoCheckpoint = 16384

// checkpointer runs PASSIVE checkpoints on its own connection.
type checkpointer struct {
	db   *sql.DB
	stop context.CancelFunc
	done sync.WaitGroup
}

// startCheckpointer opens a connection of its own to the SQLite database
// at dsn and checkpoints from it every checkpointEvery until closed.
func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening the checkpointer's connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, stop: stop}
	c.done.Go(func() {
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// An error (the file busy in a RESTART elsewhere, say) only
			// means this round copied less; the next one tries again.
			_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	})
	return c, nil
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	c.done.Wait()
	return c.db.Close()
}
