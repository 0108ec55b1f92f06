package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"
)

// ErrStopped is returned for calls that need a running node.
var ErrStopped = errors.New("devnet: node is stopped")

// rpcModules are the namespaces served on the plain HTTP and WS endpoints.
var rpcModules = []string{"eth", "net", "web3", "txpool"}

// defaultRebindTimeout bounds how long Restart retries binding the old
// ports.
const defaultRebindTimeout = 3 * time.Second

// Node is one in-process geth execution node of a Net.
type Node struct {
	net        *Net
	name       string
	dir        string
	secret     []byte
	secretPath string
	log        *slog.Logger

	mu       sync.Mutex // protects stack, backend, frozen, httpPort, authPort, engine, rpc
	stack    *node.Node
	backend  *eth.Ethereum
	frozen   bool
	httpPort int
	authPort int
	engine   *Driver // Engine API, JWT-authenticated
	rpc      *Driver // plain JSON-RPC

	// imported is the number of the newest Net block this node has accepted
	// through newPayload and forkchoiceUpdated; guarded by Net.mineMu.
	imported uint64
	// modules are the namespaces of the HTTP and WebSocket endpoints.
	modules []string
}

// newNode prepares the node's directory and JWT secret without starting it.
func newNode(n *Net, i int) (*Node, error) {
	nd := &Node{net: n, name: "node" + strconv.Itoa(i), log: n.log.With("node", "node"+strconv.Itoa(i)), modules: rpcModules}
	if n.cfg.Modules != nil {
		nd.modules = n.cfg.Modules(i)
	}
	nd.dir = filepath.Join(n.dir, nd.name)
	if err := os.MkdirAll(nd.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating node directory: %w", err)
	}
	nd.secret = make([]byte, 32)
	if _, err := rand.Read(nd.secret); err != nil {
		return nil, fmt.Errorf("generating jwt secret: %w", err)
	}
	nd.secretPath = filepath.Join(nd.dir, "jwt.hex")
	if err := os.WriteFile(nd.secretPath, []byte(hex.EncodeToString(nd.secret)), 0o600); err != nil {
		return nil, fmt.Errorf("writing jwt secret: %w", err)
	}
	return nd, nil
}

// Name returns "node0", "node1", ...
func (nd *Node) Name() string { return nd.name }

// HTTPURL returns the plain JSON-RPC endpoint, http://127.0.0.1:PORT.
func (nd *Node) HTTPURL() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return "http://127.0.0.1:" + strconv.Itoa(nd.httpPort)
}

// WSURL returns the WebSocket JSON-RPC endpoint (same port as HTTPURL).
func (nd *Node) WSURL() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return "ws://127.0.0.1:" + strconv.Itoa(nd.httpPort)
}

// AuthURL returns the JWT-authenticated Engine API endpoint (engine, eth).
func (nd *Node) AuthURL() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return "http://127.0.0.1:" + strconv.Itoa(nd.authPort)
}

// JWTSecret returns a copy of the node's 32-byte Engine API secret.
func (nd *Node) JWTSecret() []byte { return bytes.Clone(nd.secret) }

// JWTSecretPath returns the hex file holding the node's JWT secret.
func (nd *Node) JWTSecretPath() string { return nd.secretPath }

// Running reports whether the node is up.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.stack != nil
}

// Frozen reports whether the node is skipped by block production.
func (nd *Node) Frozen() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.frozen
}

// Engine returns a Driver for the node's Engine API, or nil before the
// first start. The Net owns it; do not Close it.
func (nd *Node) Engine() *Driver {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.engine
}

// drivers returns the node's engine and plain drivers if it is running.
func (nd *Node) drivers() (engine, rpc *Driver, ok bool) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.engine, nd.rpc, nd.stack != nil
}

// eligible reports whether block production should use the node.
func (nd *Node) eligible() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.stack != nil && !nd.frozen
}

