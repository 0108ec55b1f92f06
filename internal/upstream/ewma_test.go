package upstream_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/upstream"
)

const ms = float64(time.Millisecond)

// near reports whether got is within rel (relative) of want. Stamps are
// kept in ticks of about 1ms and estimates as float32, so exact equality
// is not expected.
func near(got time.Duration, want, rel float64) bool {
	return math.Abs(float64(got)-want) <= rel*want
}

// sec is t seconds on the estimators' clock, offset from zero so that no
// test starts at the origin.
func sec(t float64) int64 { return int64(1e9 * (100 + t)) }

// TestPeakEWMA walks one estimate through a peak, its decay and the fade
// between samples, on injected time.
func TestPeakEWMA(t *testing.T) {
	var e upstream.PeakEWMA
	if _, ok := e.Value(sec(0)); ok {
		t.Fatal("a new estimate has a value")
	}
	e.Fade(0.5) // nothing to fade yet
	if _, ok := e.Value(sec(0)); ok {
		t.Fatal("Fade gave a new estimate a value")
	}
	tau := upstream.LatencyDecay.Seconds()
	e1 := math.Exp(-1)
	steps := []struct {
		name   string
		at     float64       // seconds
		sample time.Duration // 0: no sample, only read
		want   float64       // estimate read at the same time, ns
	}{
		{"first sample is the estimate", 0, 10 * time.Millisecond, 10 * ms},
		{"a peak is taken at once", 0.001, 50 * time.Millisecond, 50 * ms},
		{"read one τ later: faded towards zero", 0.001 + tau, 0, 50 * ms * e1},
		{"a lower sample one τ later moves it 63% of the way", 0.001 + tau, 10 * time.Millisecond, 50*ms*e1 + 10*ms*(1-e1)},
		{"a lower sample right after moves it at least AnswerWeight", 0.002 + tau, 10 * time.Millisecond,
			(50*ms*e1+10*ms*(1-e1))*(1-upstream.AnswerWeight) + 10*ms*upstream.AnswerWeight},
	}
	for _, s := range steps {
		if s.sample > 0 {
			e.Observe(sec(s.at), s.sample)
		}
		got, ok := e.Value(sec(s.at))
		if !ok || !near(got, s.want, 0.01) {
			t.Fatalf("%s: estimate %v, want %v", s.name, got, time.Duration(s.want))
		}
	}
}

// TestPeakEWMARecovers: a node that answered in 30ms and now answers in
// 10ms is back within 25% of 10ms after a few τ at one answer a second,
// and within a few dozen answers at a thousand a second.
func TestPeakEWMARecovers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval float64 // seconds between answers
		within   int     // answers
	}{
		{"one answer a second", 1, 5},
		{"a thousand answers a second", 0.001, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e upstream.PeakEWMA
			e.Observe(sec(0), 30*time.Millisecond)
			n := 0
			for at := tc.interval; ; at += tc.interval {
				e.Observe(sec(at), 10*time.Millisecond)
				n++
				if v, _ := e.Value(sec(at)); v <= 12500*time.Microsecond {
					t.Logf("back within 25%% after %d answers (%.3fs)", n, at)
					break
				}
				if n == tc.within {
					v, _ := e.Value(sec(at))
					t.Fatalf("after %d answers the estimate is %v", n, v)
				}
			}
		})
	}
}

// TestPeakEWMAOrder: an update with an earlier clock reading than the one
// stored (a concurrent update won the race) neither moves the stamp back
// nor counts as a long gap.
func TestPeakEWMAOrder(t *testing.T) {
	var e upstream.PeakEWMA
	e.Observe(sec(2), 10*time.Millisecond)
	e.Observe(sec(1), 5*time.Millisecond)
	want := 10*ms*(1-upstream.AnswerWeight) + 5*ms*upstream.AnswerWeight
	if got, _ := e.Value(sec(2)); !near(got, want, 0.001) {
		t.Fatalf("estimate %v, want %v", got, time.Duration(want))
	}
}

// TestPeakEWMAWraps: the 32-bit stamp wraps after about 52 days of
// process time; gaps across the wrap are still read right.
func TestPeakEWMAWraps(t *testing.T) {
	var e upstream.PeakEWMA
	wrap := int64(1) << 52
	e.Observe(wrap-int64(time.Millisecond), 10*time.Millisecond)
	got, _ := e.Value(wrap + int64(upstream.LatencyDecay))
	if !near(got, 10*ms*math.Exp(-1), 0.01) {
		t.Fatalf("one τ across the wrap: %v, want %v", got, time.Duration(10*ms*math.Exp(-1)))
	}
}

func TestPeakEWMAFade(t *testing.T) {
	var e upstream.PeakEWMA
	e.Observe(sec(0), 100*time.Millisecond)
	e.Fade(0.9)
	e.Fade(0.9)
	if got, _ := e.Value(sec(0)); !near(got, 81*ms, 0.001) {
		t.Fatalf("faded twice by 0.9: %v", got)
	}
	// The stamp is the last sample's: the time fade still counts from it.
	if got, _ := e.Value(sec(1)); !near(got, 81*ms*math.Exp(-1), 0.01) {
		t.Fatalf("one τ later: %v", got)
	}
}

