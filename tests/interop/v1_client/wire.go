// SPDX-License-Identifier: Apache-2.0

// The v1 messages (portal-v1 §4.3-§4.6, §8.2) as a descriptor built in code, read and written
// with the Go protobuf runtime (dynamicpb, proto.Unmarshal), and the packet framing of §4.2.
// Only the fields the spec defines: no Lease.metadata (later v1), no negotiated-channel field 15.
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Packet types (§4.4) and response codes (§4.5).
const (
	relayInfoRequest       = 0
	relayInfoResponse      = 1
	leaseUpdateRequest     = 2
	leaseUpdateResponse    = 3
	leaseDeleteRequest     = 4
	leaseDeleteResponse    = 5
	connectionRequest      = 6
	connectionResponse     = 7
	codeAccepted           = 1
	codeInvalidIdentity    = 3
	codeRejected           = 6
	maxPacket              = 1 << 26 // §4.2
	protocolVersion1       = 0       // §4.6
	identityHMACKey        = "RDVERB_PROTOCOL_VER_01_SHA256_ID"
	handshakeClientKeyInfo = "RDSEC_KEY_CLIENT"
	handshakeServerKeyInfo = "RDSEC_KEY_SERVER"
)

var codeNames = map[int32]string{
	0: "UNKNOWN", 1: "ACCEPTED", 2: "INVALID_EXPIRES", 3: "INVALID_IDENTITY",
	4: "INVALID_NAME", 5: "INVALID_ALPN", 6: "REJECTED",
}

func codeName(c int32) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", c)
}

func field(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type,
	typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
	label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	if repeated {
		label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	}
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		JsonName: proto.String(name),
		Number:   proto.Int32(number),
		Label:    label.Enum(),
		Type:     typ.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func enum(name string, values ...string) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for i, v := range values {
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{
			Name: proto.String(v), Number: proto.Int32(int32(i))})
	}
	return e
}

func message(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
}

type schema struct {
	packet, identity, signed, lease, relayInfo, relayInfoResp, leaseUpdate, leaseDelete, code,
	connReq, init protoreflect.MessageDescriptor
}

