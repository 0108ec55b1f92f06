package devnet

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// Config describes a Net. The zero value is usable: three nodes, chain id
// 1337, blocks only on Mine, a temporary data directory, no logs.
type Config struct {
	// Nodes is the number of execution nodes (default 3).
	Nodes int
	// ChainID is the chain id of the genesis (default 1337).
	ChainID uint64
	// BlockPeriod > 0 starts a producer that mines one block every period;
	// 0 produces blocks only on Mine. Block timestamps are
	// max(parent+1, now), so periods under a second run ahead of the clock.
	BlockPeriod time.Duration
	// DataDir holds the nodes' databases and JWT secrets. It must be empty or
	// absent. "" creates a temporary directory that Close removes.
	DataDir string
	// Logger receives the Net's logs and the warnings of each geth node
	// stack; nil discards them. geth's package-level logs go to geth's root
	// logger, which discards by default and which the Net leaves alone.
	Logger *slog.Logger
	// GenesisExtra is the genesis extra data. Two nets that differ only in it
	// have the same chain id but different genesis hashes.
	GenesisExtra []byte
	// GenesisTime is the genesis timestamp; zero means one hour before Start,
	// which leaves room to mine many blocks quickly with rising timestamps.
	GenesisTime uint64
	// LogIndex keeps geth's log index (filter maps). Off by default: it
	// costs more CPU per block than everything else, and eth_getLogs works
	// without it by scanning blocks.
	LogIndex bool
	// Modules, when set, gives the namespaces node i serves on its HTTP
	// and WebSocket endpoints (default: eth, net, web3 and txpool).
	Modules func(i int) []string
	// BuildWait is how long the builder may fill a block after
	// forkchoiceUpdated when transactions are pending (default 100ms).
	BuildWait time.Duration
}

const (
	defaultNodes     = 3
	defaultChainID   = 1337
	defaultBuildWait = 100 * time.Millisecond
	// accountCount is the number of funded accounts; the first is the faucet.
	accountCount = 4
	// genesisGasLimit is the gas limit of the genesis block.
	genesisGasLimit = 30_000_000
)

// differentChainExtra is the genesis extra data of StartDifferentChain.
var differentChainExtra = []byte("evmgate devnet: other chain")

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = defaultNodes
	}
	if c.ChainID == 0 {
		c.ChainID = defaultChainID
	}
	if c.GenesisTime == 0 {
		c.GenesisTime = uint64(time.Now().Add(-time.Hour).Unix())
	}
	if c.BuildWait == 0 {
		c.BuildWait = defaultBuildWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first unusable field.
func (c Config) validate() error {
	if c.Nodes < 1 || c.Nodes > 16 {
		return fmt.Errorf("devnet config: Nodes = %d, want 1..16", c.Nodes)
	}
	if c.BlockPeriod < 0 {
		return errors.New("devnet config: BlockPeriod is negative")
	}
	if c.BuildWait < 0 {
		return errors.New("devnet config: BuildWait is negative")
	}
	if len(c.GenesisExtra) > int(params.MaximumExtraDataSize) {
		return fmt.Errorf("devnet config: GenesisExtra has %d bytes, max %d", len(c.GenesisExtra), params.MaximumExtraDataSize)
	}
	if c.DataDir != "" {
		entries, err := os.ReadDir(c.DataDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("devnet config: reading DataDir: %w", err)
		}
		if len(entries) > 0 {
			return fmt.Errorf("devnet config: DataDir %s is not empty", c.DataDir)
		}
	}
	return nil
}

// Account is a funded dev account.
type Account struct {
	Key     *ecdsa.PrivateKey
	Address common.Address
}

// devAccounts returns the fixed dev accounts; the same keys every run, so
// the demo's faucet address never changes.
func devAccounts() []Account {
	out := make([]Account, accountCount)
	for i := range out {
		seed := crypto.Keccak256([]byte(fmt.Sprintf("evmgate devnet account %d", i)))
		key, err := crypto.ToECDSA(seed)
		if err != nil {
			panic(fmt.Sprintf("devnet: deriving account key: %v", err)) // a keccak output is a valid key
		}
		out[i] = Account{Key: key, Address: crypto.PubkeyToAddress(key.PublicKey)}
	}
	return out
}

// genesis builds a fresh genesis object; every node gets its own copy
// because geth may write into it.
func genesis(cfg Config, accounts []Account) *core.Genesis {
	g := core.DeveloperGenesisBlock(genesisGasLimit, &accounts[0].Address)
	chain := *params.AllDevChainProtocolChanges
	chain.ChainID = new(big.Int).SetUint64(cfg.ChainID)
	chain.BogotaTime = nil
	chain.AmsterdamTime = nil
	g.Config = &chain
	g.Timestamp = cfg.GenesisTime
	g.ExtraData = append([]byte(nil), cfg.GenesisExtra...)
	funds := new(big.Int).Lsh(big.NewInt(1), 100)
	for _, a := range accounts[1:] {
		g.Alloc[a.Address] = types.Account{Balance: new(big.Int).Set(funds)}
	}
	return g
}
