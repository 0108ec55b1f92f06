package connlimit

import (
	"net"
	"sync"
)

// Options bound a listener. Zero values turn a limit off.
type Options struct {
	// Max is the most connections open at once.
	Max int
	// PerIP is the most connections open at once from one client address.
	PerIP int
	// Metrics, when set, counts open and refused connections.
	Metrics *Metrics
	// Name labels the listener in metrics ("rpc").
	Name string
}

// Listener counts the connections of a wrapped listener by client address.
type Listener struct {
	net.Listener
	o Options

	mu   sync.Mutex     // mu protects open
	open map[string]int // open connections by client key, none at zero

	// slots holds a token per open connection when Max is set: Accept
	// waits for one before accepting, so connections over the limit wait
	// in the kernel's backlog.
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*Listener)(nil)

// Wrap bounds ln as o says. The result's Accept never returns a connection
// over the per-IP limit: it closes it and accepts the next.
func Wrap(ln net.Listener, o Options) net.Listener {
	l := &Listener{Listener: ln, o: o, open: map[string]int{}, done: make(chan struct{})}
	if o.Metrics != nil {
		o.Metrics.add(o.Name, l)
	}
	if o.Max > 0 {
		l.slots = make(chan struct{}, o.Max)
	}
	return l
}

// Close closes the listener; an Accept waiting for a slot returns.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Accept returns the next connection within the per-IP limit.
func (l *Listener) Accept() (net.Conn, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.freeSlot()
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		if l.admit(key) {
			return &conn{Conn: c, l: l, key: key}, nil
		}
		c.Close()
		l.o.Metrics.refused(l.o.Name, "per_ip")
	}
}

func (l *Listener) freeSlot() {
	if l.slots != nil {
		<-l.slots
	}
}

func (l *Listener) admit(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.o.PerIP > 0 && l.open[key] >= l.o.PerIP {
		return false
	}
	l.open[key]++
	l.o.Metrics.opened(l.o.Name, 1)
	return true
}

func (l *Listener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	l.o.Metrics.opened(l.o.Name, -1)
	l.freeSlot()
}

// Open is the number of connections open from the client key (an IPv4
// address, or an IPv6 /64 such as "2001:db8:1:2::/64").
func (l *Listener) Open(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[key]
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	key  string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// clientKey is the address connections are counted under.
func clientKey(a net.Addr) string {
	var ip net.IP
	switch t := a.(type) {
	case *net.TCPAddr:
		ip = t.IP
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return host
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// CloseWrite half-closes the connection when the one it wraps can (a
// server answering early then waits for the client to stop sending).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the connection it wraps.
func (c *conn) NetConn() net.Conn { return c.Conn }