func v1Schema() schema {
	const (
		tBytes  = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		tString = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tInt64  = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tEnum   = descriptorpb.FieldDescriptorProto_TYPE_ENUM
		tMsg    = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	const p = ".portalv1client."
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("portal_v1_client.proto"),
		Package: proto.String("portalv1client"),
		Syntax:  proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{
			enum("ProtocolVersion", "PROTOCOL_VERSION_1"),
			enum("PacketType", "PACKET_TYPE_RELAY_INFO_REQUEST", "PACKET_TYPE_RELAY_INFO_RESPONSE",
				"PACKET_TYPE_LEASE_UPDATE_REQUEST", "PACKET_TYPE_LEASE_UPDATE_RESPONSE",
				"PACKET_TYPE_LEASE_DELETE_REQUEST", "PACKET_TYPE_LEASE_DELETE_RESPONSE",
				"PACKET_TYPE_CONNECTION_REQUEST", "PACKET_TYPE_CONNECTION_RESPONSE"),
			enum("ResponseCode", "RESPONSE_CODE_UNKNOWN", "RESPONSE_CODE_ACCEPTED",
				"RESPONSE_CODE_INVALID_EXPIRES", "RESPONSE_CODE_INVALID_IDENTITY",
				"RESPONSE_CODE_INVALID_NAME", "RESPONSE_CODE_INVALID_ALPN", "RESPONSE_CODE_REJECTED"),
		},
		MessageType: []*descriptorpb.DescriptorProto{
			message("Packet", field("type", 1, tEnum, p+"PacketType", false),
				field("payload", 2, tBytes, "", false)),
			message("Identity", field("id", 1, tString, "", false),
				field("public_key", 2, tBytes, "", false)),
			message("SignedPayload", field("data", 1, tBytes, "", false),
				field("signature", 2, tBytes, "", false)),
			message("Lease", field("identity", 1, tMsg, p+"Identity", false),
				field("expires", 2, tInt64, "", false), field("name", 3, tString, "", false),
				field("alpn", 4, tString, "", true)),
			message("RelayInfo", field("identity", 1, tMsg, p+"Identity", false),
				field("address", 2, tString, "", true), field("leases", 3, tMsg, p+"Lease", true)),
			message("RelayInfoResponse", field("relay_info", 1, tMsg, p+"RelayInfo", false)),
			message("LeaseUpdateRequest", field("lease", 1, tMsg, p+"Lease", false),
				field("nonce", 2, tBytes, "", false), field("timestamp", 3, tInt64, "", false)),
			message("LeaseDeleteRequest", field("identity", 1, tMsg, p+"Identity", false),
				field("nonce", 2, tBytes, "", false), field("timestamp", 3, tInt64, "", false)),
			// LeaseUpdateResponse, LeaseDeleteResponse and ConnectionResponse share this layout.
			message("CodeResponse", field("code", 1, tEnum, p+"ResponseCode", false)),
			message("ConnectionRequest", field("lease_id", 1, tString, "", false),
				field("client_identity", 2, tMsg, p+"Identity", false)),
			// ClientInitPayload and ServerInitPayload (identical layout, §4.6).
			message("InitPayload", field("version", 1, tEnum, p+"ProtocolVersion", false),
				field("nonce", 2, tBytes, "", false), field("timestamp", 3, tInt64, "", false),
				field("identity", 4, tMsg, p+"Identity", false), field("alpn", 5, tString, "", false),
				field("session_public_key", 6, tBytes, "", false)),
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		panic(fmt.Sprintf("building the v1 descriptor: %v", err))
	}
	m := fd.Messages()
	return schema{
		packet: m.ByName("Packet"), identity: m.ByName("Identity"), signed: m.ByName("SignedPayload"),
		lease: m.ByName("Lease"), relayInfo: m.ByName("RelayInfo"),
		relayInfoResp: m.ByName("RelayInfoResponse"), leaseUpdate: m.ByName("LeaseUpdateRequest"),
		leaseDelete: m.ByName("LeaseDeleteRequest"), code: m.ByName("CodeResponse"),
		connReq: m.ByName("ConnectionRequest"), init: m.ByName("InitPayload"),
	}
}

var v1 = v1Schema()

func newMsg(d protoreflect.MessageDescriptor) *dynamicpb.Message { return dynamicpb.NewMessage(d) }

func get(m protoreflect.Message, name protoreflect.Name) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(name))
}

func set(m protoreflect.Message, name protoreflect.Name, v protoreflect.Value) {
	m.Set(m.Descriptor().Fields().ByName(name), v)
}

func marshal(m protoreflect.ProtoMessage) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal: %v", err))
	}
	return b
}

func unmarshal(b []byte, d protoreflect.MessageDescriptor) (*dynamicpb.Message, error) {
	m := newMsg(d)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// ---- identities (§5)

type identity struct {
	key ed25519.PrivateKey
	pub ed25519.PublicKey
	id  string
}

func deriveID(pub []byte) string {
	mac := hmac.New(sha256.New, []byte(identityHMACKey))
	mac.Write(pub)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)[:16])
}

func identityFromSeed(seed []byte) identity {
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	return identity{key: key, pub: pub, id: deriveID(pub)}
}

func randomIdentity() identity {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		panic(err)
	}
	return identityFromSeed(seed)
}

func (i identity) message() *dynamicpb.Message {
	m := newMsg(v1.identity)
	set(m, "id", protoreflect.ValueOfString(i.id))
	set(m, "public_key", protoreflect.ValueOfBytes(i.pub))
	return m
}

// validIdentity is §5.3: a 32-byte key whose derived ID equals `id` exactly.
func validIdentity(m protoreflect.Message) (string, []byte, error) {
	id := get(m, "id").String()
	pub := get(m, "public_key").Bytes()
	if len(pub) != ed25519.PublicKeySize {
		return "", nil, fmt.Errorf("identity public key of %d bytes", len(pub))
	}
	if want := deriveID(pub); id != want {
		return "", nil, fmt.Errorf("identity id %q does not match its key (%q)", id, want)
	}
	return id, pub, nil
}

// sign wraps `data` in a SignedPayload signed by `who` (§4.8, §8.2).
func sign(who identity, data []byte) []byte {
	s := newMsg(v1.signed)
	set(s, "data", protoreflect.ValueOfBytes(data))
	set(s, "signature", protoreflect.ValueOfBytes(ed25519.Sign(who.key, data)))
	return marshal(s)
}

