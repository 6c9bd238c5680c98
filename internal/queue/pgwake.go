package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/attune-io/attune/internal/batch"
)

// pgDriver is River's database/sql driver that does not NOTIFY inside the
// transaction that inserts a job. PostgreSQL holds a database-wide lock
// from a NOTIFYing transaction's commit through its WAL flush, so every
// request and enforcement that inserted a job waited for every other one's
// commit. pgWaker sends the same notification right after the commit
// instead, outside any writing transaction, batched.
type pgDriver struct {
	*riverdatabasesql.Driver
}

// SupportsListenNotify is false so River's inserts send no notification;
// River still listens (SupportsListener), and pgWaker notifies.
func (d *pgDriver) SupportsListenNotify() bool { return false }

// insertTopic is River's notification topic for new jobs (its listeners
// hear "<schema>.river_insert" with payload {"queue": name}).
const insertTopic = "river_insert"

// pgWaker announces committed jobs to River's listeners on every node: one
// statement at a time, carrying every queue announced meanwhile. At low
// load a job is announced one round trip after its commit; under load the
// announcements of many commits share one statement. If the process dies
// between a commit and its announcement, River's periodic fetch (every
// second) finds the job.
type pgWaker struct {
	exec riverdriver.Executor
	log  *slog.Logger

	queues batch.Sender[string]
}

func newPGWaker(exec riverdriver.Executor, log *slog.Logger) *pgWaker {
	w := &pgWaker{exec: exec, log: log}
	w.queues.Send = w.send
	return w
}

func (w *pgWaker) wake(queue string) { w.queues.Add(queue) }

// send announces each queue of a batch once, in one statement.
func (w *pgWaker) send(queues []string) {
	slices.Sort(queues)
	queues = slices.Compact(queues)
	payloads := make([]string, len(queues))
	for i, q := range queues {
		payloads[i] = fmt.Sprintf("{\"queue\": %q}", q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.exec.NotifyMany(ctx, &riverdriver.NotifyManyParams{Payload: payloads, Topic: insertTopic}); err != nil && w.log != nil {
		w.log.Warn("announcing new jobs; workers find them at their next poll", "queues", queues, "error", err)
	}
}
