package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
)

// fakes starts n fake nodes on 127.0.0.1, prints their URLs one a line and
// serves until ctx ends. Running them in their own process keeps their CPU
// time apart from the proxy's and the load generator's.
func fakes(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakes", flag.ContinueOnError)
	n := fs.Int("n", 2, "number of fake nodes")
	chain := fs.Uint64("chain", 1, "chain id the nodes report")
	head := fs.Uint64("head", 1000, "head the nodes report")
	big := fs.Int("big", blockSize, "size in bytes of an eth_getBlockByNumber answer (0: small)")
	finalized := fs.Uint64("finalized", 0, "block the nodes name for the \"finalized\" tag (0: none named)")
	slowEvery := fs.Int("slow-every", 0, "every Nth request to a node waits -slow first (0: none)")
	slow := fs.Duration("slow", 0, "extra wait of every -slow-every-th request")
	slowNodes := fs.Int("slow-nodes", 16, "how many of the nodes (the first ones) -slow-every applies to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 16 {
		return fmt.Errorf("-n %d: use 1 to 16 nodes", *n)
	}
	if *finalized > *head {
		return fmt.Errorf("-finalized %d: use a block at or below -head %d", *finalized, *head)
	}
	if *slowEvery < 0 || *slow < 0 || *slow > 10*time.Second {
		return fmt.Errorf("-slow-every %d -slow %s: use N ≥ 0 and a wait of 0 to 10s", *slowEvery, *slow)
	}
	var nodes []*fakenode.Node
	defer func() {
		for _, nd := range nodes {
			nd.Close()
		}
	}()
	for i := range *n {
		o := fakenode.Options{
			Name: fmt.Sprintf("fake-%d", i+1), ChainID: *chain, Head: *head, BigBlock: *big,
			Finalized: *finalized, SlowDelay: *slow,
		}
		if i < *slowNodes {
			o.SlowEvery = *slowEvery
		}
		nd, err := fakenode.Start(o)
		if err != nil {
			return fmt.Errorf("starting fake node %d: %w", i+1, err)
		}
		nodes = append(nodes, nd)
		fmt.Fprintln(stdout, nd.URL())
	}
	<-ctx.Done()
	return nil
}
