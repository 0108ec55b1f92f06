// Package connlimit bounds the connections a listener holds: in total (a
// connection over the limit waits in the kernel's backlog until one closes,
// golang.org/x/net/netutil.LimitListener) and per client IP (a connection
// over the limit is closed as soon as it is accepted). IPv6 clients are
// counted per /64, the block one host usually owns.
//
// Per-IP figures are exported only as the top ten addresses by open
// connections, computed at each scrape, so a metric never takes one label
// value per client.
package connlimit
