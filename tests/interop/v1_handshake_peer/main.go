// SPDX-License-Identifier: Apache-2.0

// An independent Portal v1 handshake peer for interop tests, on the real Go protobuf runtime
// (Debian's golang-google-protobuf-dev) and Go's crypto. It knows the spec's v1 messages only
// (portal-v1 §4.6, §8: InitPayload fields 1-6, proto3), described by a descriptor built here and
// parsed with proto.Unmarshal, the unmarshal that generated code runs. So it reads our messages
// the way an original Go v1 peer does: field 15 (the negotiated channel's capabilities, ADR 0014)
// is unknown to it.
//
//	v1-handshake-peer verify-client-init WIRE_HEX [NOW]
//	    a lease holder's checks of portal-v1 §8.3 (version, ±30 s against this machine's clock or NOW,
//	    identity, signature over `data` as received) plus nonce and session key sizes; prints
//	    one JSON line with the parsed fields and the unknown fields kept by the parser
//	v1-handshake-peer make-server-init CLIENT_WIRE_HEX SEED_HEX EPHEMERAL_HEX NONCE_HEX TIMESTAMP [NOW]
//	    the same checks, then the v1 answer (§8.4) signed with SEED and the v1 keys (§8.6);
//	    prints one JSON line: server_wire_hex, key_c2s_hex, key_s2c_hex
//	v1-handshake-peer open-frame KEY_HEX WIRE_HEX
//	    opens one v1 secure-channel frame (§9.1, ChaCha20-Poly1305); prints the plaintext in hex
//	v1-handshake-peer seal-frame KEY_HEX NONCE_HEX PLAINTEXT_HEX
//	    seals one v1 frame; prints its wire bytes in hex
//
// Exit status 0 means every check passed; otherwise stderr says which one failed.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const maxMessage = 1 << 26 // portal-v1 §8.1

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "v1-handshake-peer: "+format+"\n", args...)
	os.Exit(1)
}

// ---- the v1 schema (portal-v1 §4.6, §8.2, §8.4), exactly fields 1-6 of InitPayload

func field(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type,
	typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		JsonName: proto.String(name),
		Number:   proto.Int32(number),
		Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:     typ.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

type schema struct {
	signed, init, identity protoreflect.MessageDescriptor
}

func v1Schema() schema {
	const (
		tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tEnum    = descriptorpb.FieldDescriptorProto_TYPE_ENUM
		tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("rdsec_v1_interop.proto"),
		Package: proto.String("rdsec"),
		Syntax:  proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("ProtocolVersion"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("PROTOCOL_VERSION_1"), Number: proto.Int32(0)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Identity"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("id", 1, tString, ""),
					field("public_key", 2, tBytes, ""),
				},
			},
			{
				Name: proto.String("SignedPayload"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("data", 1, tBytes, ""),
					field("signature", 2, tBytes, ""),
				},
			},
			{
				Name: proto.String("InitPayload"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("version", 1, tEnum, ".rdsec.ProtocolVersion"),
					field("nonce", 2, tBytes, ""),
					field("timestamp", 3, tInt64, ""),
					field("identity", 4, tMessage, ".rdsec.Identity"),
					field("alpn", 5, tString, ""),
					field("session_public_key", 6, tBytes, ""),
				},
			},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		fail("building the v1 descriptor: %v", err)
	}
	msgs := fd.Messages()
	return schema{
		identity: msgs.ByName("Identity"),
		signed:   msgs.ByName("SignedPayload"),
		init:     msgs.ByName("InitPayload"),
	}
}

var v1 = v1Schema()

func get(m protoreflect.Message, name protoreflect.Name) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(name))
}

func set(m protoreflect.Message, name protoreflect.Name, v protoreflect.Value) {
	m.Set(m.Descriptor().Fields().ByName(name), v)
}

// ---- identities (portal-v1 §5.2, §5.3)

func deriveID(pub []byte) string {
	mac := hmac.New(sha256.New, []byte("RDVERB_PROTOCOL_VER_01_SHA256_ID"))
	mac.Write(pub)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)[:16])
}

// ---- parsing and checking an init message as a v1 lease holder does (§8.1, §8.3)

type parsedInit struct {
	data, signature []byte
	payload         *dynamicpb.Message
	version         int32
	nonce           []byte
	timestamp       int64
	id              string
	publicKey       []byte
	alpn            string
	sessionKey      []byte
	unknown         []byte
	unknownFields   []int32
}

