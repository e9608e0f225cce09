// SPDX-License-Identifier: Apache-2.0

// An independent Portal v1 client for interop tests, written from the spec
// (/work/shared/spec/portal-v1.md, the original Go code being unavailable) on the libraries the
// original used: gorilla/websocket (Debian's golang-github-gorilla-websocket-dev), hashicorp/yamux
// (golang-github-hashicorp-yamux-dev) with the c6f13b8 settings (§3.7), the Go protobuf runtime
// with a descriptor built in code (wire.go: only the fields the spec defines) and x/crypto.
//
//	v1-client id SEED_HEX
//	    the identity ID of an Ed25519 seed (§5.2)
//	v1-client serve [--alpn LIST] [--connections K] [--timeout S] RELAY_URL SEED_HEX NAME
//	    a lease holder (§6, §7 step 4, §8.3-§8.4): RelayInfo, then a signed LeaseUpdateRequest;
//	    prints `registered ID` or `refused CODE` (exit 3); renews every 5 s with a fresh nonce
//	    (`renewed N`) and pings the relay every 10 s; answers each forwarded ConnectionRequest
//	    ACCEPTED for its own lease (REJECTED otherwise), runs the handshake server and echoes
//	    the decrypted bytes back through the secure channel (`echoed N bytes from ID`); exits 0
//	    after K echoed connections (0: never)
//	v1-client dial [--alpn A] [--bytes N] [--seed HEX] [--timeout S] RELAY_URL LEASE_ID
//	    a dialer (§11.2, §7, §8.2, §8.5): RelayInfo must list the lease (else `not listed`,
//	    exit 3); ConnectionRequest, prints `response CODE` (not ACCEPTED: exit 3); the handshake
//	    client, which requires the server's ID to be LEASE_ID; then N pattern bytes through the
//	    secure channel, a half-close, and the echo read to its end and compared by SHA-256
//	    (`echo ok N SHA256`; a mismatch: exit 4)
//	v1-client tcp-echo [--connections K] [--timeout S]
//	    a TCP echo server on 127.0.0.1:0 (`listening 127.0.0.1:PORT`), half-close after the echo
//	v1-client tcp-send [--bytes N] [--timeout S] HOST:PORT
//	    N pattern bytes over TCP, a half-close, the echo compared (`echo ok N SHA256`; exit 4)
//	v1-client vectors DIR
//	    checks this client's encoders against the spec's vectors (identity.json,
//	    control_packets.json)
//
// Every wait is bounded by --timeout (default 60 s): past it the process exits 1 naming the
// step it was in. Exit status 0 means every check passed; 1 a failure (stderr says which); 3 the
// relay or the lease holder answered something else than ACCEPTED; 4 echoed bytes differ.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// ---- failing, bounded

var (
	stepMu sync.Mutex
	step   = "starting"
)

func setStep(s string) {
	stepMu.Lock()
	step = s
	stepMu.Unlock()
}

func fail(format string, args ...interface{}) {
	// Once leave() ends the session (every echo done), what fails with it is expected: the
	// goroutine waits for leave() to exit 0.
	if atomic.LoadInt32(&leaving) != 0 {
		select {}
	}
	fmt.Fprintf(os.Stderr, "v1-client: "+format+"\n", args...)
	os.Exit(1)
}

func exitWith(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "v1-client: "+format+"\n", args...)
	os.Exit(code)
}

func watchdog(seconds int) {
	if seconds <= 0 {
		return
	}
	time.AfterFunc(time.Duration(seconds)*time.Second, func() {
		stepMu.Lock()
		s := step
		stepMu.Unlock()
		fail("timed out after %d s while %s", seconds, s)
	})
}

// ---- transport: one WebSocket connection carries the yamux byte stream (§2.2)

// wsConn reads the concatenation of the messages' payloads (boundaries ignored, text accepted)
// and writes each write as one binary message, as the original does. Close closes the TCP
// connection without a Close frame (§2.3).
type wsConn struct {
	c      *websocket.Conn
	reader io.Reader
	closed int32 // set by Close: the read error that follows is ours
}

