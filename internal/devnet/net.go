package devnet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Net is a private chain of in-process geth nodes driven by an Engine API
// consensus-client role. Its methods are safe for concurrent use.
type Net struct {
	cfg      Config
	log      *slog.Logger
	dir      string
	ownDir   bool
	accounts []Account
	genesis  *types.Block
	nodes    []*Node
	// rebindTimeout bounds Restart's retries on a taken port.
	rebindTimeout time.Duration

	// mineMu serialises block production and catch-ups, and guards every
	// Node.imported and nextBuilder.
	mineMu      sync.Mutex
	nextBuilder int

	mu     sync.Mutex // protects blocks, headCh, closed, branch, finalFloor
	blocks []Block    // blocks[i] has number i+1
	// branch counts reorgs: blocks built after one pay another fee
	// recipient, so a sibling never has the hash of the block it replaces.
	branch uint64
	// finalFloor is the lowest finalized (and safe) block sent after a
	// reorg: finality never moves back.
	finalFloor uint64
	headCh     chan struct{}
	closed     bool
	txMu       sync.Mutex                // serialises transaction sending
	nonces     map[common.Address]uint64 // guarded by txMu
	nextTx     int                       // guarded by txMu
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeMu    sync.Mutex // serialises Close
}

// Start creates the nodes, starts them and, if BlockPeriod > 0, the block
// producer. Close releases everything.
func Start(ctx context.Context, cfg Config) (*Net, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Net{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "devnet"),
		accounts: devAccounts(),
		headCh:   make(chan struct{}),
		nonces:   make(map[common.Address]uint64),

		rebindTimeout: defaultRebindTimeout,
	}
	n.genesis = genesis(cfg, n.accounts).ToBlock()
	if err := n.makeDir(); err != nil {
		return nil, err
	}
	begin := time.Now()
	for i := range cfg.Nodes {
		nd, err := newNode(n, i)
		if err == nil {
			n.nodes = append(n.nodes, nd)
			err = nd.start(ctx)
		}
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("starting devnet: %w", err)
		}
	}
	n.log.Info("devnet started", "nodes", cfg.Nodes, "chain_id", cfg.ChainID,
		"genesis", n.genesis.Hash(), "duration", time.Since(begin))
	pctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if cfg.BlockPeriod > 0 {
		n.wg.Add(1)
		go n.produce(pctx)
	}
	return n, nil
}

// StartDifferentChain starts a Net whose genesis differs from Start's (other
// extra data and timestamp) while the chain id stays the same: its nodes
// know none of the blocks of a regular Net and answer SYNCING to them.
// cfg.Nodes defaults to 1 here.
func StartDifferentChain(ctx context.Context, cfg Config) (*Net, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
	}
	if len(cfg.GenesisExtra) == 0 {
		cfg.GenesisExtra = differentChainExtra
	}
	if cfg.GenesisTime == 0 {
		cfg.GenesisTime = uint64(time.Now().Add(-time.Hour - time.Minute).Unix())
	}
	return Start(ctx, cfg)
}

func (n *Net) makeDir() error {
	if n.cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "evmgate-devnet-")
		if err != nil {
			return fmt.Errorf("creating devnet directory: %w", err)
		}
		n.dir, n.ownDir = dir, true
		return nil
	}
	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating devnet directory: %w", err)
	}
	n.dir = n.cfg.DataDir
	return nil
}

