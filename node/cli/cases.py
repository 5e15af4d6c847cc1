"""`yiwang case file | accept | reject | ... | show | list`.

Each state command is one lifecycle command; illegal ones fail with the commands allowed now.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from node.cli.common import (
    Actor,
    DataDir,
    JsonOut,
    _,
    acting,
    console,
    fmt_time,
    opened,
    print_json,
    table,
)
from node.domain.calendar import parse_date
from node.domain.errors import InvalidInput
from node.domain.evaluation import CAUSES
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    OfferCustody,
    Reject,
    RequestSupplement,
    Resume,
    Review,
    Supplement,
    Suspend,
    Withdraw,
    WithdrawOffer,
)
from node.domain.materials import MAX_FILE_BYTES
from node.domain.roles import Action, action_of
from node.pages import words

if TYPE_CHECKING:  # the services load when a command runs, not for its help
    from node.services.cases import Applicant, CaseView

app = typer.Typer(help="Cases (办件): file, move through the lifecycle, follow.", no_args_is_help=True)
CaseNo = Annotated[str, typer.Argument(help="Case number")]
WIDE = 130  # columns from which `case list` is a table (the codes fit unwrapped)
Materials = Annotated[list[str] | None, typer.Option("--material", "-m", help="Material name; repeat")]


def _outline(s: CaseState) -> dict[str, object]:
    return {
        "case_no": s.case_no,
        "status": s.status.value,
        "item_code": s.item_code,
        "custodian": s.custodian,
        "offered_to": s.offered_to,
        "missing_materials": list(s.missing_materials),
    }


def _read_material(spec: str) -> tuple[str, bytes]:
    name, sep, file = spec.partition("=")
    if not sep or not name.strip() or not file:
        raise InvalidInput("--material-file", f"{spec!r}: give NAME=FILE")
    path = Path(file)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput("--material-file", f"{file}: larger than {MAX_FILE_BYTES} bytes")
        return name.strip(), path.read_bytes()
    except OSError as exc:
        raise InvalidInput("--material-file", f"cannot read {file}: {exc.strerror}") from None


def _read_license(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput("--license", f"cannot read {path}: {exc.strerror}") from None


def _act(case_no: str, cmd: CaseCommand, data_dir: Path | None, actor: str | None, json_out: bool) -> None:
    with opened(data_dir) as node:
        state = node.cases.act(case_no, cmd, acting(node, actor, action_of(cmd)))
        view = node.cases.show(case_no) if not json_out else None
    if json_out:
        print_json(_outline(state))
        return
    assert view is not None
    console.print(f"{case_no}: {_status_line(view)}", highlight=False, soft_wrap=True)


def _status_line(view: CaseView) -> str:
    """The status in words, who holds the case (and to whom it is offered) and its due date."""
    s = view.state
    parts = [_(words.STATUS[s.status]), _("held by %(node)s") % {"node": s.custodian}]
    if s.offered_to:
        parts.append(_("offered to %(node)s, answer by %(day)s") % {"node": s.offered_to, "day": s.offer_answer_by})
    if view.due_date:
        due = _("due %(day)s") % {"day": view.due_date}
        parts.append(due + (" " + _("(provisional)") if view.due_provisional else ""))
    return ", ".join(parts)


def _level(level: str) -> str:
    """A case's time-limit level in words, with the clock stopped said."""
    word, _sep, rest = level.partition(" ")
    shown = _(words.LEVEL[word]) if word in words.LEVEL else word
    return shown + (" " + _("(clock stopped)") if "clock stopped" in rest else "")


