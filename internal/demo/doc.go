// Package demo runs `evmgate demo`: three real go-ethereum nodes in this
// process producing a block every second (one of them lagging now and then),
// a transaction every two seconds, and the gateway in front of them on its
// embedded default configuration. It is the first thing a new user runs.
package demo