// Close stops the producer and every node, waits for them, and removes a
// temporary data directory. It is safe to call more than once.
func (n *Net) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	n.mu.Lock()
	already := n.closed
	n.closed = true
	n.mu.Unlock()
	if already {
		return nil
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	var errs []error
	for _, nd := range n.nodes {
		errs = append(errs, nd.Stop())
		nd.mu.Lock()
		nd.closeDrivers()
		nd.mu.Unlock()
	}
	if n.ownDir {
		errs = append(errs, os.RemoveAll(n.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing devnet: %w", err)
	}
	return nil
}

func (n *Net) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Nodes returns the nodes, node0 first.
func (n *Net) Nodes() []*Node { return append([]*Node(nil), n.nodes...) }

// ChainID returns the chain id.
func (n *Net) ChainID() uint64 { return n.cfg.ChainID }

// Dir returns the data directory.
func (n *Net) Dir() string { return n.dir }

// GenesisHash returns the hash of block 0.
func (n *Net) GenesisHash() common.Hash { return n.genesis.Hash() }

// Faucet returns the first funded account.
func (n *Net) Faucet() (*ecdsa.PrivateKey, common.Address) {
	return n.accounts[0].Key, n.accounts[0].Address
}

// Accounts returns every funded account; the first is the faucet.
func (n *Net) Accounts() []Account { return append([]Account(nil), n.accounts...) }

// Head returns the number of the newest block the Net produced.
func (n *Net) Head() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return uint64(len(n.blocks))
}

// HeadHash returns the hash of the newest block the Net produced.
func (n *Net) HeadHash() common.Hash {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hashLocked(uint64(len(n.blocks)))
}

// Block returns the produced block with this number (1 and up).
func (n *Net) Block(number uint64) (Block, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if number == 0 || number > uint64(len(n.blocks)) {
		return Block{}, false
	}
	return n.blocks[number-1], true
}

// Forkchoice returns the head, safe and finalized hashes the Net sends with
// forkchoiceUpdated: safe trails the head by 2 blocks, finalized by 4.
func (n *Net) Forkchoice() (head, safe, final common.Hash) {
	n.mu.Lock()
	defer n.mu.Unlock()
	num := uint64(len(n.blocks))
	safe, final = n.safeFinalLocked(num)
	return n.hashLocked(num), safe, final
}

const (
	safeDepth  = 2
	finalDepth = 4
)

// safeFinalLocked returns the safe and finalized hashes for a head at num,
// which may be one past the newest recorded block.
func (n *Net) safeFinalLocked(num uint64) (safe, final common.Hash) {
	back := func(d uint64) uint64 {
		if num < d {
			return 0
		}
		return num - d
	}
	s, f := max(back(safeDepth), n.finalFloor), max(back(finalDepth), n.finalFloor)
	return n.hashLocked(s), n.hashLocked(f)
}

func (n *Net) hashLocked(num uint64) common.Hash {
	if num == 0 {
		return n.genesis.Hash()
	}
	return n.blocks[num-1].Hash
}

// HeadChanged returns a channel closed when the next block is added.
func (n *Net) HeadChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.headCh
}

// WaitHead blocks until the Net's head reaches number or ctx ends.
func (n *Net) WaitHead(ctx context.Context, number uint64) error {
	for {
		n.mu.Lock()
		head, ch := uint64(len(n.blocks)), n.headCh
		n.mu.Unlock()
		if head >= number {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for block %d (head %d): %w", number, head, ctx.Err())
		}
	}
}

// appendBlock records b as the new head and wakes waiters.
func (n *Net) appendBlock(b Block) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocks = append(n.blocks, b)
	close(n.headCh)
	n.headCh = make(chan struct{})
}

// produce mines one block every BlockPeriod until ctx ends.
func (n *Net) produce(ctx context.Context) {
	defer n.wg.Done()
	ticker := time.NewTicker(n.cfg.BlockPeriod)
	defer ticker.Stop()
	failing := false // log a run of failures once, at its start
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		mctx, cancel := context.WithTimeout(ctx, blockTimeout)
		num, err := n.Mine(mctx)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			n.log.Warn("producing blocks failed", "err", err)
			failing = true
		case err != nil:
			n.log.Debug("producing block failed", "err", err)
		default:
			if failing {
				n.log.Info("producing blocks again", "number", num)
			}
			failing = false
			n.log.Debug("block produced", "number", num)
		}
	}
}
