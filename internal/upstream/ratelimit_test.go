package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// A node's rate limit lets Burst calls go at once, then one each 1/Rate;
// a batch counts its calls, and one larger than the burst goes with a full
// bucket, instead of never fitting, and owes the rest.
func TestRateLimitOfANode(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1", RateLimit: upstream.RateLimit{Rate: 10, Burst: 2}})
	now := upstream.Now()
	for i := range 2 {
		if d := n.Wait(now, 1); d != 0 {
			t.Fatalf("call %d: Wait = %s, want 0", i, d)
		}
		if !n.TryAcquireCalls(now, 1) {
			t.Fatalf("call %d refused within the burst", i)
		}
		n.Release()
	}
	if n.TryAcquireCalls(now, 1) {
		t.Fatal("a third call at once went past a burst of 2")
	}
	if n.InFlight() != 0 {
		t.Fatalf("a refused call holds a slot: in flight %d", n.InFlight())
	}
	d := n.Wait(now, 1)
	if d <= 0 || d > 101*time.Millisecond {
		t.Fatalf("Wait after the burst = %s, want about 100ms (10 a second)", d)
	}
	later := now + int64(d)
	if !n.TryAcquireCalls(later, 1) {
		t.Fatalf("refused once Wait (%s) had passed", d)
	}
	n.Release()
	// A batch of 5 against a burst of 2 goes with a full bucket and owes
	// the other 3: the next call waits for 4 calls' worth, 400ms.
	full := later + int64(time.Second)
	if !n.TryAcquireCalls(full, 5) {
		t.Fatal("a batch larger than the burst never fits")
	}
	n.Release()
	if n.TryAcquireCalls(full, 1) {
		t.Fatal("the batch took less than the whole bucket")
	}
	if d := n.Wait(full, 1); d < 390*time.Millisecond || d > 410*time.Millisecond {
		t.Fatalf("after a batch of 5 on a bucket of 2 at 10 a second, the next call waits %s, want 400ms", d)
	}
	if r, b := n.RateLimited(); r != 10 || b != 2 {
		t.Fatalf("RateLimited = %v, %d", r, b)
	}
}

// Without a burst, the bucket holds the rate rounded up; without a rate
// limit a node never waits.
func TestRateLimitDefaults(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1", RateLimit: upstream.RateLimit{Rate: 2.5}})
	if _, b := n.RateLimited(); b != 3 {
		t.Fatalf("burst of rate 2.5 = %d, want 3", b)
	}
	free := upstream.New(upstream.Spec{Name: "free", URL: "http://127.0.0.1:1"})
	now := upstream.Now()
	for range 1000 {
		if !free.TryAcquireCalls(now, 10) {
			t.Fatal("a node without a rate limit refused a call")
		}
	}
	if r, _ := free.RateLimited(); r != 0 || free.Wait(now, 1) != 0 {
		t.Fatal("a node without a rate limit reports one")
	}
}

// A node that answers HTTP 429 cools down for its Retry-After: it is passed
// over meanwhile, and the answer is not counted as a fault of the node.
func TestTooManyRequestsCoolsTheNodeDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	for _, cl := range clients {
		fast := cl.fast
		n := newNode(t, cl.gzip, fast, upstream.Spec{Name: "n", URL: srv.URL, Timeout: 5 * time.Second})
		_, err := n.Call(context.Background(), []byte(`{}`))
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Kind != upstream.KindRateLimited || ue.RetryAfter != 30*time.Second {
			t.Fatalf("fast %v: got %v (retry after %v), want rate_limited with 30s", fast, err, ue)
		}
		if ue.NodeFault() {
			t.Errorf("fast %v: a 429 counts as a fault of the node", fast)
		}
		if d := n.CoolingDown(); d < 25*time.Second || d > 30*time.Second {
			t.Errorf("fast %v: cooling down %s, want about 30s", fast, d)
		}
		if n.TryAcquireCalls(upstream.Now(), 1) || n.Wait(upstream.Now(), 1) < 25*time.Second {
			t.Errorf("fast %v: a cooling node takes calls", fast)
		}
	}
}

