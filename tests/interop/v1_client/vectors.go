// SPDX-License-Identifier: Apache-2.0

// `vectors DIR`: this client's identity derivation and packet encoders against the spec's
// vectors (portal-v1 §14), so that what it sends a relay is what a v1 client sends.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func loadJSON(dir, name string, v interface{}) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		fail("%v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		fail("%s: %v", name, err)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail("vector hex %q: %v", s, err)
	}
	return b
}

type vectorIdentity struct {
	ID           string `json:"id"`
	PublicKeyHex string `json:"public_key_hex"`
	SeedHex      string `json:"seed_hex"`
}

func cmdVectors(args []string) {
	if len(args) != 1 {
		fail("usage: vectors DIR")
	}
	dir := args[0]
	checked := 0

	var ids struct {
		Vectors []vectorIdentity `json:"vectors"`
	}
	loadJSON(dir, "identity.json", &ids)
	for _, v := range ids.Vectors {
		got := identityFromSeed(unhex(v.SeedHex))
		if got.id != v.ID || hex.EncodeToString(got.pub) != v.PublicKeyHex {
			fail("identity.json: seed %s gives %s %x, want %s %s", v.SeedHex, got.id, got.pub, v.ID,
				v.PublicKeyHex)
		}
		checked++
	}

	var packets struct {
		Identities map[string]vectorIdentity `json:"identities"`
		Vectors    []struct {
			Name       string `json:"name"`
			TypeValue  int32  `json:"packet_type_value"`
			PayloadHex string `json:"payload_hex"`
			WireHex    string `json:"wire_hex"`
			SeedHex    string `json:"signer_seed_hex"`
			Fields     struct {
				Code      string `json:"code"`
				CodeValue int32  `json:"code_value"`
				LeaseID   string `json:"lease_id"`
				NonceHex  string `json:"nonce_hex"`
				Timestamp int64  `json:"timestamp"`
				Lease     *struct {
					Expires  int64    `json:"expires"`
					Name     string   `json:"name"`
					Alpn     []string `json:"alpn"`
					Metadata string   `json:"metadata"`
				} `json:"lease"`
			} `json:"fields"`
		} `json:"vectors"`
	}
	loadJSON(dir, "control_packets.json", &packets)
	dialer := identityFromSeed(unhex(packets.Identities["dialer"].SeedHex))
	for _, v := range packets.Vectors {
		var wire []byte
		switch {
		case v.TypeValue == relayInfoRequest:
			wire = encodePacket(relayInfoRequest, nil)
		case v.TypeValue == leaseUpdateRequest && v.Fields.Lease.Metadata == "":
			// (the later-v1 metadata field is not something this client sends)
			l := v.Fields.Lease
			wire = encodePacket(leaseUpdateRequest, leaseUpdatePayload(
				identityFromSeed(unhex(v.SeedHex)), l.Name, l.Alpn, l.Expires, v.Fields.Timestamp,
				unhex(v.Fields.NonceHex)))
		case v.TypeValue == connectionRequest:
			wire = encodePacket(connectionRequest, connectionRequestPayload(v.Fields.LeaseID, dialer))
		case v.Fields.Code != "":
			wire = encodePacket(v.TypeValue, codePayload(v.Fields.CodeValue))
			code, err := parseCode(unhex(v.PayloadHex))
			if err != nil || code != v.Fields.CodeValue {
				fail("%s: parses as code %d (%v), want %d", v.Name, code, err, v.Fields.CodeValue)
			}
		case v.TypeValue == relayInfoResponse:
			info, err := parseRelayInfo(unhex(v.PayloadHex))
			if err != nil || info.id != packets.Identities["relay"].ID ||
				info.leases[packets.Identities["lease_holder"].ID] != "demo-app" {
				fail("%s: parses as %+v (%v)", v.Name, info, err)
			}
			checked++
			continue
		default:
			continue
		}
		if !bytes.Equal(wire, unhex(v.WireHex)) {
			fail("%s: encodes as %x, want %s", v.Name, wire, v.WireHex)
		}
		checked++
	}
	fmt.Printf("vectors ok %d\n", checked)
}