func (w *wsConn) Read(p []byte) (int, error) {
	for {
		if w.reader == nil {
			_, r, err := w.c.NextReader()
			if err != nil {
				// A Close frame or the end of the TCP connection ends the byte stream; say
				// which, since yamux does not log an EOF.
				if atomic.LoadInt32(&w.closed) == 0 {
					fmt.Fprintf(os.Stderr, "v1-client: WebSocket read: %v\n", err)
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			w.reader = r
		}
		n, err := w.reader.Read(p)
		if err == io.EOF {
			w.reader = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (w *wsConn) Write(p []byte) (int, error) {
	if err := w.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsConn) Close() error {
	atomic.StoreInt32(&w.closed, 1)
	return w.c.Close()
}

// yamuxConfig is c6f13b8's (§3.7): Debian's yamux defaults are those values (256 KiB window,
// keepalive every 30 s, 10 s write timeout, backlog 256).
func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = os.Stderr
	return c
}

func connect(url string) *yamux.Session {
	setStep("connecting to " + url)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		if resp != nil {
			fail("WebSocket upgrade to %s: %v (HTTP %d)", url, err, resp.StatusCode)
		}
		fail("WebSocket upgrade to %s: %v", url, err)
	}
	s, err := yamux.Client(&wsConn{c: c}, yamuxConfig())
	if err != nil {
		fail("yamux client: %v", err)
	}
	relayConn = c
	return s
}

// relayConn is the connection connect() made last (each command makes one).
var relayConn *websocket.Conn

// leaving is set by leave(): the session's end that follows is expected, not a failure.
var leaving int32

// leave exits 0 without losing what is still on its way to the relay. Exiting at once would
// close the socket with the relay's last frames (window updates, pings) unread, and the kernel
// then answers with a reset that discards whatever of the echo it had not sent yet. So: a TCP
// half-close after the data, then wait (at most 5 s) for the relay to end the session.
func leave(s *yamux.Session) {
	atomic.StoreInt32(&leaving, 1)
	if tc, ok := relayConn.UnderlyingConn().(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		select {
		case <-s.CloseChan():
		case <-time.After(5 * time.Second):
			fmt.Fprintf(os.Stderr, "v1-client: the relay did not end the session within 5 s of ours\n")
		}
	}
	os.Exit(0)
}

// request opens a new stream, sends one packet, reads one answer and closes the stream (FIN),
// as the SDK does for every request (§4.1). The answer must come within 10 s.
func request(s *yamux.Session, typ int32, payload []byte, want int32) []byte {
	st, err := s.OpenStream()
	if err != nil {
		fail("opening a stream: %v", err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writePacket(st, typ, payload); err != nil {
		fail("writing packet type %d: %v", typ, err)
	}
	got, answer, err := readPacket(st)
	if err != nil {
		fail("answer to packet type %d: %v", typ, err)
	}
	if got != want {
		fail("answer of type %d to packet type %d, want %d", got, typ, want)
	}
	return answer
}

func fetchRelayInfo(s *yamux.Session) relayInfo {
	setStep("asking RelayInfo")
	info, err := parseRelayInfo(request(s, relayInfoRequest, nil, relayInfoResponse))
	if err != nil {
		fail("RelayInfoResponse does not parse: %v", err)
	}
	return info
}

func updateLease(s *yamux.Session, who identity, name string, alpn []string) int32 {
	now := time.Now().Unix()
	payload := leaseUpdatePayload(who, name, alpn, now+30, now, randomBytes(12))
	code, err := parseCode(request(s, leaseUpdateRequest, payload, leaseUpdateResponse))
	if err != nil {
		fail("LeaseUpdateResponse does not parse: %v", err)
	}
	return code
}

// ---- the byte pattern and its check

func pattern(size int) []byte {
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// sendAndCheck writes `size` pattern bytes on `w` while reading the echo from `r`, and
// compares what came back. With `halfClose`, it half-closes after the last byte and reads the
// echo to its end (EOF). Without, it reads exactly `size` bytes: Debian's hashicorp/yamux (a
// 2019 snapshot) returns EOF from Read after a local Close whenever its buffer is momentarily
// empty (v0.1.2, which the spec pins, reads on until the peer's FIN), so a yamux stream is only
// closed once the whole echo is in. v1's own tools never half-close either (§11.6).
func sendAndCheck(w io.Writer, r io.Reader, halfClose func() error, size int) {
	data := pattern(size)
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); off += 64 << 10 {
			end := off + 64<<10
			if end > len(data) {
				end = len(data)
			}
			if _, err := w.Write(data[off:end]); err != nil {
				werr <- err
				return
			}
		}
		if halfClose != nil {
			werr <- halfClose()
			return
		}
		werr <- nil
	}()
	h := sha256.New()
	var n int64
	var err error
	if halfClose != nil {
		n, err = io.Copy(h, r)
	} else {
		n, err = io.CopyN(h, r, int64(size))
	}
	if err != nil {
		fail("reading the echo after %d bytes: %v", n, err)
	}
	if err := <-werr; err != nil {
		fail("sending: %v", err)
	}
	want := sha256.Sum256(data)
	got := h.Sum(nil)
	if n != int64(size) || !bytes.Equal(got, want[:]) {
		exitWith(4, "echo differs: %d bytes, sha256 %x; sent %d bytes, sha256 %x", n, got, size,
			want)
	}
	fmt.Printf("echo ok %d %x\n", n, got)
}

// ---- commands

func cmdID(args []string) {
	if len(args) != 1 {
		fail("usage: id SEED_HEX")
	}
	fmt.Println(identityFromSeed(seedArg(args[0])).id)
}

func seedArg(s string) []byte {
	seed, err := hex.DecodeString(s)
	if err != nil || len(seed) != 32 {
		fail("SEED_HEX must be 32 bytes in hex")
	}
	return seed
}

func cmdServe(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	alpnList := fs.String("alpn", "http/1.1", "comma-separated ALPN list of the lease")
	connections := fs.Int("connections", 0, "exit 0 after this many echoed connections")
	timeout := fs.Int("timeout", 60, "seconds before giving up")
	fs.Parse(args)
	if fs.NArg() != 3 {
		fail("usage: serve [--alpn LIST] [--connections K] [--timeout S] RELAY_URL SEED_HEX NAME")
	}
	watchdog(*timeout)
	url, who, name := fs.Arg(0), identityFromSeed(seedArg(fs.Arg(1))), fs.Arg(2)
	alpns := strings.Split(*alpnList, ",")

	s := connect(url)
	info := fetchRelayInfo(s)
	fmt.Printf("relay %s\n", info.id)
	setStep("registering " + who.id)
	if code := updateLease(s, who, name, alpns); code != codeAccepted {
		fmt.Printf("refused %s\n", codeName(code))
		exitWith(3, "the relay answered the registration of %s with %s", who.id, codeName(code))
	}
	fmt.Printf("registered %s\n", who.id)
	setStep("serving " + who.id)

	// Renewal every 5 s (§6.7) and a health ping every 10 s (§11.4).
	go func() {
		for n := 1; ; n++ {
			time.Sleep(5 * time.Second)
			if code := updateLease(s, who, name, alpns); code != codeAccepted {
				fail("renewal %d answered %s", n, codeName(code))
			}
			fmt.Printf("renewed %d\n", n)
		}
	}()
	go func() {
		for {
			time.Sleep(10 * time.Second)
			if _, err := s.Ping(); err != nil {
				fail("health ping: %v", err)
			}
		}
	}()

	var done int32
	for {
		st, err := s.AcceptStream()
		if err != nil {
			fail("the relay session ended: %v", err)
		}
		go func(st *yamux.Stream) {
			if serveStream(st, who, alpns) && *connections > 0 &&
				atomic.AddInt32(&done, 1) == int32(*connections) {
				leave(s)
			}
		}(st)
	}
}

// serveStream is §7 step 4 and §8.3-§8.4 on a stream the relay opened; true once the echo is
// complete.
func serveStream(st *yamux.Stream, who identity, alpns []string) bool {
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	typ, payload, err := readPacket(st)
	if err != nil || typ != connectionRequest {
		fmt.Fprintf(os.Stderr, "v1-client: a relay stream without a ConnectionRequest (type %d, %v)\n",
			typ, err)
		return false
	}
	req, err := unmarshal(payload, v1.connReq)
	if err != nil {
		fmt.Fprintf(os.Stderr, "v1-client: ConnectionRequest does not parse: %v\n", err)
		return false
	}
	leaseID := get(req, "lease_id").String()
	code := int32(codeAccepted)
	if leaseID != who.id {
		code = codeRejected
	}
	fmt.Printf("request %s %s\n", leaseID, codeName(code))
	if err := writePacket(st, connectionResponse, codePayload(code)); err != nil || code != codeAccepted {
		return false
	}
	sc, err := handshakeServer(st, who, alpns)
	if err != nil {
		fail("handshake (server): %v", err)
	}
	st.SetDeadline(time.Time{})
	n, err := io.Copy(sc, sc)
	if err != nil {
		fail("echo to %s after %d bytes: %v", sc.peerID, n, err)
	}
	fmt.Printf("echoed %d bytes from %s\n", n, sc.peerID)
	return true
}

func cmdDial(args []string) {
	fs := flag.NewFlagSet("dial", flag.ExitOnError)
	alpn := fs.String("alpn", "http/1.1", "ALPN asked in the handshake")
	size := fs.Int("bytes", 1<<20, "bytes sent and expected back")
	seedHex := fs.String("seed", "", "the dialer's seed (default: a new identity)")
	timeout := fs.Int("timeout", 60, "seconds before giving up")
	fs.Parse(args)
	if fs.NArg() != 2 {
		fail("usage: dial [--alpn A] [--bytes N] [--seed HEX] [--timeout S] RELAY_URL LEASE_ID")
	}
	watchdog(*timeout)
	url, leaseID := fs.Arg(0), fs.Arg(1)
	who := randomIdentity()
	if *seedHex != "" {
		who = identityFromSeed(seedArg(*seedHex))
	}

	s := connect(url)
	info := fetchRelayInfo(s)
	if _, ok := info.leases[leaseID]; !ok {
		fmt.Println("not listed")
		exitWith(3, "relay %s does not list lease %s (%d leases): no available relay", info.id,
			leaseID, len(info.leases))
	}
	setStep("requesting a connection to " + leaseID)
	st, err := s.OpenStream()
	if err != nil {
		fail("opening a stream: %v", err)
	}
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writePacket(st, connectionRequest, connectionRequestPayload(leaseID, who)); err != nil {
		fail("writing the ConnectionRequest: %v", err)
	}
	typ, payload, err := readPacket(st)
	if err != nil || typ != connectionResponse {
		fail("answer to the ConnectionRequest: type %d, %v", typ, err)
	}
	code, err := parseCode(payload)
	if err != nil {
		fail("ConnectionResponse does not parse: %v", err)
	}
	fmt.Printf("response %s\n", codeName(code))
	if code != codeAccepted {
		st.Close()
		exitWith(3, "the connection to %s was answered %s", leaseID, codeName(code))
	}
	setStep("handshaking with " + leaseID)
	sc, err := handshakeClient(st, who, *alpn, leaseID)
	if err != nil {
		fail("handshake (client): %v", err)
	}
	fmt.Printf("handshake ok %s\n", sc.peerID)
	st.SetDeadline(time.Time{})
	setStep(fmt.Sprintf("sending %d bytes to %s and reading the echo", *size, leaseID))
	sendAndCheck(sc, sc, nil, *size)
	// Close the stream (FIN), then ping: the answer comes after the relay has read the FIN, and
	// Session.Close drops frames still queued.
	setStep("closing the stream to " + leaseID)
	st.Close()
	if _, err := s.Ping(); err != nil {
		fail("ping after the echo: %v", err)
	}
	s.Close()
}

func cmdTCPEcho(args []string) {
	fs := flag.NewFlagSet("tcp-echo", flag.ExitOnError)
	connections := fs.Int("connections", 0, "exit 0 after this many echoed connections")
	timeout := fs.Int("timeout", 60, "seconds before giving up")
	fs.Parse(args)
	watchdog(*timeout)
	setStep("echoing TCP")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("listening %s\n", l.Addr())
	var done int32
	for {
		c, err := l.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go func(c *net.TCPConn) {
			defer c.Close()
			n, err := io.Copy(c, c)
			if err != nil {
				fail("echo after %d bytes: %v", n, err)
			}
			c.CloseWrite()
			fmt.Printf("echoed %d bytes\n", n)
			if *connections > 0 && atomic.AddInt32(&done, 1) == int32(*connections) {
				os.Exit(0)
			}
		}(c.(*net.TCPConn))
	}
}

func cmdTCPSend(args []string) {
	fs := flag.NewFlagSet("tcp-send", flag.ExitOnError)
	size := fs.Int("bytes", 1<<20, "bytes sent and expected back")
	timeout := fs.Int("timeout", 60, "seconds before giving up")
	fs.Parse(args)
	if fs.NArg() != 1 {
		fail("usage: tcp-send [--bytes N] [--timeout S] HOST:PORT")
	}
	watchdog(*timeout)
	setStep("connecting to " + fs.Arg(0))
	c, err := net.DialTimeout("tcp", fs.Arg(0), 10*time.Second)
	if err != nil {
		fail("connect: %v", err)
	}
	tc := c.(*net.TCPConn)
	setStep(fmt.Sprintf("sending %d bytes to %s and reading the echo", *size, fs.Arg(0)))
	sendAndCheck(tc, tc, tc.CloseWrite, *size)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: v1-client id|serve|dial|tcp-echo|tcp-send|vectors ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "id":
		cmdID(args)
	case "serve":
		cmdServe(args)
	case "dial":
		cmdDial(args)
	case "tcp-echo":
		cmdTCPEcho(args)
	case "tcp-send":
		cmdTCPSend(args)
	case "vectors":
		cmdVectors(args)
	default:
		fail("unknown command %q", os.Args[1])
	}
}