func parseWire(wire []byte) parsedInit {
	if len(wire) < 4 {
		fail("message shorter than its length prefix (%d bytes)", len(wire))
	}
	n := binary.BigEndian.Uint32(wire)
	if n > maxMessage {
		fail("message length %d above 2^26", n)
	}
	if uint64(len(wire)-4) != uint64(n) {
		fail("length prefix says %d bytes, %d follow", n, len(wire)-4)
	}
	signed := dynamicpb.NewMessage(v1.signed)
	if err := proto.Unmarshal(wire[4:], signed); err != nil {
		fail("SignedPayload does not parse: %v", err)
	}
	if len(signed.GetUnknown()) != 0 {
		fail("SignedPayload carries unknown fields")
	}
	var p parsedInit
	p.data = get(signed, "data").Bytes()
	p.signature = get(signed, "signature").Bytes()
	p.payload = dynamicpb.NewMessage(v1.init)
	if err := proto.Unmarshal(p.data, p.payload); err != nil {
		fail("InitPayload does not parse with the v1 schema: %v", err)
	}
	p.version = int32(get(p.payload, "version").Enum())
	p.nonce = get(p.payload, "nonce").Bytes()
	p.timestamp = get(p.payload, "timestamp").Int()
	ident := get(p.payload, "identity").Message()
	p.id = get(ident, "id").String()
	p.publicKey = get(ident, "public_key").Bytes()
	p.alpn = get(p.payload, "alpn").String()
	p.sessionKey = get(p.payload, "session_public_key").Bytes()
	p.unknown = p.payload.GetUnknown()
	p.unknownFields = []int32{}
	for rest := p.unknown; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			fail("unknown field bytes do not parse: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			fail("unknown field %d does not parse: %v", num, protowire.ParseError(m))
		}
		p.unknownFields = append(p.unknownFields, int32(num))
		rest = rest[n+m:]
	}
	return p
}

func check(p parsedInit, now int64) {
	if p.version != 0 {
		fail("version %d, want 0", p.version)
	}
	if skew := now - p.timestamp; skew > 30 || skew < -30 {
		fail("timestamp %d is %d s away from now (%d)", p.timestamp, skew, now)
	}
	if len(p.publicKey) != ed25519.PublicKeySize {
		fail("identity public key of %d bytes", len(p.publicKey))
	}
	if want := deriveID(p.publicKey); p.id != want {
		fail("identity id %q does not match its key (%q)", p.id, want)
	}
	if !ed25519.Verify(ed25519.PublicKey(p.publicKey), p.data, p.signature) {
		fail("Ed25519 signature over data does not verify")
	}
	if len(p.nonce) != 12 {
		fail("nonce of %d bytes, want 12", len(p.nonce))
	}
	if len(p.sessionKey) != curve25519.PointSize {
		fail("session public key of %d bytes, want 32", len(p.sessionKey))
	}
}

// ---- the v1 keys (§8.6)

func hkdf32(secret, salt []byte, info string) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, salt, []byte(info)), out); err != nil {
		fail("HKDF: %v", err)
	}
	return out
}

func concat(a, b []byte) []byte {
	out := append([]byte{}, a...)
	return append(out, b...)
}

// ---- modes

func hexArg(s, what string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail("%s is not hex: %v", what, err)
	}
	return b
}

func emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(out))
}

// clock is this machine's time, or NOW when given (to check the spec's vectors, whose
// timestamps are fixed).
func clock(args []string, i int) int64 {
	if len(args) <= i {
		return time.Now().Unix()
	}
	now, err := strconv.ParseInt(args[i], 10, 64)
	if err != nil {
		fail("NOW: %v", err)
	}
	return now
}

func verifyClientInit(args []string) {
	if len(args) != 1 && len(args) != 2 {
		fail("usage: verify-client-init WIRE_HEX [NOW]")
	}
	p := parseWire(hexArg(args[0], "WIRE_HEX"))
	check(p, clock(args, 1))
	emit(map[string]interface{}{
		"version":                 p.version,
		"nonce_hex":               hex.EncodeToString(p.nonce),
		"timestamp":               p.timestamp,
		"identity_id":             p.id,
		"identity_public_key_hex": hex.EncodeToString(p.publicKey),
		"alpn":                    p.alpn,
		"session_public_key_hex":  hex.EncodeToString(p.sessionKey),
		"unknown_fields":          p.unknownFields,
		"unknown_bytes":           len(p.unknown),
		"signature_ok":            true,
	})
}

