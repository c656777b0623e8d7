"""The cryptography of the sealed ballot box (issue 11), from libraries only.

- Each round has a fresh X25519 key pair (PyNaCl ``PrivateKey``). A ballot is encrypted to the
  public key with ``SealedBox`` (an ephemeral key per ballot, so equal ballots give unrelated
  ciphertexts); its plaintext is one byte per candidate, so every sealed ballot of a round has
  the same length.
- The private key is encrypted with ``SecretBox`` under a key derived (BLAKE2b) from a random
  16-byte secret; that *wrapped* key is stored with the round. The 16-byte secret is split with
  PyCryptodome's ``Shamir`` into n shares, any k of which rebuild it. Shares are handed to the
  caller, who puts each in one committee member's button and drops them.
- The tracker of a sealed ballot is its SHA-256; the receipt code shown to the voter is the
  first 50 bits of it in Crockford base32.

Python cannot promise to wipe memory: "forgetting" a key means dropping every reference to it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import nacl.utils
from Crypto.Protocol.SecretSharing import Shamir
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.public import PrivateKey
from nacl.public import PublicKey
from nacl.public import SealedBox
from nacl.secret import SecretBox

SECRET_BYTES = 16
KEY_ID_CHARS = 6  # hex digits of the public key in each share's button: a share of another key
WRAP_PERSON = b"kiemdiem-box"
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECEIPT_LENGTH = 10  # 50 bits of the tracker


@dataclass(frozen=True)
class Share:
    index: int  # 1..n (Shamir's x)
    value: bytes  # 16 bytes

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.value).decode().rstrip("=")

    @classmethod
    def decode(cls, index: int, text: str) -> Share | None:
        try:
            value = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(value) != SECRET_BYTES or not 1 <= index <= 255:
            return None
        return cls(index, value)


@dataclass(frozen=True)
class RoundKeys:
    public_key: bytes
    wrapped_key: bytes
    shares: list[Share]


def _wrap_key(secret: bytes) -> bytes:
    return blake2b(secret, digest_size=SecretBox.KEY_SIZE, person=WRAP_PERSON, encoder=RawEncoder)


def new_round_keys(threshold: int, holders: int) -> RoundKeys:
    """A fresh key pair; the private key wrapped; the wrapping secret split k of n."""
    if not 1 <= threshold <= holders:
        raise ValueError("k of n needs 1 <= k <= n")
    private = PrivateKey.generate()
    secret = nacl.utils.random(SECRET_BYTES)
    wrapped = SecretBox(_wrap_key(secret)).encrypt(bytes(private))
    shares = [Share(index, value) for index, value in Shamir.split(threshold, holders, secret)]
    return RoundKeys(bytes(private.public_key), bytes(wrapped), shares)


def key_id(public_key: bytes) -> str:
    return public_key.hex()[:KEY_ID_CHARS]


def unlock(wrapped_key: bytes, shares: list[Share]) -> PrivateKey | None:
    """The round's private key from k shares; None when they do not open it."""
    try:
        secret = Shamir.combine([(share.index, share.value) for share in shares])
        raw = SecretBox(_wrap_key(secret)).decrypt(wrapped_key)
    except (CryptoError, ValueError):
        return None
    return PrivateKey(raw)


def seal(public_key: bytes, plaintext: bytes) -> bytes:
    return bytes(SealedBox(PublicKey(public_key)).encrypt(plaintext))


def open_sealed(private: PrivateKey, sealed: bytes) -> bytes:
    return SealedBox(private).decrypt(sealed)


def tracker(sealed: bytes) -> str:
    return hashlib.sha256(sealed).hexdigest()


def receipt_code(tracker_hex: str) -> str:
    """The first 50 bits of the tracker, in Crockford base32: what the voter writes down."""
    bits = int(tracker_hex[:16], 16) >> (64 - 5 * RECEIPT_LENGTH)
    chars = []
    for _ in range(RECEIPT_LENGTH):
        chars.append(RECEIPT_ALPHABET[bits & 31])
        bits >>= 5
    return "".join(reversed(chars))
