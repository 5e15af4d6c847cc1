"""Benchmark: which library carries the national algorithms (issue 15, "the library chosen by
measurement among well-kept ones").

In one run, on the same messages (a 300-byte entry head, a 64 KiB material chunk):
- SM2 sign and verify with tongsuopy (Tongsuo, C) and with gmalg (pure Python), next to P-256
  sign and verify with pyca/cryptography, today's suite;
- SM3 next to SHA-256, and SM4-GCM next to AES-128-GCM (tongsuopy; pyca/cryptography).
Each figure is operations per second, with its ratio to the P-256 / SHA-256 / AES-GCM figure of
the same run. Bounded by --seconds per measurement. Run: `python bench/gm_libraries.py`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from federation.wire import gm

HEAD = os.urandom(300)
CHUNK = os.urandom(64 * 1024)


def rate(op: Callable[[], object], seconds: float, cap: int = 200_000) -> float:
    """Operations per second of `op`, run for about `seconds` (at most `cap` times)."""
    op()  # warm up (imports, first-use tables)
    n, start = 0, time.perf_counter()
    while n < cap and time.perf_counter() - start < seconds:
        op()
        n += 1
    return n / (time.perf_counter() - start)


def p256(seconds: float) -> tuple[float, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    sig = key.sign(HEAD, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    return (
        rate(lambda: key.sign(HEAD, ec.ECDSA(hashes.SHA256())), seconds),
        rate(lambda: pub.verify(sig, HEAD, ec.ECDSA(hashes.SHA256())), seconds),
    )


def sm2_tongsuopy(seconds: float) -> tuple[float, float]:
    key = gm.Sm2PrivateKey.generate()
    sig, pub = key.sign(HEAD), key.public_key()
    return rate(lambda: key.sign(HEAD), seconds), rate(lambda: pub.verify(sig, HEAD), seconds)


def sm2_gmalg(seconds: float) -> tuple[float, float] | None:
    try:
        import gmalg
    except ImportError:
        return None
    d = os.urandom(31) + b"\x01"
    signer = gmalg.SM2(sk=d, uid=gm.DEFAULT_ID)
    verifier = gmalg.SM2(pk=signer.generate_pk(d), uid=gm.DEFAULT_ID)
    r, s = signer.sign(HEAD)
    return rate(lambda: signer.sign(HEAD), seconds), rate(lambda: verifier.verify(HEAD, r, s), seconds)


def sha256() -> None:
    h = hashes.Hash(hashes.SHA256())
    h.update(CHUNK)
    h.finalize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    t = args.seconds
    base_sign, base_verify = p256(t)
    rows: list[tuple[str, float, float]] = [("P-256 (pyca/cryptography)", base_sign, base_verify)]
    ts_sign, ts_verify = sm2_tongsuopy(t)
    rows.append(("SM2 (tongsuopy)", ts_sign, ts_verify))
    pure = sm2_gmalg(t)
    print(f"{'signatures':28s} {'sign/s':>10s} {'x P-256':>8s} {'verify/s':>10s} {'x P-256':>8s}")
    if pure is not None:
        rows.append(("SM2 (gmalg, pure Python)", *pure))
    for name, sign, verify in rows:
        print(f"{name:28s} {sign:10.0f} {sign / base_sign:8.3f} {verify:10.0f} {verify / base_verify:8.3f}")
    if pure is None:
        print("SM2 (gmalg): not installed (pip install gmalg) - not measured")
    aes, key, nonce = AESGCM(os.urandom(16)), os.urandom(16), os.urandom(12)
    base_hash = rate(sha256, t)
    base_seal = rate(lambda: aes.encrypt(nonce, CHUNK, None), t)
    sm3 = rate(lambda: gm.sm3(CHUNK), t)
    sm4 = rate(lambda: gm.sm4_gcm_seal(key, nonce, CHUNK), t)
    mib = len(CHUNK) / 2**20
    print(f"{'64 KiB chunks':28s} {'MiB/s':>10s} {'ratio':>8s}")
    print(f"{'SHA-256 (pyca)':28s} {base_hash * mib:10.1f} {1:8.3f}")
    print(f"{'SM3 (tongsuopy)':28s} {sm3 * mib:10.1f} {sm3 / base_hash:8.3f}")
    print(f"{'AES-128-GCM (pyca)':28s} {base_seal * mib:10.1f} {1:8.3f}")
    print(f"{'SM4-GCM (tongsuopy)':28s} {sm4 * mib:10.1f} {sm4 / base_seal:8.3f}")


if __name__ == "__main__":
    main()
