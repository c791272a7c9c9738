"""codecs/kerberos_crypto.py: AES-CBC-CS3 as RFC 3962 does it (checked against minikerberos's
own, an implementation of its own), each profile's encrypt and decrypt inverse, a changed
byte or another key refused, and no profile for DES, 3DES or RC4. RFC 8009's keys and
messages are checked against MIT itself in tests/integration/test_outbound_kerberos.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from minikerberos.protocol.encryption import _AES256CTS, Key

from mfpd.codecs.kerberos_crypto import (
    PROFILES,
    EncKey,
    IntegrityError,
    cts_decrypt,
    cts_encrypt,
)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=16, max_size=100))
def test_cts_as_minikerberos_does_it(key: bytes, data: bytes) -> None:
    sealed = cts_encrypt(key, data)
    assert sealed == _AES256CTS.basic_encrypt(Key(18, key), data)
    assert cts_decrypt(key, sealed) == data


@pytest.mark.parametrize("etype", sorted(PROFILES))
@given(plain=st.binary(max_size=80), usage=st.integers(1, 30))
def test_profiles_round_trip_and_refuse(etype: int, plain: bytes, usage: int) -> None:
    profile = PROFILES[etype]
    key = EncKey(etype, bytes(range(profile.key_size)))
    sealed = profile.encrypt(key, usage, plain)
    assert profile.decrypt(key, usage, sealed) == plain
    other = EncKey(etype, bytes(profile.key_size))
    for wrong_key, wrong_usage, data in (
        (other, usage, sealed),
        (key, usage + 1, sealed),
        (key, usage, sealed[:-1] + bytes([sealed[-1] ^ 1])),
    ):
        with pytest.raises(IntegrityError):
            profile.decrypt(wrong_key, wrong_usage, data)
    assert len(profile.checksum(key, usage, plain)) in (12, 16, 24)


def test_no_weak_profiles() -> None:
    assert sorted(PROFILES) == [17, 18, 19, 20]
