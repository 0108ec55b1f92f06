package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/fakenode"
)

// The figures of docs/benchmarks-ws.md. Run with:
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/ws/

// helperEnv makes the test binary a process of idle WebSocket clients, so
// their memory is not counted with the gateway's.
const helperEnv = "EVMGATE_WS_CLIENTS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		runClients(spec)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runClients opens the connections of "url count", prints "ready", then on
// each "subscribe" line subscribes every connection to newHeads and prints
// "subscribed"; it exits when stdin closes.
func runClients(spec string) {
	f := strings.Fields(spec)
	count, _ := strconv.Atoi(f[1])
	conns := make([]*websocket.Conn, count)
	for i := range conns {
		c, _, err := websocket.Dial(context.Background(), f[0], nil)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		conns[i] = c
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		for _, c := range conns {
			body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
			if err := c.Write(context.Background(), websocket.MessageText, body); err != nil {
				fmt.Println("error", err)
				return
			}
			if _, _, err := c.Read(context.Background()); err != nil {
				fmt.Println("error", err)
				return
			}
		}
		fmt.Println("subscribed")
	}
}

// liveBytes returns the live heap and goroutine stacks after a GC.
func liveBytes() uint64 {
	heap, stack := liveParts()
	return heap + stack
}

func liveParts() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

// BenchmarkMemoryPerConnection measures the gateway's memory (live heap and
// stacks) per idle client connection and per newHeads subscription; the
// clients run in another process.
func BenchmarkMemoryPerConnection(b *testing.B) {
	const count = 2000
	n := startNet(b, 1, 0)
	g := startGateway(b, gatewayYAML(n, allWS, ""))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+wsURL(g)+" "+strconv.Itoa(count))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expectLine := func(want string) {
		if !lines.Scan() || lines.Text() != want {
			b.Fatalf("client process: %q, want %q", lines.Text(), want)
		}
	}
	// One subscription first, so the shared upstream subscription is not counted per client.
	warm := dialWS(b, wsURL(g))
	warm.subscribe("newHeads")
	baseHeap, baseStack := liveParts()
	base := baseHeap + baseStack
	expectLine("ready")
	waitFor(b, "connections", 30*time.Second, func() bool {
		return metric(b, g.Registry(), "evmgate_ws_connections", nil) == count+1
	})
	idleHeap, idleStack := liveParts()
	idle := idleHeap + idleStack
	b.Logf("per idle connection: heap %d B, goroutine stacks %d B", (idleHeap-baseHeap)/count, (idleStack-baseStack)/count)
	fmt.Fprintln(stdin, "subscribe")
	expectLine("subscribed")
	subscribed := liveBytes()
	perConn := float64(idle-base) / count
	perSub := float64(int64(subscribed)-int64(idle)) / count
	b.ReportMetric(perConn, "B/idle-conn")
	b.ReportMetric(perSub, "B/subscription")
	b.Logf("%d connections: %.0f B each idle, %.0f B more per newHeads subscription", count, perConn, perSub)
}

// BenchmarkNotificationFanout1000 measures, for each block, the time from
// a node's newHeads notification (seen by a client subscribed directly to
// the node) to the moment the last of 1,000 clients subscribed through the
// gateway has it. Clients, gateway and node share this process.
func BenchmarkNotificationFanout1000(b *testing.B) {
	const clients, blocks = 1000, 120
	n := startNet(b, 1, 150*time.Millisecond)
	g := startGateway(b, gatewayYAML(n, allWS, ""))
	direct := dialWS(b, n.Nodes()[0].WSURL())
	_, dch := direct.subscribe("newHeads")

	var mu sync.Mutex
	last := map[string]time.Time{} // block hash → when the last client got it
	firstClient := map[string]time.Time{}
	counts := map[string]int{}      // block hash → clients that got it
	first := map[string]time.Time{} // block hash → when the node's notification arrived
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range clients {
		c := dialRaw(b, wsURL(g), 0)
		body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
		if err := c.Write(ctx, websocket.MessageText, body); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				i := bytes.Index(msg, []byte(`"hash":"`))
				if i < 0 {
					continue
				}
				hash := string(msg[i+8 : i+8+66])
				mu.Lock()
				counts[hash]++
				if counts[hash] == 1 {
					firstClient[hash] = now
				}
				if counts[hash] == clients {
					last[hash] = now
				}
				mu.Unlock()
			}
		}()
	}
	for range blocks {
		raw := next(b, dch, "direct header")
		h := decodeHeader(b, raw)
		mu.Lock()
		first[h.Hash] = time.Now()
		mu.Unlock()
	}
	// Wait until the last block has reached every client (bounded).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := len(last) >= len(first)
		mu.Unlock()
		if done {
			break
		}
	}
	cancel()
	wg.Wait()
	var lat, lat1 []time.Duration
	for hash, t0 := range first {
		if t1, ok := last[hash]; ok {
			lat = append(lat, t1.Sub(t0))
			lat1 = append(lat1, firstClient[hash].Sub(t0))
		}
	}
	slices.Sort(lat1)
	if len(lat) < blocks/2 {
		b.Fatalf("only %d of %d blocks reached all clients", len(lat), blocks)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	b.ReportMetric(float64(p50.Microseconds()), "µs-p50")
	b.ReportMetric(float64(p99.Microseconds()), "µs-p99")
	b.Logf("%d blocks to %d clients: node notification → last client p50 %v, p99 %v, max %v; → first client p50 %v",
		len(lat), clients, p50, p99, lat[len(lat)-1], lat1[len(lat1)/2])
}

// BenchmarkCalls compares calls/s over one client WebSocket (64 calls in
// flight) with HTTP (64 concurrent keep-alive clients), through the same
// gateway to the same fake node.
func BenchmarkCalls(b *testing.B) {
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	g := startGateway(b, "log_level: WARN\nlog_requests: false\nnetworks:\n  - name: dev\n    local_nodes:\n      - rpc_endpoint: "+
		strconv.Quote(f.URL())+"\n")
	const inFlight = 64
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	b.Run("websocket", func(b *testing.B) {
		c := dialRaw(b, wsURL(g), 0)
		tokens := make(chan struct{}, inFlight)
		done := make(chan error, 1)
		go func() {
			for range b.N {
				if _, _, err := c.Read(context.Background()); err != nil {
					done <- err
					return
				}
				<-tokens
			}
			done <- nil
		}()
		b.ResetTimer()
		for range b.N {
			tokens <- struct{}{}
			if err := c.Write(context.Background(), websocket.MessageText, body); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("http", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}}
		url := g.RPCURL() + "/dev"
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					resp, err := client.Post(url, "application/json", strings.NewReader(string(body)))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}
