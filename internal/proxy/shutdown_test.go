package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStopCallsAnswersCallsInFlight: calls waiting on a node over the
// pooled client with a short try (whose context it does not watch) when
// StopCalls ends the calls and the node is interrupted: a single call and
// a batch are answered 503 with Retry-After and -32056 with their ids, the
// node's tries end (the node sees its requests end), the node is not
// blamed, the slots are back, and Stopped counts the three calls.
func TestStopCallsAnswersCallsInFlight(t *testing.T) {
	r := newAbandonRig(t)
	r.f.Record("eth_call")
	srv := httptest.NewUnstartedServer(r.h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return r.h.Base() }
	srv.Start()
	defer srv.Close()

	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	post := func(body string, out chan<- answer) {
		resp, err := http.Post(srv.URL+"/eth", "application/json", strings.NewReader(body))
		if err != nil {
			out <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
	}
	single, batch := make(chan answer, 1), make(chan answer, 1)
	go post(`{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"to":"0x01"},"latest"]}`, single)
	go post(`[{"jsonrpc":"2.0","id":8,"method":"eth_call","params":[{"to":"0x02"},"latest"]},`+
		`{"jsonrpc":"2.0","id":"nine","method":"eth_call","params":[{"to":"0x03"},"latest"]}]`, batch)
	within(t, 10*time.Second, "the three calls at the node", func() bool { return len(r.f.Arrivals("eth_call")) == 3 })

	r.h.StopCalls()
	for _, n := range r.net.Pool.Nodes() {
		n.Interrupt()
	}
	type member struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	check := func(what string, a answer, ids ...string) {
		t.Helper()
		var ms []member
		body := a.body
		if !strings.HasPrefix(body, "[") {
			body = "[" + body + "]"
		}
		if a.status != http.StatusServiceUnavailable || a.retryAfter != "1" || json.Unmarshal([]byte(body), &ms) != nil || len(ms) != len(ids) {
			t.Fatalf("%s: %d Retry-After %q %s, want 503 with Retry-After 1 and %d answers", what, a.status, a.retryAfter, a.body, len(ids))
		}
		for i, m := range ms {
			if m.Error.Code != -32056 || string(m.ID) != ids[i] {
				t.Fatalf("%s: answer %d is %s, want -32056 with id %s", what, i, a.body, ids[i])
			}
		}
	}
	for _, c := range []struct {
		what string
		ch   <-chan answer
		ids  []string
	}{{"single call", single, []string{"7"}}, {"batch", batch, []string{"8", `"nine"`}}} {
		select {
		case a := <-c.ch:
			check(c.what, a, c.ids...)
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s still waits after StopCalls", c.what)
		}
	}
	within(t, 10*time.Second, "the node's held calls ended by their requests", func() bool { return r.f.GaveUp("eth_call") == 2 })
	if ok, errs := r.seen.onlyCanceled(); !ok {
		t.Fatalf("the node was judged on %v, want only canceled tries", errs)
	}
	if held := r.sl.held.Load(); held != 0 {
		t.Fatalf("%d slots still held", held)
	}
	if answered, cut := r.h.Stopped(); answered != 3 || cut != 0 {
		t.Fatalf("Stopped: %d answered, %d cut; want 3 and 0", answered, cut)
	}
}

// A batch some of whose calls were answered (here from the cache) when
// StopCalls ends the others keeps 200: a client that retries a 503 whole
// would send the answered calls again (a transaction that went through,
// sent twice). Its stopped calls get -32056.
func TestStopCallsKeepsAnsweredBatch(t *testing.T) {
	f := newFake(t)
	f.Record("eth_call")
	f.Hold("eth_call")
	t.Cleanup(func() { f.Release("eth_call") })
	h, cnet, _ := cachedNet(t, f, 100)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return h.Base() }
	srv.Start()
	defer srv.Close()
	post := func(body string) (int, string, string) {
		resp, err := http.Post(srv.URL+"/c", "application/json", strings.NewReader(body))
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	if code, _, body := post(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`); code != 200 || !strings.Contains(body, `"result"`) {
		t.Fatalf("eth_chainId: %d %s", code, body)
	}
	type answer struct {
		code             int
		retryAfter, body string
	}
	done := make(chan answer, 1)
	go func() {
		code, ra, body := post(`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},` +
			`{"jsonrpc":"2.0","id":2,"method":"eth_call","params":[{"to":"0x02"},"latest"]}]`)
		done <- answer{code, ra, body}
	}()
	within(t, 10*time.Second, "the batch's eth_call at the node", func() bool { return len(f.Arrivals("eth_call")) == 1 })
	h.StopCalls()
	for _, n := range cnet.Pool.Nodes() {
		n.Interrupt()
	}
	var a answer
	select {
	case a = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch still waits after StopCalls")
	}
	var ms []struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if a.code != http.StatusOK || a.retryAfter != "" || json.Unmarshal([]byte(a.body), &ms) != nil || len(ms) != 2 {
		t.Fatalf("%d Retry-After %q %s, want 200 without Retry-After and two answers", a.code, a.retryAfter, a.body)
	}
	if ms[0].Result == nil || ms[0].Error != nil || ms[1].Error == nil || ms[1].Error.Code != -32056 {
		t.Fatalf("answers %s, want the cached chain id and -32056 for eth_call", a.body)
	}
}
