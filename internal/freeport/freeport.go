// Package freeport picks TCP ports on 127.0.0.1 for servers whose
// configuration names a fixed port (the tests' and benchmarks' evmgate
// processes).
//
// A port the kernel hands out for 127.0.0.1:0 comes from the ephemeral
// range, which is also where every outgoing connection takes its local
// port: between the pick and the server's bind, a client elsewhere on the
// machine may take it. So ports are drawn at random below that range, and
// one is handed out at most once per process.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port drawn.
const lowest = 20000

var (
	mu       sync.Mutex // mu protects given
	given    = map[int]bool{}
	ceilOnce sync.Once
	ceil     int // ports drawn are below it: the start of the ephemeral range
)

// Pick returns a TCP port free on 127.0.0.1 now, not handed out before by
// this process.
func Pick() (int, error) {
	ceilOnce.Do(func() { ceil = ephemeralStart() })
	mu.Lock()
	defer mu.Unlock()
	if ceil-lowest >= 1000 {
		for range 200 {
			p := lowest + rand.IntN(ceil-lowest)
			if given[p] {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				continue
			}
			ln.Close()
			given[p] = true
			return p, nil
		}
	}
	// No room below the ephemeral range: let the kernel choose.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	given[p] = true
	return p, nil
}

// ephemeralStart reads the first port of the kernel's ephemeral range
// (Linux); elsewhere it assumes IANA's, 49152.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 49152
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 49152
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 49152
	}
	return n
}
