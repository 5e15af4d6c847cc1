"""`yiwang review`: 好差评 follow-up at the node that handled the case: the rectification tasks
every 差评 opens, the callback (回访) and the rectification (整改), each an entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from node.cli.common import Actor, DataDir, JsonOut, _, acting, at_us, console, fmt_time, opened, print_json, table
from node.domain.roles import Action
from node.pages import words

if TYPE_CHECKING:  # the store loads when a command runs, not for its help
    from node.store.tables import RectificationRow

app = typer.Typer(help="好差评 follow-up: 差评 callbacks (回访) and rectifications (整改).", no_args_is_help=True)
NoteOpt = Annotated[str, typer.Option(help="What was found or done; never the resident's personal data")]


def task_json(t: RectificationRow, due: dt.date) -> dict[str, object]:
    return {
        "case_no": t.case_no,
        "handling": t.handling,
        "item_code": t.item_code,
        "level": t.level,
        "causes": [c for c in t.causes.split(",") if c],
        "opened_at": at_us(t.opened_at_us),
        "due": due,
        "called_back_at": at_us(t.called_back_at_us),
        "rectified_at": at_us(t.rectified_at_us),
        "note": t.note,
    }


@app.command("list")
def review_list(
    division: Annotated[str, typer.Option(help="A division of this node's subtree [default: this node's]")] = "",
    open_only: Annotated[bool, typer.Option("--open", help="Only tasks not called back or not rectified")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """The rectification tasks of 差评 handled in the subtree, oldest first."""
    with opened(data_dir_) as node:
        tasks = node.supervision.rectifications(division, open_only, limit)
        rows = [(t, node.supervision.rectification_due(t)) for t in tasks]
    if json_out:
        print_json([task_json(t, due) for t, due in rows])
        return
    table(
        _("Bad reviews and their rectification"),
        [_("Case"), _("Handled by"), _("Evaluation"), _("Causes"), _("Rectify by"), _("Called back"), _("Rectified")],
        [
            (
                t.case_no,
                t.handling,
                t.level,
                "、".join(_(words.CAUSE[c]) if c in words.CAUSE else c for c in t.causes.split(",") if c),
                due,
                fmt_time(at_us(t.called_back_at_us)) if t.called_back_at_us else _("not yet"),
                fmt_time(at_us(t.rectified_at_us)) if t.rectified_at_us else _("not yet"),
            )
            for t, due in rows
        ],
    )


def _step(case_no: str, step: str, note: str, actor: str | None, data_dir_: Path | None, json_out: bool) -> None:
    with opened(data_dir_) as node:
        by = acting(node, actor, Action.FOLLOW_UP)
        task = node.supervision.follow_up(case_no, step, by, note)
        due = node.supervision.rectification_due(task)
    if json_out:
        print_json(task_json(task, due))
    else:
        done = _("Called back") if step == "callback" else _("Rectified")
        console.print(f"{case_no}: {done} ({by})", highlight=False)


@app.command("callback")
def callback(
    case_no: str, note: NoteOpt = "", actor: Actor = None, data_dir_: DataDir = None, json_out: JsonOut = False
) -> None:
    """Record that the resident of a 差评 was called back (回访)."""
    _step(case_no, "callback", note, actor, data_dir_, json_out)


@app.command("rectify")
def rectify(
    case_no: str, note: NoteOpt = "", actor: Actor = None, data_dir_: DataDir = None, json_out: JsonOut = False
) -> None:
    """Record what was rectified (整改) after a 差评's callback."""
    _step(case_no, "rectified", note, actor, data_dir_, json_out)
