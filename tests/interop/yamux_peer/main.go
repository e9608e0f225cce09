// SPDX-License-Identifier: Apache-2.0

// An independent yamux peer for interop tests: hashicorp/yamux (Debian's
// golang-github-hashicorp-yamux-dev) speaking over standard input and output.
//
//	yamux-peer server                  accept streams, echo each, half-close after the echo
//	yamux-peer client STREAMS BYTES    open STREAMS streams concurrently, send BYTES on each,
//	                                   half-close, read the echo back, compare SHA-256 digests
//
// Both modes ping the other side once. Exit status 0 means every check passed.
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/hashicorp/yamux"
)

type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error {
	os.Stdout.Close()
	return os.Stdin.Close()
}

func pattern(stream, size int) []byte {
	b := make([]byte, size)
	x := uint32(stream)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "yamux-peer: "+format+"\n", args...)
	os.Exit(1)
}

func config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = os.Stderr
	return c
}

func server() {
	s, err := yamux.Server(stdio{}, config())
	if err != nil {
		fail("server: %v", err)
	}
	if _, err := s.Ping(); err != nil {
		fail("ping: %v", err)
	}
	var wg sync.WaitGroup
	for {
		st, err := s.AcceptStream()
		if err != nil {
			break // the other side closed the session: done
		}
		wg.Add(1)
		go func(st *yamux.Stream) {
			defer wg.Done()
			if _, err := io.Copy(st, st); err != nil {
				fail("echo: %v", err)
			}
			st.Close() // FIN after the echo: a half-close in the other direction
		}(st)
	}
	wg.Wait()
}

func client(streams, size int) {
	s, err := yamux.Client(stdio{}, config())
	if err != nil {
		fail("client: %v", err)
	}
	if _, err := s.Ping(); err != nil {
		fail("ping: %v", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := s.OpenStream()
			if err != nil {
				fail("open: %v", err)
			}
			data := pattern(i, size)
			go func() {
				if _, err := st.Write(data); err != nil {
					fail("write %d: %v", i, err)
				}
			}()
			// Read the whole echo before half-closing: this 2019 snapshot of hashicorp/yamux
			// returns EOF from Read after a local Close() whenever its buffer is momentarily empty
			// (fixed by v0.1.2, which the spec pins), so reading after Close would truncate.
			back := make([]byte, size)
			if _, err := io.ReadFull(st, back); err != nil {
				fail("read %d: %v", i, err)
			}
			st.Close() // half-close: the peer answers with its own FIN
			if rest, err := io.ReadAll(st); err != nil || len(rest) != 0 {
				fail("stream %d: expected a clean EOF after the echo, got %d bytes, %v", i, len(rest), err)
			}
			want := sha256.Sum256(data)
			got := sha256.Sum256(back)
			if !bytes.Equal(want[:], got[:]) || len(back) != size {
				fail("stream %d: echo differs (%d of %d bytes)", i, len(back), size)
			}
		}(i)
	}
	wg.Wait()
	// ReadAll above may end early (the snapshot's EOF-after-Close bug), before our FINs were
	// even sent, and Close drops frames still queued. A ping goes out after every FIN and its
	// answer comes back only after the peer has read them, so the session closes cleanly.
	if _, err := s.Ping(); err != nil {
		fail("final ping: %v", err)
	}
	s.Close()
	fmt.Fprintf(os.Stderr, "yamux-peer: %d streams of %d bytes echoed\n", streams, size)
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "server" {
		server()
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "client" {
		n, err1 := strconv.Atoi(os.Args[2])
		size, err2 := strconv.Atoi(os.Args[3])
		if err1 != nil || err2 != nil {
			fail("usage: yamux-peer client STREAMS BYTES")
		}
		client(n, size)
		return
	}
	fail("usage: yamux-peer server | client STREAMS BYTES")
}
