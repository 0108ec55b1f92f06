package connlimit

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// acceptAll accepts on ln and sends each connection on the channel.
func acceptAll(t *testing.T, ln net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ch
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPerIPRefusesOverTheLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, Options{PerIP: 2, Metrics: m, Name: "rpc"})
	accepted := acceptAll(t, ln)
	addr := raw.Addr().String()
	first, second := dial(t, addr), dial(t, addr)
	a1, a2 := <-accepted, <-accepted
	third := dial(t, addr)
	_ = third.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := third.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("the third connection from one address: %v, want it closed", err)
	}
	if got := testutil.ToFloat64(m.refusedTotal.WithLabelValues("rpc", "per_ip")); got != 1 {
		t.Errorf("refused = %v", got)
	}
	if top := ln.(*Listener).Top(10); len(top) != 1 || top[0] != (Client{"127.0.0.1", 2}) {
		t.Errorf("top = %v", top)
	}
	if n, err := testutil.GatherAndCount(reg, "evmgate_listener_top_client_connections"); err != nil || n != 1 {
		t.Errorf("top gauge series = %d, %v", n, err)
	}
	// A closed connection frees its slot.
	a1.Close()
	first.Close()
	dial(t, addr)
	if c := <-accepted; c == nil {
		t.Fatal("no connection after a slot was freed")
	}
	_, _ = second, a2
	if got := testutil.ToFloat64(m.open.WithLabelValues("rpc")); got != 2 {
		t.Errorf("open = %v", got)
	}
}

func TestMaxWaitsForAFreeSlot(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, Options{Max: 1})
	accepted := acceptAll(t, ln)
	dial(t, raw.Addr().String())
	a1 := <-accepted
	dial(t, raw.Addr().String())
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted over max")
	case <-time.After(100 * time.Millisecond):
	}
	a1.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting connection was not accepted once a slot was free")
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5":               "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:80": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.9]:1":      "192.0.2.9",
	} {
		a, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientKey(a); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