// TestPeakEWMAConcurrent: concurrent samples are never lost to a torn
// update: a peak observed among many lower samples is the estimate.
func TestPeakEWMAConcurrent(t *testing.T) {
	var e upstream.PeakEWMA
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				e.Observe(sec(0), time.Duration(1+(g*1000+i)%7)*time.Millisecond)
			}
		}()
	}
	wg.Wait()
	e.Observe(sec(0), time.Second)
	if got, _ := e.Value(sec(0)); got != time.Second {
		t.Fatalf("estimate %v after a 1s peak", got)
	}
}

func TestRate(t *testing.T) {
	var r upstream.Rate
	if r.Value(sec(0)) != 0 {
		t.Fatal("a new rate counts something")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				r.Add(sec(0))
			}
		}()
	}
	wg.Wait()
	if got := r.Value(sec(0)); got != 8000 {
		t.Fatalf("8000 concurrent events counted as %v", got)
	}
	w := upstream.RateWindow.Seconds()
	if got := r.Value(sec(w)); math.Abs(got-8000*math.Exp(-1)) > 8 {
		t.Fatalf("one window later: %v, want %v", got, 8000*math.Exp(-1))
	}

	// A steady 100 events a second counts about 100 × RateWindow.
	var steady upstream.Rate
	for at := 0.0; at < 6*w; at += 0.01 {
		steady.Add(sec(at))
	}
	if got, want := steady.Value(sec(6*w)), 100*w; math.Abs(got-want) > 0.03*want {
		t.Fatalf("steady 100/s: %v, want about %v", got, want)
	}
}

// TestObserveAnswer: an answer is a sample; a node fault counts as at
// least FailurePenalty; a client that went away counts for nothing.
func TestObserveAnswer(t *testing.T) {
	newN := func() *upstream.Node { return upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1"}) }

	n := newN()
	n.ObserveAnswer(time.Millisecond, &upstream.Error{Kind: upstream.KindCanceled, Err: context.Canceled})
	n.ObserveAnswer(time.Millisecond, errors.New("not a node error"))
	if _, ok := upstream.RawAnswerTime(n); ok {
		t.Fatal("a cancelled try gave an estimate")
	}
	n.ObserveAnswer(3*time.Millisecond, nil)
	if got, _ := upstream.RawAnswerTime(n); !near(got, 3*ms, 0.001) {
		t.Fatalf("after a 3ms answer: %v", got)
	}
	for _, k := range []upstream.Kind{upstream.KindDial, upstream.KindTimeout, upstream.KindStatus, upstream.KindTransport} {
		n := newN()
		n.ObserveAnswer(time.Millisecond, &upstream.Error{Kind: k, Err: errors.New("x")})
		if got, _ := upstream.RawAnswerTime(n); got < upstream.FailurePenalty {
			t.Errorf("%s after 1ms: estimate %v, want at least %v", k, got, upstream.FailurePenalty)
		}
	}
	slow := newN()
	slow.ObserveAnswer(3*time.Second, &upstream.Error{Kind: upstream.KindTimeout, Err: errors.New("x")})
	if got, _ := upstream.RawAnswerTime(slow); !near(got, 3e9, 0.001) {
		t.Errorf("timeout after 3s: estimate %v", got)
	}
}

// TestDoTimesAnswers: every Do, over either client or a custom transport
// (a node's WebSocket), feeds the estimate; a refused connection is a
// penalty.
func TestDoTimesAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: srv.URL})
			if _, err := n.Call(context.Background(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got, ok := upstream.RawAnswerTime(n); !ok || got <= 0 || got >= upstream.FailurePenalty {
				t.Fatalf("after one answer: %v, %v", got, ok)
			}
		})
	}
	t.Run("transport", func(t *testing.T) {
		n := upstream.New(upstream.Spec{Name: "n", URL: "http://node.invalid/", Transport: roundTrip(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
		})})
		if _, err := n.Call(context.Background(), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, ok := upstream.RawAnswerTime(n); !ok {
			t.Fatal("a call over the transport gave no estimate")
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		n := newNode(t, false, true, upstream.Spec{Name: "n", URL: "http://" + addr})
		if _, err := n.Call(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "dial") {
			t.Fatalf("call to a closed port: %v", err)
		}
		if got, _ := upstream.RawAnswerTime(n); got < upstream.FailurePenalty {
			t.Fatalf("after a refused connection: %v", got)
		}
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSlowMethodTriesAreNotTimed: a try marked SlowMethod (a method with a
// method_timeouts entry) leaves the node's answer time as it was when it
// answers, over either client and through TryContext with the other mark
// too; its failure counts as FailurePenalty, not as the time it took.
func TestSlowMethodTriesAreNotTimed(t *testing.T) {
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	const hold = `{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x1"]}`
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: f.URL(), Timeout: 10 * time.Second})
			slow := upstream.SlowMethod(upstream.Interruptible(context.Background()))
			tctx, end := n.TryContext(slow, time.Minute)
			_, err := n.Call(tctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
			end()
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := upstream.RawAnswerTime(n); ok {
				t.Fatalf("a slow method's answer set the estimate to %v", got)
			}

			f.Hold("trace_block")
			defer f.Release("trace_block")
			tctx, end = n.TryContext(slow, 1500*time.Millisecond)
			_, err = n.Call(tctx, []byte(hold))
			end()
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Kind != upstream.KindTimeout {
				t.Fatalf("a held try failed with %v, want a timeout", err)
			}
			if got, ok := upstream.RawAnswerTime(n); !ok || !near(got, float64(upstream.FailurePenalty), 0.01) {
				t.Fatalf("after a slow method's try timed out at 1.5 s: estimate %v (%v), want %v", got, ok, upstream.FailurePenalty)
			}

		})
	}
}
