"""Bounds on what a caller may write (issue 10): every free-text and identifier field of every
command, entry and request has a maximum length in characters and in UTF-8 bytes and a set of
allowed characters, checked here before anything is written. docs/protocol.md lists them.

The entry size bounds derive from the same constants: no entry body may exceed
MAX_ENTRY_BODY, which fits a batch (sync.batches) and a bus message (node.app.bus) with room
for their headers, so one oversized write can never stall a link or the bus.

A refusal names the field and the bound and never echoes the value (which may be huge, or
someone's data).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields
from enum import StrEnum

from node.domain.errors import InvalidInput


class Chars(StrEnum):
    TEXT = "text"  # any printable text; line breaks and tabs allowed, no other control character
    LINE = "line"  # one line of printable text: no control character at all
    CODE = "code"  # ASCII letters, digits and . _ : / - (case numbers, item and licence codes)
    DIGITS = "digits"  # ASCII digits only (division codes)


@dataclass(frozen=True)
class Bound:
    max_chars: int
    chars: Chars
    what: str  # for docs/protocol.md

    @property
    def max_bytes(self) -> int:
        """UTF-8 bytes: three per character for text (CJK), one for ASCII-only kinds."""
        return self.max_chars * (3 if self.chars in (Chars.TEXT, Chars.LINE) else 1)


BOUNDS: dict[str, Bound] = {
    "actor": Bound(64, Chars.LINE, "who acted: an operator's account or an API client's principal"),
    "reason": Bound(1000, Chars.TEXT, "a refusal, denial, withdrawal, suspension, supplement or custody reason"),
    "materials": Bound(100, Chars.LINE, "the name of one material asked for or handed in (每项)"),
    "procedure": Bound(32, Chars.CODE, "a special procedure's name"),
    "result_ref": Bound(100, Chars.LINE, "the reference of a decision's result document"),
    "method": Bound(32, Chars.LINE, "how a result was delivered"),
    "channel": Bound(32, Chars.LINE, "a filing's channel code or where an evaluation was given"),
    "purpose": Bound(32, Chars.CODE, "why custody is offered"),
    "case_no": Bound(50, Chars.CODE, "a case number"),
    "item_code": Bound(64, Chars.CODE, "a catalog item's implementation code"),
    "license_no": Bound(80, Chars.CODE, "an electronic licence's number"),
    "division": Bound(12, Chars.DIGITS, "a 12-digit division code"),
    "division name": Bound(100, Chars.LINE, "a division's name in the province's division list"),
    "applicant name": Bound(100, Chars.LINE, "the applicant's name (sealed)"),
    "address": Bound(200, Chars.LINE, "the applicant's address (sealed)"),
    "phone": Bound(20, Chars.LINE, "the applicant's phone (sealed)"),
    "id_number": Bound(18, Chars.CODE, "an identity number or credit code (sealed)"),
    "query": Bound(100, Chars.LINE, "a catalog search"),
    "notice title": Bound(200, Chars.LINE, "a notice's title"),
    "notice text": Bound(4000, Chars.TEXT, "a notice's text"),
    "request_id": Bound(64, Chars.CODE, "a client's request id (idempotent retries)"),
    "date": Bound(10, Chars.CODE, "an ISO date, YYYY-MM-DD (the day an offer must be answered by)"),
    "credit code": Bound(18, Chars.CODE, "a department's GB 32100 credit code (a joint review's reviewer)"),
}

MAX_LIST_ITEMS = 50  # materials named in one command, licences cited in one filing
MAX_ENTRY_BODY = 256 * 1024  # bytes; see the module docstring
MAX_BUS_PAYLOAD = 1024 * 1024  # nats-server's default max_payload: an entry body always fits
MAX_BATCH_BYTES = 4 * 1024 * 1024  # a batch's entries; gRPC's default receive limit is 4 MiB
assert MAX_ENTRY_BODY + 64 * 1024 <= MAX_BUS_PAYLOAD and MAX_ENTRY_BODY * 8 <= MAX_BATCH_BYTES

_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-")
_TEXT_CONTROLS_ALLOWED = frozenset("\n\r\t")  # text from Windows window software ends lines with CR LF
_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line/paragraph separators


def check(field: str, value: str, bound_name: str | None = None) -> str:
    """`value` when it keeps the bound of `bound_name` (default: `field`); InvalidInput naming
    the field and the bound otherwise. Never echoes the value."""
    bound = BOUNDS[bound_name or field]
    if len(value) > bound.max_chars:
        raise InvalidInput(field, f"at most {bound.max_chars} characters ({len(value)} given)")
    if bound.chars is Chars.DIGITS:
        if value and not (value.isascii() and value.isdigit()):
            raise InvalidInput(field, "digits 0-9 only")
    elif bound.chars is Chars.CODE:
        if not _CODE_CHARS.issuperset(value):
            raise InvalidInput(field, "ASCII letters, digits and . _ : / - only")
    elif value.isascii() and value.isprintable():
        pass  # plain ASCII text: nothing more to check
    else:
        # Private-use and not-yet-assigned code points stay allowed: rare characters in names
        # (生僻字) are often written with them.
        for ch in value:
            if unicodedata.category(ch) in _REFUSED and not (
                bound.chars is Chars.TEXT and ch in _TEXT_CONTROLS_ALLOWED
            ):
                raise InvalidInput(field, f"contains a control character (U+{ord(ch):04X})")
        if len(value.encode("utf-8", "surrogatepass")) > bound.max_bytes:
            raise InvalidInput(field, f"at most {bound.max_bytes} bytes of UTF-8")
    return value


def check_list(field: str, values: tuple[str, ...], bound_name: str | None = None) -> tuple[str, ...]:
    if len(values) > MAX_LIST_ITEMS:
        raise InvalidInput(field, f"at most {MAX_LIST_ITEMS} entries ({len(values)} given)")
    for v in values:
        check(field, v, bound_name)
    return values


# The bound of each string field of a case command, by field name (commands share names).
_COMMAND_FIELDS: dict[str, str] = {
    "reason": "reason",
    "materials": "materials",
    "missing_materials": "materials",
    "procedure": "procedure",
    "result_ref": "result_ref",
    "method": "method",
    "channel": "channel",
    "purpose": "purpose",
    "case_no": "case_no",
    "item_code": "item_code",
    "handling_division": "division",
    "filing_division": "division",
    "agent": "actor",
    "to": "division",
    "by": "division",
    "case_type": "channel",
    "cited_licenses": "license_no",
    "answer_by": "date",
    "causes": "procedure",  # 差评 cause codes (node.domain.evaluation.CAUSES checks the values)
    "node": "division",
    "department": "credit code",
}
# Numbers and flags; `scores` are pairs of a sub-indicator name and a level, both checked
# against node.domain.evaluation's tables; a joint review's requests and opinions, checked by
# node.domain.joint_review.
_NOT_TEXT = frozenset(
    {"limit_days", "consent", "approved", "level", "scores", "requests", "mode", "opinions", "responsibility"}
)


_FIELDS_OF: dict[type, list[tuple[str, str]]] = {}


def check_command(cmd: object) -> None:
    """Every string field of a case command (node.domain.lifecycle) within its bound; raises
    InvalidInput for the first that is not. A field without a bound is a programming error."""
    plan = _FIELDS_OF.get(type(cmd))
    if plan is None:
        names = [f.name for f in fields(cmd) if f.name != "command"]  # type: ignore[arg-type]
        plan = _FIELDS_OF[type(cmd)] = [(n, _COMMAND_FIELDS[n]) for n in names if n in _COMMAND_FIELDS]
        unbound = {n for n in names if n not in _COMMAND_FIELDS} - _NOT_TEXT
        assert not unbound, f"{type(cmd).__name__}: no bound for {unbound}"
    for name, bound in plan:
        value = getattr(cmd, name)
        if isinstance(value, tuple):
            check_list(name, value, bound)
        else:
            check(name, value, bound)


def check_entry_body(size: int) -> None:
    if size > MAX_ENTRY_BODY:
        raise InvalidInput("entry", f"a body of {size} bytes exceeds the {MAX_ENTRY_BODY}-byte bound of an entry")
