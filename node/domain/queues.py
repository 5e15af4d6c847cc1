"""The window's work queues (issue 12): which statuses of a node's cases each queue holds. The
names the pages and the CLI show are in node.pages.words; node.services.queues lists them."""

from __future__ import annotations

from enum import StrEnum

from node.domain.lifecycle import Status


class Queue(StrEnum):
    INTAKE = "intake"  # 待受理
    REVIEW = "review"  # 审查中
    SUPPLEMENT = "supplement"  # 补正中
    SPECIAL = "special"  # 特别程序
    DELIVERY = "delivery"  # 待送达
    OFFERS = "offers"  # 待接收: offers made to this node


STATUSES: dict[Queue, tuple[Status, ...]] = {
    Queue.INTAKE: (Status.FILED,),
    Queue.REVIEW: (Status.ACCEPTED, Status.UNDER_REVIEW),
    Queue.SUPPLEMENT: (Status.AWAITING_SUPPLEMENT,),
    Queue.SPECIAL: (Status.SPECIAL_PROCEDURE,),
    Queue.DELIVERY: (Status.APPROVED, Status.DENIED),
}
