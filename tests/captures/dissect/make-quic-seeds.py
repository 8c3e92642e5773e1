#!/usr/bin/env python3
"""Writes QUIC seeds for the TLS fuzz target (tests/fuzz/corpus/tls/quic_*): client and
server Initial packets (RFC 9001 section 5; keys from the RFC's appendix A DCID) around the
ClientHello and ServerHello of tests/captures/dissect/tls/tls.pcap's first exchange, in the
target's input layout (mode byte 0x05: UDP, quic; then 2-byte event headers). Not run by CI;
needs python3-cryptography.
usage: make-quic-seeds.py OUTDIR"""
import hashlib
import hmac
import os
import re
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
DCID = bytes.fromhex("8394c8f03e515708")


def expand_label(secret, label, n):
    full = b"tls13 " + label.encode()
    info = n.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return hmac.new(secret, info + b"\x01", hashlib.sha256).digest()[:n]


def keys(server):
    initial = hmac.new(SALT_V1, DCID, hashlib.sha256).digest()
    side = expand_label(initial, "server in" if server else "client in", 32)
    return expand_label(side, "quic key", 16), expand_label(side, "quic iv", 12), expand_label(side, "quic hp", 16)


def varint(v):
    return bytes([v]) if v < 64 else bytes([0x40 | v >> 8, v & 0xff])


def initial(server, dcid, frames, pn=0):
    key, iv, hp = keys(server)
    frames = frames + b"\x00" * max(0, 64 - len(frames))
    h = bytes([0xc1]) + (1).to_bytes(4, "big") + bytes([len(dcid)]) + dcid + b"\x04\xaa\xbb\xcc\xdd"
    h += b"\x00" + varint(2 + len(frames) + 16)
    pn_off = len(h)
    h += pn.to_bytes(2, "big")
    nonce = bytearray(iv)
    nonce[10] ^= pn >> 8
    nonce[11] ^= pn & 0xff
    pkt = bytearray(h + AESGCM(key).encrypt(bytes(nonce), frames, h))
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(bytes(pkt[pn_off + 4:pn_off + 20])) + enc.finalize()
    pkt[0] ^= mask[0] & 0x0f
    pkt[pn_off] ^= mask[1]
    pkt[pn_off + 1] ^= mask[2]
    return bytes(pkt)


def fixture(name):
    src = open(os.path.join(os.path.dirname(__file__), "..", "..", "unit", "tls_fixtures.h")).read()
    body = src[src.index(f"inline constexpr std::string_view {name}{{"):]
    body = body[:body.index(", ")]
    raw = b"".join(bytes(s, "latin-1").decode("unicode_escape").encode("latin-1")
                   for s in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    n = 4 + (raw[7] << 8 | raw[8])
    return raw[5:5 + n]


def event(from_server, payload):
    return ((0x8000 if from_server else 0) | len(payload)).to_bytes(2, "big") + payload


def main():
    out = sys.argv[1]
    ch, sh = fixture("k443_1_client"), fixture("k443_1_server")
    crypto = lambda off, d: b"\x06" + varint(off) + varint(len(d)) + d
    c = initial(False, DCID, crypto(0, ch))
    s = initial(True, b"\xaa\xbb\xcc\xdd", crypto(0, sh))
    open(os.path.join(out, "quic_initials"), "wb").write(b"\x05" + event(False, c) + event(True, s))
    split = initial(False, DCID, crypto(100, ch[100:]) + crypto(0, ch[:100]))
    open(os.path.join(out, "quic_split"), "wb").write(b"\x05" + event(False, split) + event(True, s))


main()