// ---- packets (§4.2, §4.3)

func encodePacket(typ int32, payload []byte) []byte {
	p := newMsg(v1.packet)
	set(p, "type", protoreflect.ValueOfEnum(protoreflect.EnumNumber(typ)))
	set(p, "payload", protoreflect.ValueOfBytes(payload))
	body := marshal(p)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// writePacket writes the length prefix and the packet in one stream write, as the original.
func writePacket(w io.Writer, typ int32, payload []byte) error {
	_, err := w.Write(encodePacket(typ, payload))
	return err
}

// readPacket reads exactly 4 + N bytes; N above 2^26 is an error before any allocation.
func readPacket(r io.Reader) (int32, []byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return 0, nil, fmt.Errorf("reading a packet length: %w", err)
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxPacket {
		return 0, nil, fmt.Errorf("packet length %d above 2^26", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("reading a %d-byte packet: %w", n, err)
	}
	p, err := unmarshal(body, v1.packet)
	if err != nil {
		return 0, nil, fmt.Errorf("packet does not parse: %w", err)
	}
	return int32(get(p, "type").Enum()), get(p, "payload").Bytes(), nil
}

func codePayload(code int32) []byte {
	m := newMsg(v1.code)
	set(m, "code", protoreflect.ValueOfEnum(protoreflect.EnumNumber(code)))
	return marshal(m)
}

func parseCode(payload []byte) (int32, error) {
	m, err := unmarshal(payload, v1.code)
	if err != nil {
		return 0, err
	}
	return int32(get(m, "code").Enum()), nil
}

// leaseUpdatePayload is the SignedPayload of a LeaseUpdateRequest (§4.6, §4.8, §6.7).
func leaseUpdatePayload(who identity, name string, alpn []string, expires, timestamp int64,
	nonce []byte) []byte {
	lease := newMsg(v1.lease)
	set(lease, "identity", protoreflect.ValueOfMessage(who.message()))
	set(lease, "expires", protoreflect.ValueOfInt64(expires))
	set(lease, "name", protoreflect.ValueOfString(name))
	list := lease.Mutable(v1.lease.Fields().ByName("alpn")).List()
	for _, a := range alpn {
		list.Append(protoreflect.ValueOfString(a))
	}
	req := newMsg(v1.leaseUpdate)
	set(req, "lease", protoreflect.ValueOfMessage(lease))
	set(req, "nonce", protoreflect.ValueOfBytes(nonce))
	set(req, "timestamp", protoreflect.ValueOfInt64(timestamp))
	return sign(who, marshal(req))
}

// leaseDeletePayload is the SignedPayload of a LeaseDeleteRequest.
func leaseDeletePayload(who identity, timestamp int64, nonce []byte) []byte {
	req := newMsg(v1.leaseDelete)
	set(req, "identity", protoreflect.ValueOfMessage(who.message()))
	set(req, "nonce", protoreflect.ValueOfBytes(nonce))
	set(req, "timestamp", protoreflect.ValueOfInt64(timestamp))
	return sign(who, marshal(req))
}

func connectionRequestPayload(leaseID string, dialer identity) []byte {
	m := newMsg(v1.connReq)
	set(m, "lease_id", protoreflect.ValueOfString(leaseID))
	set(m, "client_identity", protoreflect.ValueOfMessage(dialer.message()))
	return marshal(m)
}

// relayInfo is what a dialer uses of RelayInfo: the relay's ID and the leases' IDs and names.
type relayInfo struct {
	id     string
	leases map[string]string // lease id -> name
}

func parseRelayInfo(payload []byte) (relayInfo, error) {
	resp, err := unmarshal(payload, v1.relayInfoResp)
	if err != nil {
		return relayInfo{}, err
	}
	info := get(resp, "relay_info").Message()
	out := relayInfo{id: get(get(info, "identity").Message(), "id").String(),
		leases: map[string]string{}}
	leases := get(info, "leases").List()
	for i := 0; i < leases.Len(); i++ {
		l := leases.Get(i).Message()
		out.leases[get(get(l, "identity").Message(), "id").String()] = get(l, "name").String()
	}
	return out, nil
}