def _detail(detail: dict[str, object]) -> str:
    """A timeline entry's details in words (`原因: ...`), not the command's field names."""
    out = []
    for key, value in detail.items():
        if key not in words.DETAIL:
            continue
        shown = "、".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if key == "procedure":
            shown = _(words.PROCEDURE.get(shown, shown))
        elif key == "purpose":
            shown = _(words.PURPOSE.get(shown, shown))
        elif key == "method":
            shown = _(words.DELIVERY.get(shown, shown))
        elif key == "level" and str(value).isdigit():
            shown = _(words.SATISFACTION.get(int(str(value)), shown))
        elif key == "causes" and isinstance(value, list | tuple):
            shown = "、".join(_(words.CAUSE.get(str(c), str(c))) for c in value)
        elif key == "approved":
            shown = _("approve") if value else _("deny")
        out.append(f"{_(words.DETAIL[key])}: {shown}")
    return "; ".join(out)


@app.command("file")
def file(
    item: Annotated[str, typer.Option("--item", "-i", help="Implementation code of the item")],
    name: Annotated[str, typer.Option("--name", help="Applicant name (sealed, never logged)")],
    id_number: Annotated[str, typer.Option("--id", help="Identity number, or credit code for organisations")],
    kind: Annotated[
        str, typer.Option("--kind", help="Applicant kind, GB/T 39046 A.4: 1 person, 2 enterprise ...")
    ] = "1",
    phone: Annotated[str, typer.Option(help="Applicant phone (sealed)")] = "",
    address: Annotated[str, typer.Option(help="Applicant address (sealed)")] = "",
    channel: Annotated[str, typer.Option(help="A.5: 1 window, 2 PC online, 3 mobile, 4 post")] = "1",
    agent: Annotated[str, typer.Option(help="Agent id for an errand (代办)")] = "",
    consent: Annotated[bool, typer.Option(help="The resident consented to the errand")] = False,
    licenses: Annotated[
        list[Path] | None, typer.Option("--license", help="A signed licence file cited instead of materials; repeat")
    ] = None,
    material_files: Annotated[
        list[str] | None, typer.Option("--material-file", help="NAME=FILE of a material handed in (sealed); repeat")
    ] = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """File a case (申请); the applicant's data is sealed at once."""
    cited = tuple(_read_license(p) for p in licenses or [])
    files = tuple(_read_material(m) for m in material_files or [])
    from node.services.cases import Applicant, FileRequest

    req = FileRequest(item, Applicant(kind, name, id_number, phone, address), channel, agent, consent, cited, files)
    with opened(data_dir) as node:
        state = node.cases.file(req, acting(node, actor, Action.FILE_ERRAND if agent else Action.FILE))
    if json_out:
        print_json(_outline(state))
    else:
        console.print(f"filed {state.case_no} ({state.item_code})", highlight=False)


@app.command("accept")
def accept(
    case_no: CaseNo, missing: Materials = None, actor: Actor = None, data_dir: DataDir = None, json_out: JsonOut = False
) -> None:
    """Accept (受理); --material lists 容缺 materials promised for later."""
    _act(case_no, Accept(tuple(missing or ())), data_dir, actor, json_out)


@app.command("reject")
def reject(
    case_no: CaseNo,
    reason: Annotated[str, typer.Option(help="Why it is not accepted")],
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Do not accept (不予受理), with the reason told once."""
    _act(case_no, Reject(reason), data_dir, actor, json_out)


@app.command("review")
def review(case_no: CaseNo, actor: Actor = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Start the review (审查)."""
    _act(case_no, Review(), data_dir, actor, json_out)


@app.command("request-supplement")
def request_supplement(
    case_no: CaseNo,
    materials: Materials = None,
    reason: Annotated[str, typer.Option(help="What is wrong")] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Ask for supplementary materials (补正); the clock stops."""
    _act(case_no, RequestSupplement(tuple(materials or ()), reason), data_dir, actor, json_out)


@app.command("supplement")
def supplement(
    case_no: CaseNo,
    materials: Materials = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Record supplied materials: ends a 补正 (the clock runs again) or clears 容缺 materials."""
    _act(case_no, Supplement(tuple(materials or ())), data_dir, actor, json_out)


@app.command("suspend")
def suspend(
    case_no: CaseNo,
    procedure: Annotated[str, typer.Option(help="hearing, testing, expert_review, extension, inspection, other")],
    limit_days: Annotated[int, typer.Option(help="The procedure's own limit in working days")],
    reason: Annotated[str, typer.Option()] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Enter a special procedure (特别程序); the clock stops up to its own limit."""
    _act(case_no, Suspend(procedure, limit_days, reason), data_dir, actor, json_out)


@app.command("resume")
def resume(case_no: CaseNo, actor: Actor = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """End the special procedure; review goes on."""
    _act(case_no, Resume(), data_dir, actor, json_out)


@app.command("decide")
def decide(
    case_no: CaseNo,
    approve: Annotated[bool, typer.Option("--approve/--deny", help="准予 or 不予")],
    reason: Annotated[str, typer.Option(help="Required for a denial")] = "",
    result_ref: Annotated[str, typer.Option(help="Reference of the result document")] = "",
    license_: Annotated[
        bool, typer.Option("--license", help="With --approve: issue an electronic licence (电子证照)")
    ] = False,
    valid_until: Annotated[str, typer.Option(help="The licence's last valid day, YYYY-MM-DD")] = "",
    take_responsibility: Annotated[
        bool,
        typer.Option(
            "--take-responsibility",
            help="With --approve on a joint review: approve over a reasoned 不同意, the lead taking the responsibility",
        ),
    ] = False,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Decide (决定); an approval can issue a signed electronic licence. A case under joint
    review carries its opinions (yiwang joint show)."""
    if take_responsibility and not approve:
        raise InvalidInput("--take-responsibility", "goes with --approve")
    if not license_:
        if valid_until:
            raise InvalidInput("--valid-until", "goes with --license")
        _act(
            case_no, Decide(approve, reason, result_ref, responsibility=take_responsibility), data_dir, actor, json_out
        )
        return
    if not approve or result_ref:
        raise InvalidInput("--license", "a licence comes with --approve, and its number is the result reference")
    until = parse_date(valid_until, "--valid-until") if valid_until else None
    with opened(data_dir) as node:
        state, lic = node.licenses.approve_with_license(case_no, acting(node, actor, Action.DECIDE), until, reason)
    if json_out:
        print_json({**_outline(state), "license_no": lic.license_no})
    else:
        console.print(f"{case_no}: approved; licence {lic.license_no} issued", highlight=False)


@app.command("deliver")
def deliver(
    case_no: CaseNo,
    method: Annotated[str, typer.Option(help="window, post, electronic")] = "window",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Deliver the result (送达/办结)."""
    _act(case_no, Deliver(method), data_dir, actor, json_out)


@app.command("withdraw")
def withdraw(
    case_no: CaseNo,
    reason: Annotated[str, typer.Option()] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Withdraw (撤回) before the decision."""
    _act(case_no, Withdraw(reason), data_dir, actor, json_out)


@app.command("evaluate")
def evaluate(
    case_no: CaseNo,
    level: Annotated[int, typer.Option(help="1 非常满意, 2 满意, 3 基本满意, 4 不满意, 5 非常不满意")],
    channel: Annotated[str, typer.Option(help="Evaluation channel [default: the case's]")] = "",
    cause: Annotated[
        list[str] | None,
        typer.Option(help=f"A 差评's cause (repeat): {', '.join(f'{k} {v}' for k, v in CAUSES.items())}"),
    ] = None,
    score: Annotated[
        list[str] | None,
        typer.Option(
            help="A sub-indicator NAME=LEVEL (repeat); offline: efficiency, quality, attitude; "
            "online: efficiency, guide_accuracy, convenience, usability"
        ),
    ] = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Record the resident's evaluation (好差评); a 差评 (4 or 5) with its causes opens a
    rectification task at the handling node."""
    scores = []
    for text in score or []:
        name, _sep, value = text.partition("=")
        if not value.strip().isdigit():
            raise InvalidInput("--score", "give NAME=LEVEL, the level 1..5")
        scores.append((name.strip(), int(value)))
    _act(case_no, Evaluate(level, channel, tuple(cause or ()), tuple(sorted(scores))), data_dir, actor, json_out)


@app.command("offer")
def offer(
    case_no: CaseNo,
    to: Annotated[str, typer.Option("--to", help="Division code of the node to hand the case to")],
    purpose: Annotated[
        str, typer.Option(help="process, escalate (上报), return, reroute, result (back to the filing node)")
    ] = "process",
    reason: Annotated[str, typer.Option()] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Offer custody of a case to another node; nobody changes it until that node answers."""
    _act(case_no, OfferCustody(to.strip(), purpose, reason), data_dir, actor, json_out)


@app.command("take")
def take(case_no: CaseNo, actor: Actor = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Accept custody offered to this node: from now on this node writes the case."""
    with opened(data_dir) as node:
        me = node.code
    _act(case_no, AcceptCustody(me), data_dir, actor, json_out)


@app.command("decline")
def decline(
    case_no: CaseNo,
    reason: Annotated[str, typer.Option(help="Why (it goes back with the case)")],
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Decline custody offered to this node; the case stays with the node that offered it."""
    with opened(data_dir) as node:
        me = node.code
    _act(case_no, DeclineCustody(me, reason), data_dir, actor, json_out)


@app.command("withdraw-offer")
def withdraw_offer(
    case_no: CaseNo,
    reason: Annotated[str, typer.Option(help="Why (shown in the timeline)")] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Withdraw this node's custody offer when nobody answered it by its date (custody.answer_days
    working days) or its copy was refused on the way (`yiwang mail dead`); the case stays here."""
    with opened(data_dir) as node:
        to = node.cases.get(case_no).offered_to
    _act(case_no, WithdrawOffer(to, reason), data_dir, actor, json_out)


@app.command("materials")
def materials(case_no: CaseNo, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The case's material files and whether this node holds each (filing and handling nodes)."""
    with opened(data_dir) as node:
        found = node.cases.materials(case_no)
    rows = [{"name": r.name, "size": r.size, "digest": r.digest, "held": held} for r, held in found]
    if json_out:
        print_json(rows)
        return
    table(f"materials of {case_no}", ["name", "bytes", "held here"], [(r["name"], r["size"], r["held"]) for r in rows])


@app.command("material")
def material(
    case_no: CaseNo,
    name: Annotated[str, typer.Argument(help="The material's name")],
    out: Annotated[Path, typer.Option("--out", help="File to write it to (must not exist)")],
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Write a material file out, for the operator of a node that holds it (recorded as a reveal)."""
    if out.exists():
        raise InvalidInput("--out", f"{out} exists; choose another file")
    with opened(data_dir) as node:
        data = node.cases.reveal_material(case_no, name, acting(node, actor, Action.REVEAL), "cli")
    out.write_bytes(data)
    console.print(f"{name}: {len(data)} bytes written to {out}", highlight=False)


def _view_json(view: CaseView, applicant: Applicant | None) -> dict[str, object]:
    out: dict[str, object] = {
        **_outline(view.state),
        "due_date": view.due_date,
        "due_provisional": view.due_provisional,
        "used_days": view.used_days,
        "remaining_days": view.remaining_days,
        "level": view.level,
        "filed_at": view.state.filed_at,
        "accepted_at": view.state.accepted_at,
        "agent": view.state.agent,
        "evaluation": view.state.evaluation,
        "stops": view.state.stops,
        "timeline": view.timeline,
        "custody": view.custody,
    }
    if applicant is not None:
        out["applicant"] = applicant
    return out


@app.command("show")
def show(
    case_no: CaseNo,
    reveal: Annotated[
        bool, typer.Option(help="Show the applicant's data in full (sealed; recorded, `yiwang audit reveals`)")
    ] = False,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """A case's outline, time limit and timeline."""
    with opened(data_dir) as node:
        view = node.cases.show(case_no)
        applicant = node.cases.applicant_if_held(case_no)
        if reveal and applicant is not None:
            applicant = node.cases.reveal(case_no, acting(node, actor, Action.REVEAL), "cli")
    if json_out:
        print_json(_view_json(view, applicant if reveal else None))
        return
    s = view.state
    if applicant is None:
        shown_text = _("sealed: held by the filing and handling nodes only")
    else:
        shown = applicant if reveal else applicant.masked()
        shown_text = f"{shown.name} {shown.id_number} {shown.phone}".strip()
    evaluation = f"{s.evaluation} {_(words.SATISFACTION[s.evaluation])}" if s.evaluation else ""
    rows = [
        (_("status"), _status_line(view)),
        (_("item"), s.item_code),
        (_("handling division"), s.handling_division),
        (_("filed"), fmt_time(s.filed_at)),
        (_("accepted"), fmt_time(s.accepted_at)),
        (_("limit"), "" if s.limit_days is None else _("%(n)s working days") % {"n": s.limit_days}),
        (_("used / left"), "" if view.used_days is None else f"{view.used_days} / {view.remaining_days}"),
        (_("level"), _level(view.level)),
        (_("missing (容缺)"), "、".join(s.missing_materials)),
        (_("applicant"), shown_text),
        (_("agent"), s.agent),
        (_("evaluation"), evaluation),
    ]
    table(_("case %(no)s") % {"no": case_no}, ["", ""], [r for r in rows if r[1]], header=False)
    table(
        _("timeline"),
        [_("at"), _("step"), _("by"), _("node"), _("detail")],
        [
            (
                fmt_time(t.at),
                _(words.ENTRY[t.kind]) if t.kind in words.ENTRY else t.kind,
                t.actor,
                t.writer,
                _detail(t.detail),
            )
            for t in view.timeline
        ],
    )
    if len(view.custody) > 1:
        table(
            _("custody"),
            [_("node"), _("from"), _("until"), _("working days")],
            [(c.node, fmt_time(c.start), fmt_time(c.end) if c.end else _("now"), c.working_days) for c in view.custody],
        )


@app.command("list")
def list_(
    status: Annotated[str, typer.Option(help="Only cases in this status")] = "",
    open_only: Annotated[bool, typer.Option("--open", help="Only cases not closed")] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only cases past their due date whose clock runs (accepted, under review)")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    after: Annotated[str, typer.Option(help="Continue after this case number")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """List cases with their due dates and warning levels; codes are never cut (they wrap)."""
    from node.domain.lifecycle import Status

    if status and status not in {s.value for s in Status}:
        raise InvalidInput("--status", f"one of {', '.join(s.value for s in Status)}")
    if overdue and status:
        raise InvalidInput(
            "--overdue", "lists accepted and under-review cases past their due date: give it without --status"
        )
    with opened(data_dir) as node:
        views = node.cases.list(status, limit, after, open_only, overdue)
    if json_out:
        print_json([_view_json(v, None) for v in views])
        return
    title = _("cases (%(n)s shown)") % {"n": len(views)}
    rows = [
        (
            v.state.case_no,
            _(words.STATUS[v.state.status]),
            v.state.item_code,
            fmt_time(v.state.filed_at),
            v.due_date + ("*" if v.due_provisional else ""),
            _level(v.level),
        )
        for v in views
    ]
    if console.width >= WIDE:
        table(title, [_("case"), _("status"), _("item"), _("filed"), _("due"), _("level")], rows, nowrap=(0, 2))
        return
    # a narrow terminal: each case on two lines, the codes whole (never cut, never wrapped)
    console.print(title, highlight=False)
    for case_no, status, item, filed, due, level in rows:
        console.print(f"{case_no}  {status}  {filed}  {due}  {level}".rstrip(), highlight=False, soft_wrap=True)
        console.print(f"  {item}", highlight=False, soft_wrap=True)
