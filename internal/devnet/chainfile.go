package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
)

// chainModules are the namespaces a ChainNode serves on its HTTP endpoint.
var chainModules = []string{"eth", "net", "web3", "debug", "txpool", "testing"}

// chainIndexWait bounds how long StartFromChain waits for geth's transaction
// indexer after the import.
const chainIndexWait = 20 * time.Second

// ChainNode is one in-process geth node loaded from a genesis file and an
// RLP chain file, as hive's rpc-compat simulator loads its clients. Nothing
// produces blocks on it; callers drive it through HTTPURL and AuthURL.
type ChainNode struct {
	dir     string
	secret  []byte
	stack   *node.Node
	backend *eth.Ethereum
	http    string
	auth    string
	head    uint64

	closeOnce sync.Once
	closeErr  error
}

// StartFromChain starts a geth node whose genesis is genesisJSON (geth's
// genesis file format), imports every block of chainRLP (blocks RLP-encoded
// back to back) and waits until the transactions are indexed. The node
// listens on 127.0.0.1 only: plain HTTP JSON-RPC with the eth, net, web3,
// debug, txpool and testing namespaces, and the JWT-authenticated Engine
// API. A nil logger discards the node's logs.
func StartFromChain(ctx context.Context, genesisJSON, chainRLP []byte, logger *slog.Logger) (*ChainNode, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	gen := new(core.Genesis)
	if err := json.Unmarshal(genesisJSON, gen); err != nil {
		return nil, fmt.Errorf("decoding genesis: %w", err)
	}
	if gen.Config == nil || gen.Config.ChainID == nil {
		return nil, errors.New("decoding genesis: no chain id")
	}
	blocks, err := decodeChain(chainRLP)
	if err != nil {
		return nil, err
	}
	cn := &ChainNode{}
	if err := cn.open(gen, logger); err != nil {
		cn.Close()
		return nil, err
	}
	if err := cn.importChain(ctx, blocks); err != nil {
		cn.Close()
		return nil, err
	}
	logger.Info("chain node started", "chain_id", gen.Config.ChainID, "head", cn.head, "http", cn.http)
	return cn, nil
}

// decodeChain reads RLP-encoded blocks until the input ends.
func decodeChain(chainRLP []byte) ([]*types.Block, error) {
	stream := rlp.NewStream(bytes.NewReader(chainRLP), 0)
	var blocks []*types.Block
	for {
		b := new(types.Block)
		err := stream.Decode(b)
		if errors.Is(err, io.EOF) {
			return blocks, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding block %d of chain file: %w", len(blocks)+1, err)
		}
		blocks = append(blocks, b)
	}
}

// open creates the data directory and JWT secret and starts the stack.
func (cn *ChainNode) open(gen *core.Genesis, logger *slog.Logger) error {
	dir, err := os.MkdirTemp("", "devnet-chain-")
	if err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	cn.dir = dir
	cn.secret = make([]byte, 32)
	if _, err := rand.Read(cn.secret); err != nil {
		return fmt.Errorf("generating jwt secret: %w", err)
	}
	secretPath := filepath.Join(dir, "jwt.hex")
	if err := os.WriteFile(secretPath, []byte(hex.EncodeToString(cn.secret)), 0o600); err != nil {
		return fmt.Errorf("writing jwt secret: %w", err)
	}
	stack, err := node.New(chainStackConfig(dir, secretPath, logger))
	if err != nil {
		return fmt.Errorf("creating node: %w", err)
	}
	cn.stack = stack
	ecfg := ethconfig.Defaults
	ecfg.Genesis = gen
	ecfg.NetworkId = gen.Config.ChainID.Uint64()
	ecfg.SyncMode = ethconfig.FullSync
	ecfg.TxPool.NoLocals = true
	ecfg.LogNoHistory = true
	backend, err := eth.New(stack, &ecfg)
	if err != nil {
		return fmt.Errorf("creating eth backend: %w", err)
	}
	cn.backend = backend
	fsys := filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize:  ecfg.FilterLogCacheSize,
		LogQueryLimit: ecfg.LogQueryLimit,
		RangeLimit:    ecfg.RangeLimit,
	})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fsys)}})
	if err := catalyst.Register(stack, backend); err != nil {
		return fmt.Errorf("registering engine api: %w", err)
	}
	if err := stack.Start(); err != nil {
		return fmt.Errorf("starting node: %w", err)
	}
	httpPort, err1 := endpointPort(stack.HTTPEndpoint())
	authPort, err2 := endpointPort(stack.HTTPAuthEndpoint())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	cn.http = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	cn.auth = "http://127.0.0.1:" + strconv.Itoa(authPort)
	return nil
}

func chainStackConfig(dir, secretPath string, logger *slog.Logger) *node.Config {
	vhosts := []string{"localhost", "127.0.0.1"}
	return &node.Config{
		Name:              "geth",
		DataDir:           dir,
		UseLightweightKDF: true,
		HTTPHost:          "127.0.0.1",
		HTTPModules:       chainModules,
		HTTPVirtualHosts:  vhosts,
		AuthAddr:          "127.0.0.1",
		AuthVirtualHosts:  vhosts,
		JWTSecret:         secretPath,
		P2P:               p2p.Config{NoDiscovery: true, NoDial: true, MaxPeers: 0, ListenAddr: ""},
		Logger:            log.NewLogger(gethHandler(logger)),
	}
}

// importChain inserts the blocks and waits for the transaction index.
func (cn *ChainNode) importChain(ctx context.Context, blocks []*types.Block) error {
	bc := cn.backend.BlockChain()
	if n, err := bc.InsertChain(blocks); err != nil {
		return fmt.Errorf("importing block %d of chain file: %w", n+1, err)
	}
	cn.head = bc.CurrentBlock().Number.Uint64()
	deadline := time.Now().Add(chainIndexWait)
	for !bc.TxIndexDone() {
		if time.Now().After(deadline) {
			return errors.New("waiting for transaction index: timed out")
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for transaction index: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// HTTPURL returns the plain JSON-RPC endpoint, http://127.0.0.1:PORT.
func (cn *ChainNode) HTTPURL() string { return cn.http }

// AuthURL returns the JWT-authenticated Engine API endpoint.
func (cn *ChainNode) AuthURL() string { return cn.auth }

// JWTSecret returns a copy of the node's 32-byte Engine API secret.
func (cn *ChainNode) JWTSecret() []byte { return bytes.Clone(cn.secret) }

// Head returns the number of the newest imported block.
func (cn *ChainNode) Head() uint64 { return cn.head }

// Close stops the node and removes its data directory. It is safe to call
// more than once.
func (cn *ChainNode) Close() error {
	cn.closeOnce.Do(func() {
		var errs []error
		if cn.stack != nil {
			errs = append(errs, cn.stack.Close())
		}
		if cn.dir != "" {
			errs = append(errs, os.RemoveAll(cn.dir))
		}
		if err := errors.Join(errs...); err != nil {
			cn.closeErr = fmt.Errorf("closing chain node: %w", err)
		}
	})
	return cn.closeErr
}
