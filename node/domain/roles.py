"""Who may do what (issue 10, DESIGN.md section 14): the roles of a node's operators and API
clients, the actions of the CLI, the local API and the consoles, and the one table between
them. Every adapter authorises through `authorize` before it calls a use case, and the actor it
records is the authenticated principal's name, never a string the caller supplied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from node.domain.errors import Forbidden, InvalidInput
from node.domain.lifecycle import CaseCommand, Command


class Role(StrEnum):
    CLERK = "clerk"  # 受理: files and accepts at the window, asks for supplements, delivers
    REVIEWER = "reviewer"  # 审查: reviews, asks for supplements, suspends and resumes the clock
    DECIDER = "decider"  # 决定: approves or denies, issues licences
    SUPERVISOR = "supervisor"  # 监察: reads cases, statistics and the audit; acknowledges alarms, signs figures
    AGENT = "agent"  # 代办员: files errands for residents at a village
    ADMIN = "admin"  # the node's administrator: everything, accounts included


ROLE_LABELS = {
    Role.CLERK: "受理",
    Role.REVIEWER: "审查",
    Role.DECIDER: "决定",
    Role.SUPERVISOR: "监察",
    Role.AGENT: "代办员",
    Role.ADMIN: "管理员",
}


class Action(StrEnum):
    READ_CATALOG = "read_catalog"
    READ_CASES = "read_cases"
    READ_AUDIT = "read_audit"
    FILE = "file"
    FILE_ERRAND = "file_errand"
    ACCEPT = "accept"  # accept or refuse to accept
    REVIEW = "review"
    SUPPLEMENT = "supplement"  # ask for or record supplements
    CLOCK = "clock"  # suspend or resume for a special procedure
    DECIDE = "decide"
    DELIVER = "deliver"
    WITHDRAW = "withdraw"
    EVALUATE = "evaluate"
    CUSTODY = "custody"  # offer, take or decline a case
    MANAGE = "manage"  # catalog, calendar, enrollment, accounts, notices
    READ_STATS = "read_stats"  # statistics and supervision alarms (no personal data)
    ACKNOWLEDGE = "acknowledge"  # acknowledge a supervision alarm (电子监察)
    FOLLOW_UP = "follow_up"  # a 差评's callback (回访) and rectification (整改)
    SIGN_OFF = "sign_off"  # sign the subtree's monthly figures
    REVEAL = "reveal"  # see an applicant's data and material files in full (each time recorded)
    OPINE = "opine"  # answer a joint review's request with a department's opinion (协办意见)


_READ = frozenset({Action.READ_CATALOG, Action.READ_CASES, Action.READ_STATS})
ROLE_TABLE: dict[Role, frozenset[Action]] = {
    Role.CLERK: _READ
    | {
        Action.FILE,
        Action.ACCEPT,
        Action.SUPPLEMENT,
        Action.DELIVER,
        Action.WITHDRAW,
        Action.EVALUATE,
        Action.CUSTODY,
        Action.FOLLOW_UP,
        Action.REVEAL,
    },
    Role.REVIEWER: _READ
    | {Action.REVIEW, Action.SUPPLEMENT, Action.CLOCK, Action.CUSTODY, Action.REVEAL, Action.OPINE},
    Role.DECIDER: _READ | {Action.DECIDE, Action.CUSTODY, Action.REVEAL},
    Role.SUPERVISOR: _READ | {Action.READ_AUDIT, Action.ACKNOWLEDGE, Action.SIGN_OFF},
    Role.AGENT: _READ | {Action.FILE_ERRAND, Action.DELIVER, Action.EVALUATE, Action.CUSTODY, Action.REVEAL},
    Role.ADMIN: frozenset(Action),
}

_ACTION_OF_COMMAND: dict[Command, Action] = {
    Command.FILE: Action.FILE,
    Command.ACCEPT: Action.ACCEPT,
    Command.REJECT: Action.ACCEPT,
    Command.REVIEW: Action.REVIEW,
    Command.REQUEST_SUPPLEMENT: Action.SUPPLEMENT,
    Command.SUPPLEMENT: Action.SUPPLEMENT,
    Command.SUSPEND: Action.CLOCK,
    Command.RESUME: Action.CLOCK,
    Command.DECIDE_APPROVE: Action.DECIDE,
    Command.DECIDE_DENY: Action.DECIDE,
    Command.DELIVER: Action.DELIVER,
    Command.WITHDRAW: Action.WITHDRAW,
    Command.EVALUATE: Action.EVALUATE,
    Command.OFFER_CUSTODY: Action.CUSTODY,
    Command.ACCEPT_CUSTODY: Action.CUSTODY,
    Command.DECLINE_CUSTODY: Action.CUSTODY,
    Command.WITHDRAW_OFFER: Action.CUSTODY,
    Command.REQUEST_REVIEW: Action.REVIEW,
    Command.LAPSE_REVIEW: Action.REVIEW,
}
assert set(_ACTION_OF_COMMAND) == set(Command), "every lifecycle command needs its action"


def action_of(cmd: CaseCommand) -> Action:
    return _ACTION_OF_COMMAND[cmd.command]


def action_of_command(command: Command) -> Action:
    return _ACTION_OF_COMMAND[command]


@dataclass(frozen=True)
class Principal:
    """An authenticated operator (`user`), API client (`client`), or the node's administrator
    acting through the CLI on the node's machine (`admin`, proven by file permissions)."""

    name: str
    roles: frozenset[Role]
    kind: str = "user"

    def may(self, action: Action) -> bool:
        return any(action in ROLE_TABLE[r] for r in self.roles)


def authorize(principal: Principal, action: Action) -> str:
    """The name to record as the actor; Forbidden when no role of `principal` allows `action`."""
    if not principal.may(action):
        held = ", ".join(sorted(r.value for r in principal.roles)) or "none"
        raise Forbidden(f"{principal.name} (roles: {held}) may not {action.value}")
    return principal.name


def parse_roles(values: list[str] | tuple[str, ...]) -> frozenset[Role]:
    roles = set()
    for v in values:
        try:
            roles.add(Role(v))
        except ValueError:
            raise InvalidInput("--role", f"one of {', '.join(Role)}") from None
    if not roles:
        raise InvalidInput("--role", f"give at least one of {', '.join(Role)}")
    return frozenset(roles)
