package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSender records batches and answers each call with its own id after
// a short "round trip", counting how many batches are out at once.
type fakeSender struct {
	mu          sync.Mutex
	sent        map[string]int // id -> times sent
	batches     int
	maxBatch    int
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
	delay       time.Duration
}

func (f *fakeSender) send(ctx context.Context, batch []*enqueueCall) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(f.delay)
	f.mu.Lock()
	f.batches++
	f.maxBatch = max(f.maxBatch, len(batch))
	for _, c := range batch {
		f.sent[c.In.ID]++
		if c.In.Name == "fail" {
			c.Err = errors.New("boom " + c.In.ID)
			continue
		}
		c.Out = Enqueued{ExistingID: c.In.ID, State: "pending"}
	}
	f.mu.Unlock()
}

func TestCoalescerEachCallGetsItsOwnAnswer(t *testing.T) {
	t.Parallel()
	c := newEnqueueCoalescer()
	f := &fakeSender{sent: map[string]int{}, delay: 200 * time.Microsecond}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("%d-%d", g, i)
				name := "ok"
				if i%7 == 0 {
					name = "fail"
				}
				res, err := c.Do(context.Background(), &Message{ID: id, Name: name}, f.send)
				switch {
				case name == "fail" && (err == nil || err.Error() != "boom "+id):
					t.Errorf("%s: err = %v, want its own failure", id, err)
				case name == "ok" && (err != nil || res.ExistingID != id):
					t.Errorf("%s: got %+v, %v", id, res, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(f.sent) != 64*50 {
		t.Fatalf("%d jobs sent, want %d", len(f.sent), 64*50)
	}
	for id, n := range f.sent {
		if n != 1 {
			t.Fatalf("job %s sent %d times", id, n)
		}
	}
	if m := f.maxInFlight.Load(); m > maxInFlight {
		t.Errorf("%d batches in flight at once, limit %d", m, maxInFlight)
	}
	if f.maxBatch < 2 || f.batches >= 64*50 {
		t.Errorf("no coalescing: %d batches, largest %d", f.batches, f.maxBatch)
	}
	if f.maxBatch > maxBatch {
		t.Errorf("batch of %d, limit %d", f.maxBatch, maxBatch)
	}
	if inFlight, waiting := c.Load(); inFlight != 0 || waiting != 0 {
		t.Errorf("coalescer not idle: %d in flight, %d waiting", inFlight, waiting)
	}
}

func TestCoalescerLoneCallerGoesAtOnce(t *testing.T) {
	t.Parallel()
	c := newEnqueueCoalescer()
	f := &fakeSender{sent: map[string]int{}}
	for i := range 100 {
		if _, err := c.Do(context.Background(), &Message{ID: fmt.Sprint(i)}, f.send); err != nil {
			t.Fatal(err)
		}
	}
	if f.batches != 100 || f.maxBatch != 1 {
		t.Fatalf("serial caller: %d batches, largest %d; want 100 batches of 1", f.batches, f.maxBatch)
	}
}

func TestCoalescerCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	c := newEnqueueCoalescer()
	release := make(chan struct{})
	var sentMu sync.Mutex
	sent := map[string]bool{}
	send := func(ctx context.Context, batch []*enqueueCall) {
		<-release
		sentMu.Lock()
		defer sentMu.Unlock()
		for _, call := range batch {
			sent[call.In.ID] = true
		}
	}
	// Occupy every slot.
	var busy sync.WaitGroup
	for i := range maxInFlight {
		busy.Add(1)
		go func() {
			defer busy.Done()
			_, _ = c.Do(context.Background(), &Message{ID: fmt.Sprint("busy", i)}, send)
		}()
	}
	for {
		if n, _ := c.Load(); n == maxInFlight {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// A waiter whose context ends before its batch leaves is never sent.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, &Message{ID: "cancelled"}, send)
		errc <- err
	}()
	// And one that stays is sent once a slot frees up.
	okc := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), &Message{ID: "stays"}, send)
		okc <- err
	}()
	for {
		if _, n := c.Load(); n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	close(release)
	busy.Wait()
	if err := <-okc; err != nil {
		t.Fatal(err)
	}
	sentMu.Lock()
	defer sentMu.Unlock()
	if sent["cancelled"] || !sent["stays"] {
		t.Fatalf("sent = %v: the cancelled job must not go out, the other must", sent)
	}
}
