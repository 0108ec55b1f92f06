//go:build !nodemo

package main

import (
	"context"
	"testing"

	"github.com/evmgate/evmgate/internal/devnet"
)

// minedNode starts a one-node go-ethereum devnet, stopped when the test
// ends, and mines its first block.
func minedNode(ctx context.Context, t *testing.T) *devnet.Node {
	t.Helper()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	if _, err := net.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	return net.Nodes()[0]
}