// A call in flight on a node when a reload replaces it (same URL, other
// settings) that then gets HTTP 429 cools down the node now serving in its
// place, which would otherwise keep being sent calls: the old one serves
// no more. Replaced twice, the cool-down reaches the last successor.
func TestLateTooManyRequestsCoolsTheSuccessor(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			arrived, answer := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				close(arrived)
				<-answer
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			defer srv.Close()
			spec := upstream.Spec{Name: "n", URL: srv.URL, Timeout: 30 * time.Second}
			old := newNode(t, cl.gzip, cl.fast, spec)
			done := make(chan error, 1)
			go func() {
				_, err := old.Call(context.Background(), []byte(`{}`))
				done <- err
			}()
			<-arrived
			spec.Weight = 2
			mid := newNode(t, cl.gzip, cl.fast, spec)
			mid.Inherit(old)
			spec.Weight = 3
			var started []time.Duration
			spec.OnCoolDown = func(n *upstream.Node, d time.Duration, told bool) {
				if !told {
					started = append(started, d)
				}
			}
			last := newNode(t, cl.gzip, cl.fast, spec)
			last.Inherit(mid)
			close(answer)
			var ue *upstream.Error
			if err := <-done; !errors.As(err, &ue) || ue.Kind != upstream.KindRateLimited {
				t.Fatalf("the late answer: %v, want rate_limited", err)
			}
			if d := last.CoolingDown(); d < 25*time.Second || d > 30*time.Second {
				t.Errorf("the node serving now cools down %s, want about 30s", d)
			}
			if last.TryAcquireCalls(upstream.Now(), 1) {
				t.Error("the node serving now takes calls while its provider asked to wait")
			}
			if len(started) != 1 || started[0] != 30*time.Second {
				t.Errorf("OnCoolDown of the node serving now: %v, want once, 30s", started)
			}
		})
	}
}

// A node replaced by one with another URL passes no cool-down on: the
// 429 came from an endpoint the successor does not call.
func TestTooManyRequestsStaysWithTheOldURL(t *testing.T) {
	old := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1"})
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:2"})
	n.Inherit(old)
	old.CoolDown(time.Minute)
	if d := n.CoolingDown(); d != 0 {
		t.Fatalf("a node at another URL cools down %s after its predecessor's 429", d)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"2", 2 * time.Second}, {" 7 ", 7 * time.Second}, {"0", 0}, {"-3", 0}, {"soon", 0},
		{"86400", upstream.MaxCoolDown},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0}, // a date past
	} {
		if got := upstream.RetryAfter(c.in); got != c.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := upstream.RetryAfter(date); got < 80*time.Second || got > 90*time.Second {
		t.Errorf("RetryAfter(%q) = %s, want about 90s", date, got)
	}
}

func TestRateLimitedAnswer(t *testing.T) {
	for _, c := range []struct {
		code int
		msg  string
		want bool
	}{
		{429, "", true},
		{-32005, "daily request count exceeded, request rate limited", true},
		{-32000, "Your app has exceeded its compute units per second capacity", true},
		{-32005, "query returned more than 10000 results", false},
		{3, "execution reverted: rate limit exceeded", false},
		{-32000, "execution reverted: too many requests", false},
		{-32000, "header not found", false},
	} {
		if got := upstream.RateLimitedAnswer(c.code, c.msg); got != c.want {
			t.Errorf("RateLimitedAnswer(%d, %q) = %v, want %v", c.code, c.msg, got, c.want)
		}
		// A node error that cools the node is also one tried elsewhere.
		if c.want && !upstream.Unavailable(c.code, c.msg, false) {
			t.Errorf("Unavailable(%d, %q) = false for a rate limit answer", c.code, c.msg)
		}
	}
}
