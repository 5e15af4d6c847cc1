"""Entry bodies of the public streams (a door to the wire beside federation.wire.codec):
catalog items, calendar years, and the trust entries (certificates issued and revoked).
"""

from __future__ import annotations

import datetime as dt

from yiwang.v1 import catalog_pb2, federation_pb2

from federation.wire.codec import parsed
from node.domain.calendar import CalendarYear
from node.domain.catalog import CatalogItem, Material
from node.domain.errors import IntegrityError, InvalidInput
from node.domain.joint_review import JointReviewPlan, plan_from_dict

# --- catalog ---------------------------------------------------------------------------------


def item_to_pb(item: CatalogItem) -> catalog_pb2.CatalogItem:
    msg = catalog_pb2.CatalogItem(
        basic_code=item.basic_code,
        implementation_code=item.implementation_code,
        name=item.name,
        power_type=item.power_type,
        use_level=item.use_level,
        service_objects=list(item.service_objects),
        handling_forms=list(item.handling_forms),
        case_type=item.case_type,
        conditions=item.conditions,
        materials=[catalog_pb2.Material(name=m.name, required=m.required, note=m.note) for m in item.materials],
        fee=item.fee,
        legal_basis=item.legal_basis,
        department=item.department,
        dept_credit_code=item.dept_credit_code,
        division_code=item.division_code,
        agent_allowed=item.agent_allowed,
        cross_region=item.cross_region,
        group=item.group,
        limits_source=item.limits_source,
    )
    if item.joint_review is not None:
        msg.joint_review.CopyFrom(plan_to_pb(item.joint_review))
    if item.legal_limit_days is not None:
        msg.legal_limit_days = item.legal_limit_days
    if item.promised_limit_days is not None:
        msg.promised_limit_days = item.promised_limit_days
    return msg


def item_from_pb(msg: catalog_pb2.CatalogItem) -> CatalogItem:
    return CatalogItem(
        basic_code=msg.basic_code,
        implementation_code=msg.implementation_code,
        name=msg.name,
        power_type=msg.power_type,
        division_code=msg.division_code,
        department=msg.department,
        dept_credit_code=msg.dept_credit_code,
        use_level=msg.use_level,
        service_objects=tuple(msg.service_objects),
        handling_forms=tuple(msg.handling_forms),
        case_type=msg.case_type,
        legal_limit_days=msg.legal_limit_days if msg.HasField("legal_limit_days") else None,
        promised_limit_days=msg.promised_limit_days if msg.HasField("promised_limit_days") else None,
        conditions=msg.conditions,
        materials=tuple(Material(m.name, m.required, m.note) for m in msg.materials),
        fee=msg.fee,
        legal_basis=msg.legal_basis,
        agent_allowed=msg.agent_allowed,
        cross_region=msg.cross_region,
        group=msg.group,
        limits_source=msg.limits_source,
        joint_review=plan_from_pb(msg.joint_review) if msg.HasField("joint_review") else None,
    )


def plan_to_pb(plan: JointReviewPlan) -> catalog_pb2.JointReviewPlan:
    return catalog_pb2.JointReviewPlan(
        mode=plan.mode.value,
        limit_days=plan.limit_days,
        reviewers=[
            catalog_pb2.PlannedReviewer(
                department=r.department, name=r.name, node=r.node, limit_days=r.limit_days, silence=r.silence.value
            )
            for r in plan.reviewers
        ],
    )


def plan_from_pb(msg: catalog_pb2.JointReviewPlan) -> JointReviewPlan:
    """A received plan, checked as an import checks it: one that does not check out is an
    integrity error, as a body that does not decode is."""
    try:
        return _plan_from_pb(msg)
    except InvalidInput as exc:
        raise IntegrityError(f"catalog item body: joint-review plan {exc}") from None


def _plan_from_pb(msg: catalog_pb2.JointReviewPlan) -> JointReviewPlan:
    return plan_from_dict(
        {
            "mode": msg.mode,
            "limit_days": msg.limit_days or None,
            "reviewers": [
                {
                    "department": r.department,
                    "name": r.name,
                    "node": r.node,
                    "limit_days": r.limit_days or None,
                    "silence": r.silence,
                }
                for r in msg.reviewers
            ],
        }
    )


def calendar_to_pb(year: CalendarYear) -> catalog_pb2.CalendarYear:
    return catalog_pb2.CalendarYear(
        year=year.year,
        holidays=sorted(d.isoformat() for d in year.holidays),
        workdays=sorted(d.isoformat() for d in year.workdays),
        source=year.source,
    )


def calendar_from_pb(msg: catalog_pb2.CalendarYear) -> CalendarYear:
    return CalendarYear(
        year=msg.year,
        holidays=frozenset(dt.date.fromisoformat(d) for d in msg.holidays),
        workdays=frozenset(dt.date.fromisoformat(d) for d in msg.workdays),
        source=msg.source,
    )


def item_from_body(body: bytes) -> CatalogItem:
    return item_from_pb(parsed(catalog_pb2.CatalogItem(), body, "catalog item"))


def calendar_from_body(body: bytes) -> CalendarYear:
    return calendar_from_pb(parsed(catalog_pb2.CalendarYear(), body, "calendar"))


def delegation_body(division: str, allowed: bool, note: str) -> bytes:
    return catalog_pb2.CalendarDelegation(division=division, allowed=allowed, note=note).SerializeToString()


def delegation_from_body(body: bytes) -> tuple[str, bool, str]:
    msg = parsed(catalog_pb2.CalendarDelegation(), body, "calendar delegation")
    return msg.division, msg.allowed, msg.note


def endorsement_body(division: str, seq: int, year: CalendarYear) -> bytes:
    return catalog_pb2.LocalCalendar(division=division, seq=seq, year=calendar_to_pb(year)).SerializeToString()


def endorsement_from_body(body: bytes) -> tuple[str, int, CalendarYear]:
    msg = parsed(catalog_pb2.LocalCalendar(), body, "local calendar")
    return msg.division, msg.seq, calendar_from_pb(msg.year)


def issued_body(code: str, der: bytes, fingerprint: str) -> bytes:
    """The body of a cert_issued (or anchor_added) entry."""
    return federation_pb2.CertificateIssued(code=code, der=der, fingerprint=fingerprint).SerializeToString()


def revoked_body(code: str, fingerprint: str, reason: str) -> bytes:
    """The body of a cert_revoked entry."""
    return federation_pb2.CertificateRevoked(code=code, fingerprint=fingerprint, reason=reason).SerializeToString()


def issued_from_body(body: bytes) -> tuple[str, bytes]:
    """(code, certificate DER) of a cert_issued entry."""
    msg = parsed(federation_pb2.CertificateIssued(), body, "cert_issued")
    return msg.code, msg.der


def revoked_from_body(body: bytes) -> tuple[str, str]:
    """(code, fingerprint) of a cert_revoked entry."""
    msg = parsed(federation_pb2.CertificateRevoked(), body, "cert_revoked")
    return msg.code, msg.fingerprint


# --- the province's division list ------------------------------------------------------------


def division_part_body(root: str, rows: list[tuple[str, str]]) -> bytes:
    """The body of a divisions_published entry: one part of the province's tree."""
    part = catalog_pb2.DivisionPart(root=root, rows=[catalog_pb2.Division(code=c, name=n) for c, n in rows])
    return part.SerializeToString()


def division_part_from_body(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    msg = parsed(catalog_pb2.DivisionPart(), body, "division list part")
    return msg.root, [(r.code, r.name) for r in msg.rows]
