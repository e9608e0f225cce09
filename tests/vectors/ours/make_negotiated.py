#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes negotiated.json: known answers for the negotiated channel (docs/adr/0014).

An implementation of its own, independent of the C++ code: protobuf by hand, and the primitives
from python3-cryptography (Debian package). The inputs are the spec's handshake inputs
(tests/vectors/handshake.json), so the v1 and negotiated transcripts differ only by the
extension. Run it from anywhere; it reads handshake.json beside this directory and writes
negotiated.json here:

    python3 tests/vectors/ours/make_negotiated.py
"""
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = json.load(open(os.path.join(HERE, "..", "handshake.json")))
IN = SPEC["inputs"]


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


def field_bytes(number, value):
    if not value:
        return b""  # proto3: empty bytes are not serialized
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_varint(number, value):
    if value == 0:
        return b""
    return varint(number << 3) + varint(value)


def capabilities(version, ciphers, client_init_hash=b""):
    body = field_varint(1, version)
    for c in ciphers:
        body += varint(2 << 3 | 2) + varint(len(c)) + c.encode()
    body += field_bytes(3, client_init_hash)
    # A present sub-message is serialized even when empty.
    return varint(15 << 3 | 2) + varint(len(body)) + body


def init_payload(nonce, timestamp, ident, pub, alpn, session_pub, caps):
    identity = field_bytes(1, ident.encode()) + field_bytes(2, pub)
    return (field_bytes(2, nonce) + field_varint(3, timestamp) + field_bytes(4, identity) +
            field_bytes(5, alpn.encode()) + field_bytes(6, session_pub) + caps)


def signed(seed, data):
    key = Ed25519PrivateKey.from_private_bytes(seed)
    sig = key.sign(data)
    return field_bytes(1, data) + field_bytes(2, sig)


def public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def lp(b):
    return struct.pack(">I", len(b)) + b


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def aead(name, key):
    return ChaCha20Poly1305(key) if name == "chacha20-poly1305" else AESGCM(key)


def frame(name, key, seq, ftype, plaintext):
    # LP(nonce(12) || type(1) || AEAD(plaintext)), nonce = 4 zero bytes || seq (64-bit BE),
    # AAD = N (4 bytes) || type.
    nonce = b"\0\0\0\0" + struct.pack(">Q", seq)
    n = 12 + 1 + len(plaintext) + 16
    header = struct.pack(">I", n)
    sealed = aead(name, key).encrypt(nonce, plaintext, header + bytes([ftype]))
    return header + nonce + bytes([ftype]) + sealed


def transcript_case(offer, accepted):
    cseed = bytes.fromhex(IN["client_identity"]["seed_hex"])
    sseed = bytes.fromhex(IN["server_identity"]["seed_hex"])
    ce = X25519PrivateKey.from_private_bytes(bytes.fromhex(IN["client_ephemeral_private_hex"]))
    se = X25519PrivateKey.from_private_bytes(bytes.fromhex(IN["server_ephemeral_private_hex"]))
    raw = lambda k: k.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    nc = bytes.fromhex(IN["client_nonce_hex"])
    ns = bytes.fromhex(IN["server_nonce_hex"])
    alpn = IN["client_alpn"]

    b_c = init_payload(nc, IN["client_timestamp"], IN["client_identity"]["id"], public(cseed),
                       alpn, raw(ce), capabilities(2, offer))
    client_wire = lp(signed(cseed, b_c))
    chosen = next(c for c in offer if c in accepted)
    b_s = init_payload(ns, IN["server_timestamp"], IN["server_identity"]["id"], public(sseed),
                       alpn, raw(se), capabilities(2, [chosen], hashlib.sha256(b_c).digest()))
    server_wire = lp(signed(sseed, b_s))
    transcript = hashlib.sha256(lp(b_c) + lp(b_s)).digest()
    shared = ce.exchange(se.public_key())
    c2s = hkdf(shared, nc + ns, b"PORTAL2_KEY_C2S" + transcript)
    s2c = hkdf(shared, ns + nc, b"PORTAL2_KEY_S2C" + transcript)
    text = b"negotiated channel"
    frames = {
        # The client's first three frames: data, an empty data frame, then its end.
        "client_frames_hex": [frame(chosen, c2s, 0, 0, text).hex(),
                              frame(chosen, c2s, 1, 0, b"").hex(),
                              frame(chosen, c2s, 2, 1, b"").hex()],
        "server_frames_hex": [frame(chosen, s2c, 0, 0, text).hex(),
                              frame(chosen, s2c, 1, 1, b"").hex()],
        "plaintext": text.decode(),
    }
    return {
        "client_offer": offer,
        "server_accepts": accepted,
        "chosen": chosen,
        "client_init_data_hex": b_c.hex(),
        "client_wire_hex": client_wire.hex(),
        "server_init_data_hex": b_s.hex(),
        "server_wire_hex": server_wire.hex(),
        "transcript_sha256_hex": transcript.hex(),
        "key_c2s_hex": c2s.hex(),
        "key_s2c_hex": s2c.hex(),
        **frames,
    }


doc = {
    "description": "Portal negotiated channel (docs/adr/0014-negotiated-channel.md): handshake "
                   "with the capability extension, keys bound to the transcript, and frames with "
                   "counter nonces, a type byte and the end frame. Inputs are the spec's "
                   "(handshake.json). Written by make_negotiated.py, an implementation "
                   "independent of the C++ code.",
    "cases": [
        transcript_case(["chacha20-poly1305"], ["chacha20-poly1305", "aes-256-gcm"]),
        transcript_case(["aes-256-gcm", "chacha20-poly1305"], ["chacha20-poly1305",
                                                               "aes-256-gcm"]),
    ],
}
with open(os.path.join(HERE, "negotiated.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
