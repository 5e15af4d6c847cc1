"""Storage of what a case carries besides its outline: sealed bundles (the applicant's data),
sealed material files and the chunks they travel in, and electronic licences. Only the
filing and the handling nodes hold any of it (DESIGN.md section 5)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update

from node.store.base import TxBase
from node.store.tables import LICENSES, MATERIAL_CHUNKS, MATERIALS, SEALED_BUNDLES


class MaterialsTx(TxBase):
    # -- sealed bundles -------------------------------------------------------------------

    def put_bundles(self, rows: Sequence[tuple[bytes, str, bytes]]) -> None:
        """Sealed bundles as (hash, case_no, sealed)."""
        if rows:
            self._insert_many("sealed_bundles", ("hash", "case_no", "sealed"), rows)

    def bundles_of_case(self, case_no: str) -> list[bytes]:
        """The sealed bundles this node keeps for a case (a reviewer node without the case)."""
        rows = self.conn.execute(select(SEALED_BUNDLES.c.sealed).where(SEALED_BUNDLES.c.case_no == case_no)).all()
        return [bytes(r.sealed) for r in rows]

    def bundle(self, hash_: bytes) -> bytes | None:
        row = self.conn.execute(select(SEALED_BUNDLES.c.sealed).where(SEALED_BUNDLES.c.hash == hash_)).first()
        return None if row is None else bytes(row.sealed)

    # -- licences ------------------------------------------------------------------------

    def put_license(self, license_no: str, case_no: str, issuer: str, signed: bytes, at_us: int) -> None:
        if self.license(license_no) is None:
            row = {"license_no": license_no, "case_no": case_no, "issuer": issuer, "signed": signed}
            self.conn.execute(insert(LICENSES), {**row, "stored_at_us": at_us})

    def license(self, license_no: str) -> bytes | None:
        row = self.conn.execute(select(LICENSES.c.signed).where(LICENSES.c.license_no == license_no)).first()
        return None if row is None else bytes(row.signed)

    def stored_licenses(self) -> list[tuple[str, bytes]]:
        """(number, stored bytes) of every licence kept here (to seal them again)."""
        c = LICENSES.c
        return [(r.license_no, bytes(r.signed)) for r in self.conn.execute(select(c.license_no, c.signed))]

    def replace_license(self, license_no: str, stored: bytes) -> None:
        self.conn.execute(update(LICENSES).where(LICENSES.c.license_no == license_no).values(signed=stored))

    def license_nos(self, limit: int = 50) -> list[str]:
        """Numbers of the licences this node keeps, newest first."""
        c = LICENSES.c
        return list(self.conn.execute(select(c.license_no).order_by(c.stored_at_us.desc()).limit(limit)).scalars())

    # -- material files -------------------------------------------------------------------

    def held_materials(self, digests: Sequence[str]) -> set[str]:
        c = MATERIALS.c
        return set(self.conn.execute(select(c.digest).where(c.digest.in_(list(digests)))).scalars())

    def put_materials(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        """Sealed material files as (digest, size, sealed)."""
        if rows:
            self.conn.execute(insert(MATERIALS), [{"digest": d, "size": n, "sealed": s} for d, n, s in rows])

    def material(self, digest: str) -> bytes | None:
        row = self.conn.execute(select(MATERIALS.c.sealed).where(MATERIALS.c.digest == digest)).first()
        return None if row is None else bytes(row.sealed)

    def put_chunk(self, sealed_hash: bytes, idx: int, count: int, digest: str, data: bytes) -> list[bytes] | None:
        """Keep one chunk; when all `count` chunks are here, return them in order (and drop them)."""
        c = MATERIAL_CHUNKS.c
        key = (c.sealed_hash == sealed_hash, c.idx == idx)
        if self.conn.execute(select(c.idx).where(*key)).first() is None:
            row = {"sealed_hash": sealed_hash, "idx": idx, "count": count, "digest": digest, "data": data}
            self.conn.execute(insert(MATERIAL_CHUNKS), row)
        rows = self.conn.execute(select(c.idx, c.data).where(c.sealed_hash == sealed_hash).order_by(c.idx)).all()
        if len(rows) < count:
            return None
        self.conn.execute(delete(MATERIAL_CHUNKS).where(c.sealed_hash == sealed_hash))
        return [bytes(r.data) for r in rows]
