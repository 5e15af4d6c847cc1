"""Entry bodies of electronic supervision and 好差评 follow-up (proto/yiwang/v1/supervision.proto):
alarms, acknowledgements and rectification steps, to and from protobuf bytes."""

from __future__ import annotations

from yiwang.v1 import supervision_pb2

from federation.wire.codec import parsed
from node.domain.entries import Kind
from node.domain.signoff import SignedChild, SignOff
from node.domain.supervision import Acknowledgement, Alarm, FollowUp

FOLLOW_UP_KINDS = {"callback": Kind.REVIEW_CALLED_BACK, "rectified": Kind.REVIEW_RECTIFIED}
STEP_OF_KIND = {kind.value: step for step, kind in FOLLOW_UP_KINDS.items()}


def alarm_body(a: Alarm) -> bytes:
    return supervision_pb2.SupervisionAlarm(
        rule=a.rule,
        level=a.level,
        case_no=a.case_no,
        division=a.division,
        item_code=a.item_code,
        custodian=a.custodian,
        due=a.due,
        detail=a.detail,
        period=a.period,
        department=a.department,
    ).SerializeToString(deterministic=True)


def alarm_from_body(body: bytes) -> Alarm:
    m = parsed(supervision_pb2.SupervisionAlarm(), body, "supervision alarm")
    return Alarm(
        m.rule, m.level, m.division, m.case_no, m.item_code, m.custodian, m.due, m.detail, m.period, m.department
    )


def ack_body(a: Acknowledgement) -> bytes:
    return supervision_pb2.AlarmAcknowledged(origin=a.origin, seq=a.seq, by=a.by, note=a.note).SerializeToString(
        deterministic=True
    )


def ack_from_body(body: bytes) -> Acknowledgement:
    m = parsed(supervision_pb2.AlarmAcknowledged(), body, "alarm acknowledgement")
    return Acknowledgement(m.origin, m.seq, m.by, m.note)


def follow_up_body(f: FollowUp) -> bytes:
    return supervision_pb2.ReviewFollowUp(
        case_no=f.case_no,
        by=f.by,
        note=f.note,
        handling=f.handling,
        filing=f.filing,
        item_code=f.item_code,
        channel=f.channel,
    ).SerializeToString(deterministic=True)


def follow_up_from_body(kind: str, body: bytes) -> FollowUp:
    m = parsed(supervision_pb2.ReviewFollowUp(), body, "review follow-up")
    return FollowUp(m.case_no, STEP_OF_KIND[kind], m.by, m.note, m.handling, m.filing, m.item_code, m.channel)


def signoff_body(s: SignOff) -> bytes:
    return supervision_pb2.StatsSignOff(
        period=s.period,
        division=s.division,
        by=s.by,
        counts=dict(s.counts),
        children=[
            supervision_pb2.SignedChild(division=c.division, seq=c.seq, entry_hash=c.entry_hash) for c in s.children
        ],
    ).SerializeToString(deterministic=True)


def signoff_from_body(body: bytes) -> SignOff:
    m = parsed(supervision_pb2.StatsSignOff(), body, "stats sign-off")
    children = tuple(SignedChild(c.division, c.seq, c.entry_hash) for c in m.children)
    return SignOff(m.period, m.division, m.by, dict(m.counts), children)
