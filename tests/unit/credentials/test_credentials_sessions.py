from __future__ import annotations

import base64
import string
import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyless import errors
from keyless.credentials import MasterKey, SessionClaims, mint_session, new_access_key, open_session
from keyless.credentials.sessions import TOKEN_VERSION

KEY = MasterKey.generate()
INVALID = "The security token included in the request is invalid."


def role_claims(**overrides: object) -> SessionClaims:
    akid, secret = new_access_key(temporary=True)
    claims = SessionClaims(
        access_key_id=akid,
        secret_access_key=secret,
        expiration=1_800_000_000.5,
        issued_at=1_799_996_400.25,
        account="123456789012",
        principal_type="AssumedRole",
        principal_arn="arn:aws:sts::123456789012:assumed-role/ec2-s3-access-role/i-0abc",
        role_arn="arn:aws:iam::123456789012:role/ec2-s3-access-role",
        role_id="AROAEXAMPLEEXAMPLE12",
        role_name="ec2-s3-access-role",
        session_name="i-0abc",
        source_identity="alice",
        session_tags={"Project": "blue", "Team": "ünïcode"},
        session_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}',
        policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        mfa=True,
        ec2={"ec2:SourceInstanceARN": "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
             "ec2:RoleDelivery": "2.0", "ec2:SourceInstancePrivateIPv4": "10.0.0.5", "ec2:SourceVpc": "vpc-1"},
    )
    return replace(claims, **overrides)  # type: ignore[arg-type]


def test_session_round_trip_keeps_every_claim() -> None:
    claims = role_claims()
    assert open_session(mint_session(claims, KEY), KEY) == claims


def test_user_session_round_trip_with_defaults() -> None:
    akid, secret = new_access_key(temporary=True)
    claims = SessionClaims(access_key_id=akid, secret_access_key=secret, expiration=2e9, issued_at=1e9,
                           account="123456789012", principal_type="User",
                           principal_arn="arn:aws:iam::123456789012:user/admin", user_id="AIDAEXAMPLEEXAMPLE12")
    opened = open_session(mint_session(claims, KEY), KEY)
    assert opened == claims
    assert opened.session_policy is None and opened.policy_arns == () and opened.session_tags == {}


def test_token_looks_opaque_and_hides_secret() -> None:
    claims = role_claims()
    token = mint_session(claims, KEY)
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert len(token) > 200
    assert claims.secret_access_key not in token and "ec2-s3-access-role" not in token
    assert mint_session(claims, KEY) != token  # fresh nonce each time


def test_token_carries_key_version() -> None:
    key_v2 = replace(MasterKey(KEY.key), version=2)
    assert open_session(mint_session(role_claims(), key_v2), key_v2).key_version == 2


def test_wrong_master_key_rejected() -> None:
    token = mint_session(role_claims(), KEY)
    with pytest.raises(errors.InvalidClientTokenId) as exc:
        open_session(token, MasterKey.generate())
    assert exc.value.message == INVALID


def test_every_character_changed_is_rejected() -> None:
    token = mint_session(role_claims(), KEY)
    alphabet = string.ascii_letters + string.digits + "-_"
    for i, ch in enumerate(token):
        for replacement in (alphabet[(alphabet.index(ch) + 1) % 64], alphabet[(alphabet.index(ch) + 33) % 64]):
            forged = token[:i] + replacement + token[i + 1:]
            with pytest.raises(errors.InvalidClientTokenId):
                open_session(forged, KEY)


def test_every_bit_of_the_binary_token_matters() -> None:
    token = mint_session(role_claims(), KEY)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for byte in range(len(raw)):
        for bit in (0, 7):
            raw[byte] ^= 1 << bit
            forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
            raw[byte] ^= 1 << bit
            with pytest.raises(errors.InvalidClientTokenId):
                open_session(forged, KEY)


@pytest.mark.parametrize("cut", [1, 2, 5, 17, 40])
def test_truncated_or_extended_tokens_rejected(cut: int) -> None:
    token = mint_session(role_claims(), KEY)
    for forged in (token[:-cut], token[cut:], token + "A" * cut, token + "=" * cut):
        with pytest.raises(errors.InvalidClientTokenId):
            open_session(forged, KEY)


@pytest.mark.parametrize("garbage", ["", "x", "FwoGZXIvYXdzEXAMPLE", "é" * 50, "A" * 20000, "!!!!"])
def test_garbage_tokens_rejected(garbage: str) -> None:
    with pytest.raises(errors.InvalidClientTokenId):
        open_session(garbage, KEY)


def test_sealed_but_malformed_claims_rejected() -> None:
    # Right key and format, but the plaintext is not a claims object: still just "invalid".
    header = bytes([TOKEN_VERSION]) + KEY.key_id
    for plain in (b"[1,2]", b"{}", b'{"zz":1}', b"not json"):
        nonce = b"\x00" * 12
        sealed = KEY.session_cipher.encrypt(nonce, zlib.compress(plain), header)
        token = base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode()
        with pytest.raises(errors.InvalidClientTokenId):
            open_session(token, KEY)


def test_claims_repr_hides_secret() -> None:
    claims = role_claims()
    assert claims.secret_access_key not in repr(claims)
    assert claims.access_key_id in repr(claims)


text = st.text(max_size=40)


@settings(max_examples=60)
@given(tags=st.dictionaries(text, text, max_size=5), policy=st.none() | st.text(max_size=300),
       arns=st.lists(text, max_size=3), source=st.none() | text, expiration=st.floats(0, 4e9),
       ec2=st.none() | st.dictionaries(text, text, min_size=1, max_size=3))
def test_any_claims_round_trip(tags: dict[str, str], policy: str | None, arns: list[str], source: str | None,
                               expiration: float, ec2: dict[str, str] | None) -> None:
    claims = role_claims(session_tags=tags, session_policy=policy, policy_arns=tuple(arns), source_identity=source,
                         expiration=expiration, ec2=ec2)
    assert open_session(mint_session(claims, KEY), KEY) == claims


def test_token_must_belong_to_the_signing_access_key() -> None:
    claims = role_claims()
    token = mint_session(claims, KEY)
    assert open_session(token, KEY, access_key_id=claims.access_key_id) == claims
    other_key_id, _ = new_access_key(temporary=True)
    with pytest.raises(errors.InvalidClientTokenId) as exc:
        open_session(token, KEY, access_key_id=other_key_id)
    assert exc.value.message == INVALID


def test_expiry_is_the_callers_comparison() -> None:
    claims = role_claims(expiration=1000.0)
    assert not claims.is_expired(999.9)
    assert claims.is_expired(1000.0) and claims.is_expired(5000)
    assert open_session(mint_session(claims, KEY), KEY).expiration == 1000.0  # opening never checks the clock