// BlockNumber asks the node for eth_blockNumber over its HTTP endpoint.
func (nd *Node) BlockNumber(ctx context.Context) (uint64, error) {
	_, rpc, ok := nd.drivers()
	if !ok {
		return 0, fmt.Errorf("reading block number of %s: %w", nd.name, ErrStopped)
	}
	raw, err := rpc.Call(ctx, "eth_blockNumber")
	if err != nil {
		return 0, fmt.Errorf("reading block number of %s: %w", nd.name, err)
	}
	var num hexutil.Uint64
	if err := json.Unmarshal(raw, &num); err != nil {
		return 0, fmt.Errorf("decoding block number of %s: %w", nd.name, err)
	}
	return uint64(num), nil
}

// start opens the node on its ports (0 on the first start), retrying for a
// while when a fixed port is still taken.
func (nd *Node) start(ctx context.Context) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.stack != nil {
		return nil
	}
	if nd.net.isClosed() {
		return fmt.Errorf("starting %s: %w", nd.name, ErrClosed)
	}
	deadline := time.Now().Add(nd.net.rebindTimeout)
	backoff := 20 * time.Millisecond
	for {
		err := nd.open()
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return fmt.Errorf("starting %s: %w", nd.name, err)
		}
		nd.log.Debug("port still in use, retrying", "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("starting %s: %w", nd.name, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// open builds and starts the geth stack; the caller holds nd.mu.
func (nd *Node) open() error {
	// geth binds its ports only after the chain database is open, and a
	// failed start leaves the state freezer locked for the rest of the
	// process; so fixed ports are checked first.
	if err := probePorts(nd.httpPort, nd.authPort); err != nil {
		return err
	}
	stack, err := node.New(nd.stackConfig())
	if err != nil {
		return fmt.Errorf("creating node: %w", err)
	}
	ecfg := nd.ethConfig()
	backend, err := eth.New(stack, ecfg)
	if err != nil {
		stack.Close()
		return fmt.Errorf("creating eth backend: %w", err)
	}
	fsys := filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize:  ecfg.FilterLogCacheSize,
		LogQueryLimit: ecfg.LogQueryLimit,
		RangeLimit:    ecfg.RangeLimit,
	})
	// eth_getLogs, eth_newFilter and eth_subscribe live in the filter API,
	// which eth.New does not register.
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fsys)}})
	if err := catalyst.Register(stack, backend); err != nil {
		stack.Close()
		return fmt.Errorf("registering engine api: %w", err)
	}
	if err := stack.Start(); err != nil {
		backend.TxPool().Close()
		backend.BlockChain().Stop()
		stack.Close()
		return fmt.Errorf("starting node: %w", err)
	}
	httpPort, err1 := endpointPort(stack.HTTPEndpoint())
	authPort, err2 := endpointPort(stack.HTTPAuthEndpoint())
	if err := errors.Join(err1, err2); err != nil {
		stack.Close()
		return err
	}
	nd.stack, nd.backend = stack, backend
	if nd.engine == nil || httpPort != nd.httpPort || authPort != nd.authPort {
		nd.closeDrivers()
		nd.httpPort, nd.authPort = httpPort, authPort
		nd.engine = NewDriver("http://127.0.0.1:"+strconv.Itoa(authPort), nd.secret)
		nd.rpc = NewDriver("http://127.0.0.1:"+strconv.Itoa(httpPort), nil)
	}
	return nil
}

func (nd *Node) closeDrivers() {
	if nd.engine != nil {
		nd.engine.Close()
	}
	if nd.rpc != nil {
		nd.rpc.Close()
	}
}

