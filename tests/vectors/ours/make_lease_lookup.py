#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes lease_lookup.json: known answers for the lease lookup packets (docs/adr/0016).

An implementation of its own, independent of the C++ code: protobuf by hand, following the
encoding rules of portal-v1 §4.7 (fields in number order, empty scalars omitted, present
sub-messages always emitted, one tag per repeated element). The identities and leases are the
spec's (tests/vectors/control_packets.json). Run it from anywhere; it writes lease_lookup.json
here:

    python3 tests/vectors/ours/make_lease_lookup.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = json.load(open(os.path.join(HERE, "..", "control_packets.json")))

RELAY_INFO_RESPONSE = 1
LEASE_LOOKUP_REQUEST = 8
LEASE_LOOKUP_RESPONSE = 9
CODES = {"UNKNOWN": 0, "ACCEPTED": 1, "INVALID_IDENTITY": 3, "REJECTED": 6}
MAX_TARGET = 1024
MAX_LEASES = 64


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire_type):
    return varint(field << 3 | wire_type)


def ld(field, data):
    """A length-delimited field (wire type 2)."""
    return key(field, 2) + varint(len(data)) + data


def uint(field, n):
    """A varint field, omitted when zero."""
    return key(field, 0) + varint(n) if n else b""


def text(field, s):
    """A string field, omitted when empty."""
    return ld(field, s.encode("utf-8")) if s else b""


def identity(i):
    return text(1, i["id"]) + (ld(2, bytes.fromhex(i["public_key_hex"])) if i["public_key_hex"] else b"")


def lease(l):
    out = ld(1, identity(l["identity"])) + uint(2, l["expires"]) + text(3, l["name"])
    for a in l["alpn"]:
        out += ld(4, a.encode("utf-8"))
    return out + text(5, l.get("metadata", ""))


def packet(type_value, payload):
    return uint(1, type_value) + (ld(2, payload) if payload else b"")


def wire(type_value, payload):
    p = packet(type_value, payload)
    return struct.pack(">I", len(p)) + p


def spec_vector(name):
    for v in SPEC["vectors"]:
        if v["name"] == name:
            return v
    raise KeyError(name)


INFO = spec_vector("relay_info_response")["fields"]["relay_info"]
DEMO, UNNAMED = INFO["leases"]


def vector(name, type_name, type_value, fields, payload):
    return {
        "name": name,
        "packet_type": type_name,
        "packet_type_value": type_value,
        "fields": fields,
        "payload_hex": payload.hex(),
        "packet_hex": packet(type_value, payload).hex(),
        "wire_hex": wire(type_value, payload).hex(),
    }


def request(name, target):
    return vector(name, "LEASE_LOOKUP_REQUEST", LEASE_LOOKUP_REQUEST, {"target": target},
                  text(1, target))


def response(name, code, leases):
    payload = uint(1, CODES[code]) + b"".join(ld(2, lease(l)) for l in leases)
    return vector(name, "LEASE_LOOKUP_RESPONSE", LEASE_LOOKUP_RESPONSE,
                  {"code": code, "leases": leases}, payload)


def relay_info_with_features(name, features):
    ri = ld(1, identity(INFO["identity"]))
    for a in INFO["address"]:
        ri += ld(2, a.encode("utf-8"))
    for l in INFO["leases"]:
        ri += ld(3, lease(l))
    for f in features:
        ri += ld(4, f.encode("utf-8"))
    fields = dict(INFO)
    fields["features"] = features
    return vector(name, "RELAY_INFO_RESPONSE", RELAY_INFO_RESPONSE, {"relay_info": fields},
                  ld(1, ri))


# Self-check: this encoder reproduces the spec's own RelayInfo and response vectors.
assert relay_info_with_features("x", [])["payload_hex"] == spec_vector("relay_info_response")["payload_hex"]
assert uint(1, CODES["INVALID_IDENTITY"]).hex() == spec_vector(
    "connection_response_invalid_identity")["payload_hex"]

vectors = [
    request("lookup_request_id", DEMO["identity"]["id"]),
    request("lookup_request_id_lower_case", DEMO["identity"]["id"].lower()),
    request("lookup_request_name", "Demo-App"),
    request("lookup_request_name_unicode", "Ünïcødé-名前"),
    request("lookup_request_empty", ""),
    request("lookup_request_target_at_the_limit", "a" * MAX_TARGET),
    response("lookup_response_accepted_one", "ACCEPTED", [DEMO]),
    response("lookup_response_accepted_two", "ACCEPTED", [DEMO, UNNAMED]),
    response("lookup_response_invalid_identity", "INVALID_IDENTITY", []),
    response("lookup_response_rejected", "REJECTED", []),
    response("lookup_response_leases_at_the_limit", "ACCEPTED", [DEMO] * MAX_LEASES),
    relay_info_with_features("relay_info_response_with_features", ["lease-lookup/1"]),
]

