// SPDX-License-Identifier: Apache-2.0

// The v1 end-to-end handshake (portal-v1 §8) and secure channel (§9), written from the spec.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const maxFrame = 1 << 26      // §8.1, §9.3
const maxPlaintext = 1 << 25  // §9.2
const frameOverhead = 12 + 16 // nonce + tag

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func writeLP(w io.Writer, body []byte) error {
	// The original writes the length and the body as two stream writes (§8.1).
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(body)))); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

func readLP(r io.Reader) ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxFrame {
		return nil, fmt.Errorf("length %d above 2^26", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

type initMsg struct {
	nonce, sessionKey []byte
	timestamp         int64
	id                string
	alpn              string
}

// makeInit is §8.2 / §8.4: a fresh X25519 ephemeral, a 12-byte nonce, the signed payload.
func makeInit(who identity, alpn string) (wire []byte, ephemeral []byte, nonce []byte) {
	ephemeral = randomBytes(curve25519.ScalarSize)
	nonce = randomBytes(12)
	pub, err := curve25519.X25519(ephemeral, curve25519.Basepoint)
	if err != nil {
		panic(err)
	}
	p := newMsg(v1.init)
	// version = PROTOCOL_VERSION_1 = 0: proto3 leaves it off the wire.
	set(p, "nonce", protoreflect.ValueOfBytes(nonce))
	set(p, "timestamp", protoreflect.ValueOfInt64(time.Now().Unix()))
	set(p, "identity", protoreflect.ValueOfMessage(who.message()))
	set(p, "alpn", protoreflect.ValueOfString(alpn))
	set(p, "session_public_key", protoreflect.ValueOfBytes(pub))
	return sign(who, marshal(p)), ephemeral, nonce
}

// parseInit checks an init message as §8.3 (server; `alpns` non-nil) or §8.5 (client) does.
func parseInit(body []byte, alpns []string) (initMsg, error) {
	signed, err := unmarshal(body, v1.signed)
	if err != nil {
		return initMsg{}, fmt.Errorf("SignedPayload does not parse: %v", err)
	}
	data := get(signed, "data").Bytes()
	sig := get(signed, "signature").Bytes()
	p := newMsg(v1.init)
	if err := proto.Unmarshal(data, p); err != nil {
		return initMsg{}, fmt.Errorf("init payload does not parse: %v", err)
	}
	if v := get(p, "version").Enum(); v != protocolVersion1 {
		return initMsg{}, fmt.Errorf("version %d", v)
	}
	m := initMsg{nonce: get(p, "nonce").Bytes(), sessionKey: get(p, "session_public_key").Bytes(),
		timestamp: get(p, "timestamp").Int(), alpn: get(p, "alpn").String()}
	if skew := time.Now().Unix() - m.timestamp; skew > 30 || skew < -30 {
		return initMsg{}, fmt.Errorf("timestamp %d is %d s from now", m.timestamp, skew)
	}
	if alpns != nil {
		ok := false
		for _, a := range alpns {
			ok = ok || a == m.alpn
		}
		if !ok {
			return initMsg{}, fmt.Errorf("ALPN %q is not one of %v", m.alpn, alpns)
		}
	}
	id, pub, err := validIdentity(get(p, "identity").Message())
	if err != nil {
		return initMsg{}, err
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), data, sig) {
		return initMsg{}, fmt.Errorf("signature of %s does not verify", id)
	}
	m.id = id
	return m, nil
}

func hkdf32(secret, salt []byte, info string) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, salt, []byte(info)), out); err != nil {
		panic(err)
	}
	return out
}

func concat(a, b []byte) []byte { return append(append([]byte{}, a...), b...) }

// keys is §8.6: (c2s, s2c).
func keys(ephemeral, peerKey, nonceC, nonceS []byte) ([]byte, []byte, error) {
	shared, err := curve25519.X25519(ephemeral, peerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("X25519: %v", err)
	}
	return hkdf32(shared, concat(nonceC, nonceS), handshakeClientKeyInfo),
		hkdf32(shared, concat(nonceS, nonceC), handshakeServerKeyInfo), nil
}

// secureConn is §9 over a stream: one frame per write (pieces of at most 2^25 bytes), reads
// deliver a frame's plaintext as a byte stream.
type secureConn struct {
	rw             io.ReadWriteCloser
	sealer, opener cipherAEAD
	pending        []byte
	peerID         string
}

type cipherAEAD interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}

func newSecure(rw io.ReadWriteCloser, sendKey, recvKey []byte, peer string) *secureConn {
	s, err := chacha20poly1305.New(sendKey)
	if err != nil {
		panic(err)
	}
	o, err := chacha20poly1305.New(recvKey)
	if err != nil {
		panic(err)
	}
	return &secureConn{rw: rw, sealer: s, opener: o, peerID: peer}
}

func (c *secureConn) Write(p []byte) (int, error) {
	written := 0
	for first := true; first || len(p) > 0; first = false {
		n := len(p)
		if n > maxPlaintext {
			n = maxPlaintext
		}
		nonce := randomBytes(12)
		sealed := c.sealer.Seal(nonce, nonce, p[:n], nil)
		frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(sealed))), sealed...)
		if _, err := c.rw.Write(frame); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

func (c *secureConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		body, err := readLP(c.rw)
		if err != nil {
			return 0, err // io.EOF after the last complete frame is the peer's close (§9.4)
		}
		if len(body) < frameOverhead {
			return 0, fmt.Errorf("decryption failed: frame of %d bytes", len(body))
		}
		plain, err := c.opener.Open(nil, body[:12], body[12:], nil)
		if err != nil {
			return 0, fmt.Errorf("decryption failed: %v", err)
		}
		c.pending = plain
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *secureConn) Close() error { return c.rw.Close() }

// handshakeClient is the dialer's side (§8.2, §8.5, §7 step 7).
func handshakeClient(rw io.ReadWriteCloser, who identity, alpn, leaseID string) (*secureConn, error) {
	wire, ephemeral, nonceC := makeInit(who, alpn)
	if err := writeLP(rw, wire); err != nil {
		return nil, fmt.Errorf("sending ClientInit: %v", err)
	}
	body, err := readLP(rw)
	if err != nil {
		return nil, fmt.Errorf("reading ServerInit: %v", err)
	}
	s, err := parseInit(body, nil)
	if err != nil {
		return nil, fmt.Errorf("ServerInit: %v", err)
	}
	c2s, s2c, err := keys(ephemeral, s.sessionKey, nonceC, s.nonce)
	if err != nil {
		return nil, err
	}
	if s.id != leaseID {
		return nil, fmt.Errorf("the server is %s, not the lease %s", s.id, leaseID)
	}
	return newSecure(rw, c2s, s2c, s.id), nil
}

// handshakeServer is the lease holder's side (§8.3, §8.4).
func handshakeServer(rw io.ReadWriteCloser, who identity, alpns []string) (*secureConn, error) {
	body, err := readLP(rw)
	if err != nil {
		return nil, fmt.Errorf("reading ClientInit: %v", err)
	}
	c, err := parseInit(body, alpns)
	if err != nil {
		return nil, fmt.Errorf("ClientInit: %v", err)
	}
	wire, ephemeral, nonceS := makeInit(who, c.alpn)
	c2s, s2c, err := keys(ephemeral, c.sessionKey, c.nonce, nonceS)
	if err != nil {
		return nil, err
	}
	if err := writeLP(rw, wire); err != nil {
		return nil, fmt.Errorf("sending ServerInit: %v", err)
	}
	return newSecure(rw, s2c, c2s, c.id), nil
}
