// Package logbuf writes a process's log with the per-request lines in
// batches.
//
// A line per client request costs a write system call per request when
// written at once, as much as a proxied call's own reads and writes. A
// Writer keeps lines in a buffer instead and writes them together: when
// the buffer fills, and at most Delay after the first line it holds.
// Records logged with the context Later stay in the buffer; every other
// record is written at once, after the lines before it, so warnings and
// errors reach the log when they happen and in order. Close writes what is
// left; lines still buffered when the process dies are lost, at most
// Delay's worth.
package logbuf
