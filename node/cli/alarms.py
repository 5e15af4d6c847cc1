"""`yiwang alarms`: the node's own alarms (refused peers, dead letters ...) and the alarms of
electronic supervision (电子监察) in its subtree: list, filter, scan now, acknowledge."""

from __future__ import annotations

from typing import Annotated

import typer

from node.cli.common import Actor, DataDir, JsonOut, _, acting, at_us, console, fmt_time, opened, print_json, table
from node.domain.errors import InvalidInput
from node.domain.roles import Action
from node.domain.supervision import LEVELS, RULES
from node.pages import words
from node.store.tables import SupervisionAlarmRow

app = typer.Typer(help="Alarms: this node's own, and electronic supervision (电子监察).", no_args_is_help=True)


@app.command("list")
def alarms_list(
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50, data_dir_: DataDir = None, json_out: JsonOut = False
) -> None:
    """The node's own latest alarms (refused peers, dead letters, restarted workers ...)."""
    with opened(data_dir_) as node, node.store.read() as tx:
        rows = tx.alarms(limit)
    if json_out:
        print_json(
            [{"at": at_us(r.at_us), "level": r.level, "kind": r.kind, "peer": r.peer, "detail": r.detail} for r in rows]
        )
        return
    table(
        "alarms",
        ["at", "level", "kind", "peer", "detail"],
        [(fmt_time(at_us(r.at_us)), r.level, r.kind, r.peer, r.detail) for r in rows],
    )


def alarm_json(r: SupervisionAlarmRow) -> dict[str, object]:
    return {
        "id": f"{r.origin}:{r.seq}",
        "rule": r.rule,
        "rule_name": RULES.get(r.rule, r.rule),
        "level": r.level,
        "level_name": LEVELS.get(r.level, r.level),
        "case_no": r.case_no,
        "division": r.division,
        "item_code": r.item_code,
        "custodian": r.custodian,
        "due": r.due,
        "period": r.period,
        "department": r.department,
        "detail": r.detail,
        "raised_at": at_us(r.raised_at_us),
        "cleared_at": at_us(r.cleared_at_us),
        "acknowledged_by": r.ack_by,
        "acknowledged_at": at_us(r.ack_at_us),
    }


@app.command("supervision")
def supervision(
    division: Annotated[str, typer.Option(help="A division of this node's subtree [default: this node's]")] = "",
    rule: Annotated[str, typer.Option(help=f"Only this rule: {', '.join(RULES)}")] = "",
    level: Annotated[str, typer.Option(help="Only this level: warning (预警), yellow (黄牌), red (红牌)")] = "",
    open_only: Annotated[bool, typer.Option("--open", help="Only alarms not cleared yet")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Alarms of electronic supervision in the subtree, newest first."""
    with opened(data_dir_) as node:
        rows = node.supervision.alarms(division, rule, level, open_only, limit)
    if json_out:
        print_json([alarm_json(r) for r in rows])
        return
    table(
        _("Supervision alarms"),
        [_("Id"), _("Rule"), _("Level"), _("Case or month"), _("Division"), _("Due"), _("Detail"), _("State")],
        [
            (
                f"{r.origin}:{r.seq}",
                _(words.RULE[r.rule]) if r.rule in words.RULE else r.rule,
                _(words.ALARM_LEVEL[r.level]) if r.level in words.ALARM_LEVEL else r.level,
                r.case_no or r.period,
                r.division,
                r.due,
                r.detail,
                (_("cleared") if r.cleared_at_us else _("open"))
                + (", " + _("acknowledged by %(who)s") % {"who": r.ack_by} if r.ack_by else ""),
            )
            for r in rows
        ],
    )


@app.command("scan")
def scan(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Scan now (as `yiwang run` does every supervision.interval_seconds) and write the new alarms."""
    with opened(data_dir_) as node:
        result = node.supervision.scan()
    if json_out:
        print_json({"cases": result.cases, "alarms": [a.__dict__ for a in result.alarms]})
        return
    console.print(
        _("%(cases)s open cases looked at, %(n)s new alarms") % {"cases": result.cases, "n": len(result.alarms)}
    )
    for a in result.alarms:
        level, rule = _(words.ALARM_LEVEL[a.level]), _(words.RULE[a.rule])
        console.print(f"  {level} {rule} {a.case_no or a.period} {a.detail}", highlight=False)


@app.command("ack")
def ack(
    alarm: Annotated[str, typer.Argument(help="The alarm's id ORIGIN:SEQ (from `yiwang alarms supervision`)")],
    note: Annotated[str, typer.Option(help="What the supervisor found or asked for")] = "",
    actor: Actor = None,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Acknowledge an alarm (a supervisor's entry in this node's log)."""
    origin, _sep, seq_text = alarm.partition(":")
    if not seq_text.isdigit() or not origin.isdigit() or len(origin) != 12:
        raise InvalidInput("alarm", "an alarm id is ORIGIN:SEQ, a 12-digit division code and a number")
    with opened(data_dir_) as node:
        by = acting(node, actor, Action.ACKNOWLEDGE)
        row = node.supervision.acknowledge(origin, int(seq_text), by, note)
    if json_out:
        print_json(alarm_json(row))
    else:
        console.print(_("Alarm %(id)s acknowledged by %(who)s") % {"id": alarm, "who": by}, highlight=False)
