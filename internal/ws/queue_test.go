package ws

import (
	"context"
	"testing"
	"time"
)

// The queue counts the bytes waiting: notifications past the budget are
// refused (the client is too slow), answers already made are queued past
// it, and the reader's wait ends once what is written brings the bytes
// under the budget.
func TestQueueByteBudget(t *testing.T) {
	q := newOutQueue(100, 1000)
	note := func(n int) outgoing { return outgoing{sub: &clientSub{id: "0x1"}, result: make([]byte, n)} }
	if !q.tryNotify(note(1500)) {
		t.Fatal("a notification larger than the budget was refused with none waiting")
	}
	if q.tryNotify(note(10)) {
		t.Fatal("a notification was queued past the budget")
	}
	if _, ok := q.pop(); !ok {
		t.Fatal("nothing to take")
	}
	for i := range 3 {
		if !q.tryNotify(note(300)) {
			t.Fatalf("notification %d of 300 bytes refused under a budget of 1000", i)
		}
	}
	if q.tryNotify(note(300)) {
		t.Fatal("a fourth notification of 300 bytes was queued under a budget of 1000")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !q.push(ctx, outgoing{data: make([]byte, 2000)}) {
		t.Fatal("an answer was not queued past the budget")
	}
	ended, end := context.WithCancel(context.Background())
	end()
	for range 3 {
		q.pop()
		if q.waitDrained(ended) {
			t.Fatal("the reader may go on with more than the budget waiting")
		}
	}
	waited := make(chan bool)
	go func() { waited <- q.waitDrained(ctx) }()
	q.pop()
	if !<-waited {
		t.Fatal("the reader still waits with nothing waiting")
	}
	if q.waitDrained(ended) != true || q.len() != 0 {
		t.Fatal("the queue is not empty")
	}
}