func (nd *Node) stackConfig() *node.Config {
	vhosts := []string{"localhost", "127.0.0.1"}
	return &node.Config{
		Name:              "geth",
		DataDir:           nd.dir,
		UseLightweightKDF: true,
		HTTPHost:          "127.0.0.1",
		HTTPPort:          nd.httpPort,
		HTTPModules:       nd.modules,
		HTTPVirtualHosts:  vhosts,
		WSHost:            "127.0.0.1",
		WSPort:            nd.httpPort,
		WSModules:         nd.modules,
		WSOrigins:         []string{"*"},
		AuthAddr:          "127.0.0.1",
		AuthPort:          nd.authPort,
		AuthVirtualHosts:  vhosts,
		JWTSecret:         nd.secretPath,
		P2P: p2p.Config{
			NoDiscovery: true,
			NoDial:      true,
			MaxPeers:    0,
			ListenAddr:  "",
		},
		Logger: log.NewLogger(gethHandler(nd.log)),
	}
}

func (nd *Node) ethConfig() *ethconfig.Config {
	cfg := ethconfig.Defaults
	cfg.Genesis = genesis(nd.net.cfg, nd.net.accounts)
	cfg.NetworkId = nd.net.cfg.ChainID
	cfg.SyncMode = ethconfig.FullSync
	cfg.TxPool.NoLocals = true
	cfg.DatabaseCache = 16
	cfg.DatabaseHandles = 64
	cfg.TrieCleanCache = 16
	cfg.TrieDirtyCache = 16
	cfg.SnapshotCache = 16
	// Rendering the log index after every block costs more CPU than the
	// rest of the node; without it eth_getLogs scans blocks, which is fast
	// on a short chain.
	cfg.LogNoHistory = !nd.net.cfg.LogIndex
	return &cfg
}

// probePorts reports whether the given non-zero ports can be bound on
// 127.0.0.1 now.
func probePorts(ports ...int) error {
	for _, p := range ports {
		if p == 0 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return fmt.Errorf("probing port %d: %w", p, err)
		}
		ln.Close()
	}
	return nil
}

// endpointPort extracts the port of a "scheme://host:port" endpoint.
func endpointPort(endpoint string) (int, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, fmt.Errorf("parsing endpoint %q: %w", endpoint, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port == 0 {
		return 0, fmt.Errorf("parsing endpoint %q: no port", endpoint)
	}
	return port, nil
}

// Stop shuts the node down and closes its ports; its data stays on disk.
// Block production skips it until Restart.
func (nd *Node) Stop() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.stack == nil {
		return nil
	}
	stack := nd.stack
	nd.stack, nd.backend = nil, nil
	if err := stack.Close(); err != nil {
		return fmt.Errorf("stopping %s: %w", nd.name, err)
	}
	nd.closeDrivers()
	nd.log.Info("node stopped")
	return nil
}

// Restart starts a stopped node on the same data directory and the same
// ports, then imports every block it missed and moves its head to the Net's.
func (nd *Node) Restart(ctx context.Context) error {
	if err := nd.start(ctx); err != nil {
		return err
	}
	nd.log.Info("node restarted")
	if nd.Frozen() {
		return nil
	}
	return nd.net.catchUp(ctx, nd)
}

// Freeze makes block production skip the node, so its head lags.
func (nd *Node) Freeze() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.frozen = true
}

// Unfreeze imports the blocks the node missed and moves its head to the
// Net's head.
func (nd *Node) Unfreeze(ctx context.Context) error {
	nd.mu.Lock()
	nd.frozen = false
	running := nd.stack != nil
	nd.mu.Unlock()
	if !running {
		return nil
	}
	return nd.net.catchUp(ctx, nd)
}

// chainHead returns the node's own head number as stored by geth.
func (nd *Node) chainHead() (uint64, bool) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.backend == nil {
		return 0, false
	}
	return nd.backend.BlockChain().CurrentBlock().Number.Uint64(), true
}

// txIndexDone reports whether the node's transaction indexer has caught up;
// a stopped node counts as done.
func (nd *Node) txIndexDone() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.backend == nil || nd.backend.BlockChain().TxIndexDone()
}
