package httpserver

import (
	"errors"
	"net"
	"sync"
	"time"
)

// An acceptor owns a listening socket across reloads. Its one accept loop
// hands each connection to the server attached last that is still open,
// through that server's own [net.Listener] ([feed]); so when a reload
// replaces the server, the new one attaches to the acceptor it inherited
// ([Server.ExportState]) and gets the new connections at once, and the old
// one's Shutdown closes only its feed, never the socket. The socket closes
// when the last feed does.
type acceptor struct {
	addr    string // the address the socket was opened for, as configured
	ln      net.Listener
	done    chan struct{} // closed when the accept loop has returned
	closing chan struct{} // closed when the last feed detached

	mu     sync.Mutex
	feeds  []*feed // attached, oldest first
	closed bool    // the socket is closed: no more feeds
}

// newAcceptor takes over ln, opened for addr (as configured: ":0" too),
// attaches a first feed, and starts the accept loop.
func newAcceptor(addr string, ln net.Listener) (*acceptor, *feed) {
	a := &acceptor{addr: addr, ln: ln, done: make(chan struct{}), closing: make(chan struct{})}
	f, _ := a.attach() // a new acceptor is open
	go a.loop()
	return a, f
}

// errAcceptorClosed: the acceptor's socket closed before a server could
// attach; the server opens a socket of its own.
var errAcceptorClosed = errors.New("httpserver: inherited listener closed")

// attach returns a new feed that gets the acceptor's connections from now
// on, until it is closed.
func (a *acceptor) attach() (*feed, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errAcceptorClosed
	}
	f := &feed{a: a, conns: make(chan net.Conn), closed: make(chan struct{})}
	a.feeds = append(a.feeds, f)
	return f, nil
}

// target returns the feed attached last, or nil when none is.
func (a *acceptor) target() *feed {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.feeds) == 0 {
		return nil
	}
	return a.feeds[len(a.feeds)-1]
}

// detach closes f and removes it, at once for target; the last feed to go
// closes the socket and waits for the accept loop to end.
func (a *acceptor) detach(f *feed) error {
	a.mu.Lock()
	close(f.closed)
	for i, g := range a.feeds {
		if g == f {
			a.feeds = append(a.feeds[:i], a.feeds[i+1:]...)
			break
		}
	}
	last := len(a.feeds) == 0 && !a.closed
	if last {
		a.closed = true
	}
	a.mu.Unlock()
	if !last {
		return nil
	}
	close(a.closing)
	err := a.ln.Close()
	<-a.done
	return err
}

// loop accepts until the socket closes, handing each connection over. As
// net/http's Serve, it waits and retries after an error that is not the
// socket's end (too many open files), from 5ms doubling up to 1s.
func (a *acceptor) loop() {
	defer close(a.done)
	var backoff time.Duration
	for {
		c, err := a.ln.Accept()
		if err == nil {
			backoff = 0
			a.deliver(c)
			continue
		}
		if !errors.Is(err, net.ErrClosed) {
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
				continue
			case <-a.closing: // detach closes the socket: Accept ends at once
				t.Stop()
				continue
			}
		}
		a.mu.Lock()
		a.closed = true
		feeds := a.feeds
		a.mu.Unlock()
		for _, f := range feeds { // closed under servers still attached: they stop serving
			f.fail(err)
		}
		return
	}
}

// deliver hands c to the current target, or closes it when no server is
// attached any more.
func (a *acceptor) deliver(c net.Conn) {
	for {
		f := a.target()
		if f == nil {
			_ = c.Close() // nobody serves it: the client sees the connection closed
			return
		}
		select {
		case f.conns <- c:
			return
		case <-f.closed: // closed meanwhile: try the next one
		}
	}
}

// A feed is the [net.Listener] one server's http.Server accepts from: the
// connections its acceptor hands it. Closing it detaches it.
type feed struct {
	a      *acceptor
	conns  chan net.Conn // unbuffered: a connection is handed over only to a server in Accept
	once   sync.Once
	closed chan struct{}
	err    error // why the socket failed, set before closed is closed
}

// Accept waits for the next connection.
func (f *feed) Accept() (net.Conn, error) {
	select {
	case c := <-f.conns:
		select {
		case <-f.closed: // closed while handing over: another server takes it
			f.a.deliver(c)
			return nil, f.closeErr()
		default:
			return c, nil
		}
	case <-f.closed:
		return nil, f.closeErr()
	}
}

func (f *feed) closeErr() error {
	if f.err != nil {
		return f.err
	}
	return net.ErrClosed
}

// Close detaches the feed; the last one closes the socket.
func (f *feed) Close() error {
	var err error
	f.once.Do(func() { err = f.a.detach(f) })
	return err
}

// fail ends the feed with the socket's error.
func (f *feed) fail(err error) {
	f.once.Do(func() {
		f.err = err
		close(f.closed)
	})
}

// Addr returns the socket's address.
func (f *feed) Addr() net.Addr { return f.a.ln.Addr() }
