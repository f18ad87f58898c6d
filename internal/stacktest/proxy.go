package stacktest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to Target until stopped; Stop closes the
// listener and every open connection, like a server going away, and Start
// brings it back on the same address.
type Proxy struct {
	T      testing.TB
	Addr   string // listening address; chosen by the first Start if empty
	Target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

// Start listens (again) and forwards connections.
func (p *Proxy) Start() {
	p.T.Helper()
	addr := p.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.T.Fatalf("proxy listen: %v", err)
	}
	p.Addr = ln.Addr().String()
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.Target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// Stop closes the listener and every forwarded connection.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
