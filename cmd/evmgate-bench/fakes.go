package main

import (
	"context"
	"flag"
	"fmt"
	"io"

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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 16 {
		return fmt.Errorf("-n %d: use 1 to 16 nodes", *n)
	}
	var nodes []*fakenode.Node
	defer func() {
		for _, nd := range nodes {
			nd.Close()
		}
	}()
	for i := range *n {
		nd, err := fakenode.Start(fakenode.Options{
			Name: fmt.Sprintf("fake-%d", i+1), ChainID: *chain, Head: *head, BigBlock: *big,
		})
		if err != nil {
			return fmt.Errorf("starting fake node %d: %w", i+1, err)
		}
		nodes = append(nodes, nd)
		fmt.Fprintln(stdout, nd.URL())
	}
	<-ctx.Done()
	return nil
}