func makeServerInit(args []string) {
	if len(args) != 5 && len(args) != 6 {
		fail("usage: make-server-init CLIENT_WIRE_HEX SEED_HEX EPHEMERAL_HEX NONCE_HEX TIMESTAMP [NOW]")
	}
	client := parseWire(hexArg(args[0], "CLIENT_WIRE_HEX"))
	seed := hexArg(args[1], "SEED_HEX")
	ephemeral := hexArg(args[2], "EPHEMERAL_HEX")
	nonce := hexArg(args[3], "NONCE_HEX")
	timestamp, err := strconv.ParseInt(args[4], 10, 64)
	if err != nil {
		fail("TIMESTAMP: %v", err)
	}
	if len(seed) != ed25519.SeedSize || len(ephemeral) != curve25519.ScalarSize {
		fail("SEED_HEX and EPHEMERAL_HEX must be 32 bytes")
	}
	// A v1 lease holder checks ClientInit against its own clock, then answers (§8.3, §8.4).
	check(client, clock(args, 5))
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	sessionKey, err := curve25519.X25519(ephemeral, curve25519.Basepoint)
	if err != nil {
		fail("X25519 public key: %v", err)
	}
	ident := dynamicpb.NewMessage(v1.identity)
	set(ident, "id", protoreflect.ValueOfString(deriveID(pub)))
	set(ident, "public_key", protoreflect.ValueOfBytes(pub))
	payload := dynamicpb.NewMessage(v1.init)
	// version = PROTOCOL_VERSION_1 is 0: proto3 leaves it off the wire.
	set(payload, "nonce", protoreflect.ValueOfBytes(nonce))
	set(payload, "timestamp", protoreflect.ValueOfInt64(timestamp))
	set(payload, "identity", protoreflect.ValueOfMessage(ident))
	set(payload, "alpn", protoreflect.ValueOfString(client.alpn))
	set(payload, "session_public_key", protoreflect.ValueOfBytes(sessionKey))
	deterministic := proto.MarshalOptions{Deterministic: true}
	data, err := deterministic.Marshal(payload)
	if err != nil {
		fail("marshal InitPayload: %v", err)
	}
	signed := dynamicpb.NewMessage(v1.signed)
	set(signed, "data", protoreflect.ValueOfBytes(data))
	set(signed, "signature", protoreflect.ValueOfBytes(ed25519.Sign(key, data)))
	body, err := deterministic.Marshal(signed)
	if err != nil {
		fail("marshal SignedPayload: %v", err)
	}
	wire := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	wire = append(wire, body...)

	shared, err := curve25519.X25519(ephemeral, client.sessionKey)
	if err != nil {
		fail("X25519 shared secret: %v", err) // includes the all-zero result (§8.3)
	}
	emit(map[string]interface{}{
		"server_wire_hex": hex.EncodeToString(wire),
		"key_c2s_hex":     hex.EncodeToString(hkdf32(shared, concat(client.nonce, nonce), "RDSEC_KEY_CLIENT")),
		"key_s2c_hex":     hex.EncodeToString(hkdf32(shared, concat(nonce, client.nonce), "RDSEC_KEY_SERVER")),
	})
}

func aead(keyHex string) interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
} {
	a, err := chacha20poly1305.New(hexArg(keyHex, "KEY_HEX"))
	if err != nil {
		fail("ChaCha20-Poly1305 key: %v", err)
	}
	return a
}

func openFrame(args []string) {
	if len(args) != 2 {
		fail("usage: open-frame KEY_HEX WIRE_HEX")
	}
	a := aead(args[0])
	wire := hexArg(args[1], "WIRE_HEX")
	if len(wire) < 4 {
		fail("frame shorter than its length prefix")
	}
	n := binary.BigEndian.Uint32(wire)
	if n < 28 || n > maxMessage || uint64(len(wire)-4) != uint64(n) {
		fail("frame length %d with %d bytes after it", n, len(wire)-4)
	}
	body := wire[4:]
	plain, err := a.Open(nil, body[:12], body[12:], nil)
	if err != nil {
		fail("frame does not open: %v", err)
	}
	fmt.Println(hex.EncodeToString(plain))
}

func sealFrame(args []string) {
	if len(args) != 3 {
		fail("usage: seal-frame KEY_HEX NONCE_HEX PLAINTEXT_HEX")
	}
	a := aead(args[0])
	nonce := hexArg(args[1], "NONCE_HEX")
	if len(nonce) != chacha20poly1305.NonceSize {
		fail("nonce of %d bytes, want 12", len(nonce))
	}
	sealed := a.Seal(nonce, nonce, hexArg(args[2], "PLAINTEXT_HEX"), nil)
	var wire bytes.Buffer
	wire.Write(binary.BigEndian.AppendUint32(nil, uint32(len(sealed))))
	wire.Write(sealed)
	fmt.Println(hex.EncodeToString(wire.Bytes()))
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: v1-handshake-peer verify-client-init|make-server-init|open-frame|seal-frame ...")
	}
	switch os.Args[1] {
	case "verify-client-init":
		verifyClientInit(os.Args[2:])
	case "make-server-init":
		makeServerInit(os.Args[2:])
	case "open-frame":
		openFrame(os.Args[2:])
	case "seal-frame":
		sealFrame(os.Args[2:])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
