package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// periodicFunc is one piece of periodic work; now is CareGate's clock.
type periodicFunc func(ctx context.Context, now time.Time) error

// periodicArgs names which periodic work a job runs.
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return "periodic" }

// Every schedules fn to run every interval, and once soon after start-up.
// Only the elected leader among the caregate processes on a database
// schedules it, and a run is skipped while the previous one is still queued
// or running, so fn runs once per interval however many processes there are.
// fn receives the time by CareGate's clock (which demo mode moves), so
// sweeps compare against the same time as the rules they enforce. A failed
// run is retried by the queue with back-off. Call Every before Start; each
// name may be used once.
func (r *Runner) Every(name string, interval time.Duration, fn func(ctx context.Context, now time.Time) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic("jobs: Every after Start")
	}
	if _, dup := r.periodic[name]; dup {
		panic("jobs: periodic work " + name + " registered twice")
	}
	r.periodic[name] = fn
	r.client.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return periodicArgs{Name: name}, &river.InsertOpts{UniqueOpts: UniqueWhileLive()}
		},
		&river.PeriodicJobOpts{ID: name, RunOnStart: true}))
}

// periodicWorker runs the periodic work a job names.
type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	r *Runner
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	w.r.mu.Lock()
	fn, ok := w.r.periodic[job.Args.Name]
	w.r.mu.Unlock()
	if !ok {
		// A newer caregate, elected leader during a rolling upgrade, scheduled
		// work this one does not know: drop this run; it is scheduled again
		// at the next interval.
		return river.JobCancel(fmt.Errorf("no periodic work named %q in this process", job.Args.Name))
	}
	return fn(ctx, w.r.clock.Now())
}