# Valid protobuf that does not re-encode to the same bytes: unknown fields are skipped,
# the last value of a repeated scalar wins, fields may come in any order.
decode_only = [
    {
        "name": "lookup_request_unknown_fields_skipped",
        "packet_type_value": LEASE_LOOKUP_REQUEST,
        "payload_hex": (uint(7, 300) + text(1, "web") + ld(9, b"\x00\x01") + key(15, 5) +
                        b"\x01\x02\x03\x04").hex(),
        "fields": {"target": "web"},
    },
    {
        "name": "lookup_request_last_target_wins",
        "packet_type_value": LEASE_LOOKUP_REQUEST,
        "payload_hex": (text(1, "first") + text(1, "second")).hex(),
        "fields": {"target": "second"},
    },
    {
        "name": "lookup_response_leases_before_code_and_unknown_field",
        "packet_type_value": LEASE_LOOKUP_RESPONSE,
        "payload_hex": (ld(2, lease(DEMO)) + uint(1, 1) + ld(3, b"future")).hex(),
        "fields": {"code": "ACCEPTED", "leases": [DEMO]},
    },
    {
        # A v1 decoder of RelayInfo (fields 1-3) sees the spec's relay_info_response.
        "name": "relay_info_features_are_field_4",
        "packet_type_value": RELAY_INFO_RESPONSE,
        "payload_hex": vectors[-1]["payload_hex"],
        "v1_payload_hex": spec_vector("relay_info_response")["payload_hex"],
        "fields": {"features": ["lease-lookup/1"]},
    },
]

malformed = [
    {
        "name": "target_above_the_limit",
        "packet_type_value": LEASE_LOOKUP_REQUEST,
        "payload_hex": text(1, "a" * (MAX_TARGET + 1)).hex(),
        "error": "target_too_large",
    },
    {
        # The size is refused from the length alone: the bytes need not be there.
        "name": "target_length_claims_64_mib",
        "packet_type_value": LEASE_LOOKUP_REQUEST,
        "payload_hex": (key(1, 2) + varint(1 << 26) + b"abc").hex(),
        "error": "malformed_message",
    },
    {
        "name": "target_truncated",
        "packet_type_value": LEASE_LOOKUP_REQUEST,
        "payload_hex": (key(1, 2) + varint(5) + b"ab").hex(),
        "error": "malformed_message",
    },
    {
        "name": "leases_above_the_limit",
        "packet_type_value": LEASE_LOOKUP_RESPONSE,
        "payload_hex": (uint(1, 1) + ld(2, b"") * (MAX_LEASES + 1)).hex(),
        "error": "too_many_leases",
    },
    {
        "name": "lease_truncated",
        "packet_type_value": LEASE_LOOKUP_RESPONSE,
        "payload_hex": (uint(1, 1) + key(2, 2) + varint(10) + b"\x0a").hex(),
        "error": "malformed_message",
    },
    {
        "name": "bad_varint",
        "packet_type_value": LEASE_LOOKUP_RESPONSE,
        "payload_hex": (key(1, 0) + b"\xff" * 11).hex(),
        "error": "malformed_message",
    },
    {
        "name": "unknown_packet_type_10",
        "packet_hex": uint(1, 10).hex(),
        "error": "unknown_packet_type",
    },
]

doc = {
    "description": "Lease lookup packets (docs/adr/0016-lease-lookup.md): LeaseLookupRequest "
                   "(type 8) and LeaseLookupResponse (type 9), RelayInfo.features (field 4), "
                   "their byte-exact encodings, inputs that decode but do not re-encode the same, "
                   "and malformed inputs with the error they get. Written by "
                   "make_lease_lookup.py, an implementation independent of the C++ code.",
    "source": "tests/vectors/ours/make_lease_lookup.py; leases and identities from "
              "control_packets.json (portal-v1 §14)",
    "limits": {"max_target_bytes": MAX_TARGET, "max_leases": MAX_LEASES},
    "vectors": vectors,
    "decode_only": decode_only,
    "malformed": malformed,
}

with open(os.path.join(HERE, "lease_lookup.json"), "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
