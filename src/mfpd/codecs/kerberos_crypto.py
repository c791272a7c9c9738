"""The Kerberos encryption types a login may use, and nothing else: AES with HMAC-SHA1
(RFC 3962: aes256-cts-hmac-sha1-96 = 18, aes128 = 17; minikerberos's profiles) and AES with
HMAC-SHA2 (RFC 8009: aes128-cts-hmac-sha256-128 = 19, aes256-cts-hmac-sha384-192 = 20; here,
with `cryptography`, as minikerberos has no profile for them).

DES (RFC 6649), triple DES and RC4 (RFC 8429) have no profile here, so no code path can make,
use or accept one of their keys."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from minikerberos.protocol.encryption import InvalidChecksum, Key, _checksum_table, _enctype_table

BLOCK = 16


class IntegrityError(ValueError):
    """A ciphertext whose HMAC does not verify under the key (the key is not the sender's)."""


@dataclass(frozen=True)
class EncKey:
    etype: int
    contents: bytes


class Profile(Protocol):
    etype: int
    checksum_type: int
    key_size: int

    def string_to_key(self, password: bytes, salt: bytes, params: bytes | None) -> EncKey: ...
    def encrypt(self, key: EncKey, usage: int, plain: bytes) -> bytes: ...
    def decrypt(self, key: EncKey, usage: int, cipher: bytes) -> bytes: ...
    def checksum(self, key: EncKey, usage: int, data: bytes) -> bytes: ...


class _Sha1Aes:
    """RFC 3962, through minikerberos (its DK, CTS and HMAC-SHA1-96)."""

    def __init__(self, etype: int, checksum_type: int, key_size: int) -> None:
        self.etype, self.checksum_type, self.key_size = etype, checksum_type, key_size
        self._profile = _enctype_table[etype]

    def _key(self, key: EncKey) -> Key:
        return Key(self.etype, key.contents)

    def string_to_key(self, password: bytes, salt: bytes, params: bytes | None) -> EncKey:
        # RFC 3962 4: PBKDF2-HMAC-SHA1 (hashlib's: minikerberos's own is far slower), then
        # DK(random-to-key(seed), "kerberos") with minikerberos's DK.
        iterations = int.from_bytes(params, "big") if params else 4096
        seed = hashlib.pbkdf2_hmac("sha1", password, salt, iterations, self.key_size)
        key = self._profile.derive(self._profile.random_to_key(seed), b"kerberos")
        return EncKey(self.etype, bytes(key.contents))

    def encrypt(self, key: EncKey, usage: int, plain: bytes) -> bytes:
        return bytes(self._profile.encrypt(self._key(key), usage, plain, None))

    def decrypt(self, key: EncKey, usage: int, cipher: bytes) -> bytes:
        try:
            return bytes(self._profile.decrypt(self._key(key), usage, cipher))
        except InvalidChecksum:
            raise IntegrityError("ciphertext integrity failure") from None

    def checksum(self, key: EncKey, usage: int, data: bytes) -> bytes:
        profile = _checksum_table[self.checksum_type]
        return bytes(profile.checksum(self._key(key), usage, data))


class _Sha2Aes:
    """RFC 8009: PBKDF2-HMAC-SHA256/384 over the enctype's name and the salt (4), keys made
    with KDF-HMAC-SHA2 (3, 5), AES-CBC-CS3 with a confounder, then HMAC over IV | C."""

    def __init__(self, etype: int, name: str, key_size: int, mac_size: int, hash_name: str) -> None:
        self.etype, self.checksum_type, self.key_size = etype, etype, key_size
        self.name, self.mac_size, self.hash_name = name.encode(), mac_size, hash_name

    def kdf(self, key: bytes, label: bytes, bits: int) -> bytes:
        """KDF-HMAC-SHA2(key, label, k) of RFC 8009 3: one HMAC block is enough here."""
        message = (1).to_bytes(4, "big") + label + b"\x00" + bits.to_bytes(4, "big")
        return hmac.new(key, message, self.hash_name).digest()[: bits // 8]

    def string_to_key(self, password: bytes, salt: bytes, params: bytes | None) -> EncKey:
        iterations = int.from_bytes(params, "big") if params else 32768  # RFC 8009 4
        salted = self.name + b"\x00" + salt
        seed = hashlib.pbkdf2_hmac(self.hash_name, password, salted, iterations, self.key_size)
        return EncKey(self.etype, self.kdf(seed, b"kerberos", self.key_size * 8))

    def _keys(self, key: EncKey, usage: int) -> tuple[bytes, bytes]:
        base = usage.to_bytes(4, "big")
        ke = self.kdf(key.contents, base + b"\xaa", self.key_size * 8)
        ki = self.kdf(key.contents, base + b"\x55", self.mac_size * 8)
        return ke, ki

    def encrypt(self, key: EncKey, usage: int, plain: bytes) -> bytes:
        ke, ki = self._keys(key, usage)
        sealed = cts_encrypt(ke, os.urandom(BLOCK) + plain)
        mac = hmac.new(ki, bytes(BLOCK) + sealed, self.hash_name).digest()[: self.mac_size]
        return sealed + mac

    def decrypt(self, key: EncKey, usage: int, cipher: bytes) -> bytes:
        if len(cipher) < BLOCK + self.mac_size:
            raise ValueError("ciphertext too short")
        ke, ki = self._keys(key, usage)
        sealed, mac = cipher[: -self.mac_size], cipher[-self.mac_size :]
        expected = hmac.new(ki, bytes(BLOCK) + sealed, self.hash_name).digest()[: self.mac_size]
        if not hmac.compare_digest(mac, expected):
            raise IntegrityError("ciphertext integrity failure")
        return cts_decrypt(ke, sealed)[BLOCK:]

    def checksum(self, key: EncKey, usage: int, data: bytes) -> bytes:
        kc = self.kdf(key.contents, usage.to_bytes(4, "big") + b"\x99", self.mac_size * 8)
        return hmac.new(kc, data, self.hash_name).digest()[: self.mac_size]


def cts_encrypt(key: bytes, data: bytes) -> bytes:
    """AES-CBC-CS3 with a zero IV (RFC 3962 5, RFC 8009 5): CBC, the last two blocks
    swapped and the final one cut to the length of the last plaintext block."""
    if len(data) < BLOCK:
        raise ValueError("CTS needs a block at least")
    padded = data + bytes(-len(data) % BLOCK)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).encryptor()
    sealed = encryptor.update(padded) + encryptor.finalize()
    if len(data) == BLOCK:
        return sealed
    tail = len(data) % BLOCK or BLOCK
    return sealed[: -2 * BLOCK] + sealed[-BLOCK:] + sealed[-2 * BLOCK : -BLOCK][:tail]


def cts_decrypt(key: bytes, data: bytes) -> bytes:
    if len(data) < BLOCK:
        raise ValueError("CTS needs a block at least")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()

    def block(chunk: bytes) -> bytes:
        return decryptor.update(chunk)

    if len(data) == BLOCK:
        return block(data)
    tail = len(data) % BLOCK or BLOCK
    front, last_full, last_part = data[: -BLOCK - tail], data[-BLOCK - tail : -tail], data[-tail:]
    plain = b""
    previous = bytes(BLOCK)
    for at in range(0, len(front), BLOCK):
        chunk = front[at : at + BLOCK]
        plain += _xor(block(chunk), previous)
        previous = chunk
    # The swapped pair: the full block is the encryption of the zero-padded last plaintext
    # block; its tail gives back the bytes of the other block that encryption cut off.
    opened = block(last_full)
    other = last_part + opened[tail:]
    plain += _xor(block(other), previous)
    plain += _xor(opened[:tail], last_part)
    return plain


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=False))


# Strongest first: the order of a request's etype list (RFC 4120 5.2.7.5: the KDC takes the
# first it holds a key for). 256-bit keys before 128-bit ones, SHA-2 before SHA-1 at each.
PROFILES: dict[int, Profile] = {
    20: _Sha2Aes(20, "aes256-cts-hmac-sha384-192", 32, 24, "sha384"),
    18: _Sha1Aes(18, 16, 32),
    19: _Sha2Aes(19, "aes128-cts-hmac-sha256-128", 16, 16, "sha256"),
    17: _Sha1Aes(17, 15, 16),
}
