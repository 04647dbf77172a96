package httpauth

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request never takes the count from a read that began before it did,
// so a change committed before it arrived is always seen; requests that
// arrive during one read share the next.
func TestSharedReadsSeeEveryChangeBeforeArrival(t *testing.T) {
	var g sharedReads
	var value, reads atomic.Int64
	release := make(chan struct{})
	var blockFirst atomic.Bool
	blockFirst.Store(true)
	read := func(context.Context) (int64, bool) {
		v := value.Load() // the value when the read begins
		reads.Add(1)
		if blockFirst.CompareAndSwap(true, false) {
			<-release
		}
		return v, true
	}
	ctx := context.Background()

	// Alone, each call makes its own read and sees the latest value.
	blockFirst.Store(false)
	for i := range int64(3) {
		value.Store(i)
		if v, ok := g.get(ctx, read); !ok || v != i {
			t.Fatalf("call %d saw %d (ok %v)", i, v, ok)
		}
	}
	if reads.Load() != 3 {
		t.Fatalf("3 calls one after another made %d reads", reads.Load())
	}

	// A read is under way with the old value; the value changes; ten
	// requests arrive. None may take the old read's value, and they share
	// one read.
	reads.Store(0)
	value.Store(10)
	blockFirst.Store(true)
	first := make(chan int64)
	go func() { v, _ := g.get(ctx, read); first <- v }()
	for reads.Load() == 0 {
		waitTurn()
	}
	value.Store(11)
	var wg sync.WaitGroup
	got := make([]int64, 10)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = g.get(ctx, read) }()
	}
	for g.waiting.Load() != int32(len(got)) {
		waitTurn()
	}
	close(release)
	if v := <-first; v != 10 {
		t.Errorf("the first request saw %d, want 10", v)
	}
	wg.Wait()
	for i, v := range got {
		if v != 11 {
			t.Errorf("request %d, which arrived after the change, saw %d", i, v)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads for 11 requests, want 2 (the first, and one shared by the ten after it)", n)
	}

	// A cancelled request gets no value (and so recalls no one).
	blockFirst.Store(true)
	release = make(chan struct{})
	before := reads.Load()
	go func() { g.get(ctx, read) }()
	for reads.Load() == before {
		waitTurn()
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan bool)
	go func() { _, ok := g.get(cctx, read); done <- ok }()
	cancel()
	if ok := <-done; ok {
		t.Error("a cancelled request was given a value")
	}
	close(release)
}

// waitTurn lets the other goroutines run.
func waitTurn() { runtime.Gosched() }

// A read that panics does not leave the requests after it waiting for ever.
func TestSharedReadsSurviveAPanickingRead(t *testing.T) {
	var g sharedReads
	func() {
		defer func() { _ = recover() }()
		g.get(context.Background(), func(context.Context) (int64, bool) { panic("driver") })
	}()
	done := make(chan int64)
	go func() {
		v, _ := g.get(context.Background(), func(context.Context) (int64, bool) { return 7, true })
		done <- v
	}()
	select {
	case v := <-done:
		if v != 7 {
			t.Fatalf("the read after a panic gave %d", v)
		}
	case <-time.After(5 * time.Second): // a guard, not a wait: it passes at once
		t.Fatal("the request after a panicking read is still waiting")
	}
}
