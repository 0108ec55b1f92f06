package demo

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

//go:embed demo.yaml
var defaultConfig string

// Options set where the demo listens.
type Options struct {
	Port        int // JSON-RPC port on 127.0.0.1 (0: a free port)
	MetricsPort int // metrics and status port on 127.0.0.1 (0: a free port)
	// LagEvery freezes the lagging node this often, for as long (default 20s).
	LagEvery time.Duration
}

// Demo is a running demo.
type Demo struct {
	Net     *devnet.Net
	Gateway *gateway.Gateway
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Config returns the demo's gateway configuration for nodes at the given
// HTTP and WebSocket URLs.
func Config(urls, wsURLs []string, port, metricsPort int) (*config.Config, error) {
	text := defaultConfig
	for i, u := range urls {
		text = strings.ReplaceAll(text, "${NODE"+strconv.Itoa(i)+"}", u)
		text = strings.ReplaceAll(text, "${NODE"+strconv.Itoa(i)+"_WS}", wsURLs[i])
	}
	text = strings.ReplaceAll(text, "${PORT}", strconv.Itoa(port))
	text = strings.ReplaceAll(text, "${METRICS_PORT}", strconv.Itoa(metricsPort))
	return config.Parse([]byte(text), func(string) (string, bool) { return "", false })
}

// Start runs the nodes, the traffic and the gateway.
func Start(ctx context.Context, o Options, log *slog.Logger) (*Demo, error) {
	if o.LagEvery <= 0 {
		o.LagEvery = 20 * time.Second
	}
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 3, BlockPeriod: time.Second})
	if err != nil {
		return nil, fmt.Errorf("starting the demo nodes: %w", err)
	}
	var urls, wsURLs []string
	for _, nd := range net.Nodes() {
		urls = append(urls, nd.HTTPURL())
		wsURLs = append(wsURLs, nd.WSURL())
	}
	cfg, err := Config(urls, wsURLs, o.Port, o.MetricsPort)
	if err != nil {
		net.Close()
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	g, err := startGateway(ctx, cfg, o, log)
	if err != nil {
		net.Close()
		return nil, err
	}
	d := &Demo{Net: net, Gateway: g}
	bg, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.sendTransfers(bg, log) }()
	go func() { defer d.wg.Done(); d.lag(bg, net.Nodes()[2], o.LagEvery, log) }()
	return d, nil
}

func startGateway(ctx context.Context, cfg *config.Config, o Options, log *slog.Logger) (*gateway.Gateway, error) {
	g, err := gateway.New(cfg, log)
	if err != nil {
		return nil, err
	}
	rpcLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1:%d: %w (pick another port with -port)", o.Port, err)
	}
	metricsLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.MetricsPort)))
	if err != nil {
		rpcLn.Close()
		return nil, fmt.Errorf("listening on 127.0.0.1:%d: %w (pick another port with -metrics-port)", o.MetricsPort, err)
	}
	if err := g.Serve(ctx, rpcLn, metricsLn); err != nil {
		rpcLn.Close()
		metricsLn.Close()
		return nil, err
	}
	return g, nil
}

// sendTransfers sends a small transfer every two seconds, so blocks carry
// real transactions.
func (d *Demo) sendTransfers(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := d.Net.SendTransfer(ctx, to, big.NewInt(1e15)); err != nil && ctx.Err() == nil {
			log.Debug("demo transfer failed", "err", err)
		}
	}
}

// lag freezes the node for a while, then lets it catch up, again and again:
// the gateway takes it out of rotation and back.
func (d *Demo) lag(ctx context.Context, nd *devnet.Node, every time.Duration, log *slog.Logger) {
	for {
		if !sleep(ctx, every) {
			return
		}
		nd.Freeze()
		log.Info("demo: node frozen, it will lag behind", "node", nd.Name())
		if !sleep(ctx, every) {
			return
		}
		if err := nd.Unfreeze(ctx); err != nil && ctx.Err() == nil {
			log.Warn("demo: unfreezing failed", "node", nd.Name(), "err", err)
		}
		log.Info("demo: node caught up", "node", nd.Name())
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close stops the traffic, the gateway and the nodes.
func (d *Demo) Close() error {
	d.cancel()
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gerr := d.Gateway.Close(ctx)
	nerr := d.Net.Close()
	if gerr != nil {
		return gerr
	}
	return nerr
}

// PrintIntro tells the user where to look and what to try.
func (d *Demo) PrintIntro(w io.Writer) {
	rpc := d.Gateway.RPCURL() + "/devnet"
	wsURL := "ws" + strings.TrimPrefix(rpc, "http")
	m := d.Gateway.MetricsURL()
	fmt.Fprintf(w, `
evmgate demo: three go-ethereum nodes (chain id %d), a block every second,
node2 lagging every other 20 s, and the gateway in front of them.

  JSON-RPC     %s
  WebSocket    %s   (eth_subscribe is pushed by the nodes)
  REST API     %s/blocknumber   (also /gasprice, /blockbynumber, /ws/…, /socket2socket)
  status       %s/status      (page: %s/status/page)
  metrics      %s/metrics

Funded accounts of this local chain, for your wallet or scripts.
THROWAWAY KEYS: they are public and only for this demo chain; never send real funds to them.
`, d.Net.ChainID(), rpc, wsURL, rpc, m, m, m)
	accounts := d.Net.Accounts()[1:] // the first one sends the demo's own transfers
	for _, a := range accounts {
		fmt.Fprintf(w, "  address %s  private key 0x%x\n", a.Address.Hex(), crypto.FromECDSA(a.Key))
	}
	key := fmt.Sprintf("0x%x", crypto.FromECDSA(accounts[0].Key))
	fmt.Fprintf(w, `
Try:
  curl -s -X POST %[1]s -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
  cast block-number --rpc-url %[1]s
  cast send --rpc-url %[1]s --private-key %[2]s 0x000000000000000000000000000000000000dEaD --value 0.01ether

  // ethers v6 (npm install ethers)
  const provider = new ethers.JsonRpcProvider("%[1]s");
  const wallet = new ethers.Wallet("%[2]s", provider);
  await (await wallet.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: ethers.parseEther("0.01") })).wait();
  new ethers.WebSocketProvider("%[3]s").on("block", (n) => console.log("block", n));

Ctrl-C stops it.
`, rpc, key, wsURL)
}
