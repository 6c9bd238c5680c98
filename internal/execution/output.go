package execution

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/executionoutput"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// outputBatch caps the rows of one insert.
const outputBatch = 500

// outputLog stores an execution's output lines as they arrive and announces
// them, so subscribers anywhere can follow and resume by line number. Lines
// are written in batches by one goroutine: while an insert runs, new lines
// gather for the next, so a chatty action costs few round trips and never
// waits for the database. Each stream stores at most limit bytes, like the
// captured stdout/stderr.
type outputLog struct {
	db     *store.DB
	bus    *notify.Bus
	log    *slog.Logger
	id     int
	redact redactor
	limit  int

	mu      sync.Mutex
	pending []line
	next    int
	stored  map[string]int
	closed  bool

	kick chan struct{}
	done chan struct{}
}

type line struct {
	seq    int
	stream string
	text   string
}

// newOutputLog starts the output log of execution id, whose lines are
// numbered from first.
func newOutputLog(ctx context.Context, db *store.DB, bus *notify.Bus, log *slog.Logger, id, first int, redact redactor, limit int) *outputLog {
	o := &outputLog{
		db: db, bus: bus, log: log, id: id, next: first, redact: redact, limit: limit,
		stored: map[string]int{}, kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go o.loop(context.WithoutCancel(ctx))
	return o
}

// add is the runner's OnLine callback.
func (o *outputLog) add(stream, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.stored[stream] >= o.limit {
		return
	}
	o.stored[stream] += len(text) + 1
	o.pending = append(o.pending, line{seq: o.next, stream: stream, text: o.redact.String(text)})
	o.next++
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// close stores what is pending and stops the writer; after it returns every
// line is in the database.
func (o *outputLog) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	close(o.kick)
	<-o.done
}

func (o *outputLog) loop(ctx context.Context) {
	defer close(o.done)
	for range o.kick {
		o.flush(ctx)
	}
	o.flush(ctx)
}

func (o *outputLog) flush(ctx context.Context) {
	for {
		o.mu.Lock()
		batch := o.pending[:min(len(o.pending), outputBatch)]
		o.pending = o.pending[len(batch):]
		o.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		creates := make([]*ent.ExecutionOutputCreate, len(batch))
		for i, l := range batch {
			creates[i] = o.db.Ent.ExecutionOutput.Create().
				SetExecutionID(o.id).SetSeq(l.seq).SetStream(executionoutput.Stream(l.stream)).SetLine(l.text)
		}
		if err := o.db.Ent.ExecutionOutput.CreateBulk(creates...).Exec(ctx); err != nil {
			o.log.Warn("storing output lines", "execution_id", o.id, "error", err)
			continue
		}
		ev := notify.Event{Kind: notify.Output, ID: o.id, Seq: batch[len(batch)-1].seq}
		if err := o.bus.Publish(ctx, ev); err != nil {
			o.log.Warn("announcing output lines", "execution_id", o.id, "error", err)
		}
	}
}

// liveOutputLimit bounds what Stream returns for a running execution.
const liveOutputLimit = 1 << 20

// Stream is an execution's stdout or stderr ("stdout"/"stderr"). A
// finished run has it stored whole; a running one (whose row is written at
// the end) is assembled from the output lines stored so far, so a client
// polling execution(id) sees output as it arrives.
func (s *Service) Stream(ctx context.Context, e *ent.Execution, stream string) (string, error) {
	stored := e.Stdout
	if stream == "stderr" {
		stored = e.Stderr
	}
	if stored != "" || (e.Status != "" && Finished(e.Status)) {
		return stored, nil
	}
	lines, err := s.db.Ent.ExecutionOutput.Query().
		Where(executionoutput.ExecutionID(e.ID), executionoutput.StreamEQ(executionoutput.Stream(stream))).
		Order(ent.Asc(executionoutput.FieldSeq)).All(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range lines {
		if b.Len()+len(l.Line)+1 > liveOutputLimit {
			break
		}
		b.WriteString(l.Line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
