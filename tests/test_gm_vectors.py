"""The national algorithms against the standards' published examples (issue 15): SM3 (GB/T
32905-2016, appendix A), SM4 (GB/T 32907-2016, appendix A), SM4-GCM (RFC 8998, appendix A.1)
and SM2 signatures over the Z value of the default user id (GB/T 32918.5-2017 appendix A,
which gives the signature example on the recommended curve; GB/T 32918.2's own example is on a
test curve no production library loads)."""

from __future__ import annotations

import pytest

from federation.wire import gm
from node.domain.errors import BadSignature


def test_sm3_examples_of_gbt_32905() -> None:
    assert gm.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert gm.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm4_examples_of_gbt_32907() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encrypt = gm.sm4_block_encryptor(key)
    assert encrypt(key).hex() == "681edf34d206965e86b3e94f536e4246"  # example 1: the key as plaintext
    block = key
    for _ in range(1_000_000):  # example 2: encrypted a million times over
        block = encrypt(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


_GCM_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
_GCM_NONCE = bytes.fromhex("00001234567800000000ABCD")
_GCM_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
_GCM_PLAIN = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
_GCM_SEALED = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    "83DE3541E4C2B58177E065A9BF7B62EC"
)


def test_sm4_gcm_example_of_rfc_8998() -> None:
    assert gm.sm4_gcm_seal(_GCM_KEY, _GCM_NONCE, _GCM_PLAIN, _GCM_AAD) == _GCM_SEALED
    assert gm.sm4_gcm_open(_GCM_KEY, _GCM_NONCE, _GCM_SEALED, _GCM_AAD) == _GCM_PLAIN
    for at in (0, 63, 79):  # the ciphertext, its last byte, the tag
        damaged = bytearray(_GCM_SEALED)
        damaged[at] ^= 1
        with pytest.raises(BadSignature, match="SM4-GCM"):
            gm.sm4_gcm_open(_GCM_KEY, _GCM_NONCE, bytes(damaged), _GCM_AAD)
    with pytest.raises(BadSignature):
        gm.sm4_gcm_open(_GCM_KEY, _GCM_NONCE, _GCM_SEALED, _GCM_AAD + b"x")


# GB/T 32918.5-2017 appendix A (GM/T 0003.5-2012 A.2): message "message digest", user id
# 1234567812345678, on the recommended curve
_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


def test_sm2_signature_example_verifies_with_the_default_user_id() -> None:
    public = gm.Sm2PublicKey.from_point(_X, _Y)
    signature = gm.der_signature(_R, _S)
    assert public.verify(signature, b"message digest")
    assert not public.verify(signature, b"message digesT")
    assert not public.verify(gm.der_signature(_R, _S ^ 1), b"message digest")
    assert not public.verify(b"not der", b"message digest")
    # the private value of the example gives the example's public key, and its signatures verify
    private = gm.Sm2PrivateKey.from_value(_D)
    assert private.public_key().point() == (_X, _Y)
    mine = private.sign(b"message digest")
    assert mine != signature  # a fresh k each time
    assert public.verify(mine, b"message digest")
    assert not gm.Sm2PrivateKey.generate().public_key().verify(mine, b"message digest")


def test_a_point_off_the_curve_is_refused() -> None:
    with pytest.raises(BadSignature, match="SM2 curve"):
        gm.Sm2PublicKey.from_point(_X, _Y + 1)


def test_sm2_encryption_example_opens_and_a_fresh_ciphertext_round_trips() -> None:
    """GB/T 32918.5-2017 appendix A's encryption of "encryption standard" (k = 59276E27...), as
    GM/T 0009 writes it (C1 x, C1 y, C3, C2), opens with the example's private key."""
    published = bytes.fromhex(
        "307c022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E"
        "5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D3"
        "0383B54E39D609D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA"
    )
    private = gm.Sm2PrivateKey.from_value(_D)
    assert private.decrypt(published) == b"encryption standard"
    secret = bytes(range(16))
    fresh = private.public_key().encrypt(secret)
    assert fresh != private.public_key().encrypt(secret) and private.decrypt(fresh) == secret
    damaged = bytearray(fresh)
    damaged[-1] ^= 1
    with pytest.raises(BadSignature, match="does not open"):
        private.decrypt(bytes(damaged))
    with pytest.raises(BadSignature):
        gm.Sm2PrivateKey.generate().decrypt(fresh)  # another key
    assert private.decrypt(fresh) == secret  # and Tongsuo's error stack is clean after the refusals


def test_sm2_keys_round_trip_as_pem_and_other_kinds_are_not_taken() -> None:
    private = gm.Sm2PrivateKey.generate()
    again = gm.Sm2PrivateKey.from_pem(private.pem())
    assert again is not None and again.public_key().point() == private.public_key().point()
    public = gm.Sm2PublicKey.from_pem(private.public_key().pem())
    assert public is not None and public.der() == private.public_key().der()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert gm.Sm2PrivateKey.from_pem(pem) is None and gm.Sm2PrivateKey.from_pem(b"junk") is None
    spki = p256.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert gm.Sm2PublicKey.from_pem(spki) is None
