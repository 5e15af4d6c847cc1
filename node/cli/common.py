"""What every command shares: the data directory, opening the node, output and errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import pwd
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from node import i18n
from node.config import default_data_dir
from node.domain.errors import IllegalTransition, YiwangError
from node.domain.roles import Action, Principal, Role, authorize

if TYPE_CHECKING:
    from node.context import Node

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", envvar="YIWANG_HOME", help="Node data directory [default: ~/.yiwang]"),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        envvar="YIWANG_ACTOR",
        help="The operator account (yiwang users) acting, recorded on the entry [default: admin:LOGIN]",
    ),
]


def data_dir(value: Path | None) -> Path:
    return value if value is not None else default_data_dir()


def acting(node: Node, actor: str | None, action: Action) -> str:
    """Who the CLI records as acting, authorised for `action`: with --actor, an enabled operator
    account of this node and its roles (the CLI, run on the node's machine with access to its
    data directory, vouches for it as the administrator); without, the administrator itself,
    named by the login (`admin:LOGIN`)."""
    if actor:
        return authorize(node.principals.get(actor), action)
    try:  # the effective user, not LOGNAME/USER (which a caller may set)
        login = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        login = f"uid{os.geteuid()}"
    return authorize(Principal(f"admin:{login}", frozenset({Role.ADMIN}), "admin"), action)


@contextmanager
def opened(path: Path | None) -> Iterator[Node]:
    from node.context import Node  # here, not above: a command's help need not load the store

    node = Node.open(data_dir(path))
    try:
        yield node
    finally:
        node.close()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], header: bool = True, nowrap: Sequence[int] = ()
) -> None:
    """A table; the columns numbered in `nowrap` (codes) are kept whole on one line."""
    t = Table(title=title, show_header=header)
    for i, c in enumerate(columns):
        t.add_column(c, overflow="fold", no_wrap=i in nowrap)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)


def at_us(us: int | None) -> dt.datetime | None:
    """A stored time in microseconds since the epoch, as an aware datetime (None stays None)."""
    return None if us is None else dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC)


def fmt_time(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    from node.domain.timelimits import CHINA_TZ

    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def fmt_us(us: int | None) -> str:
    """A time stored in microseconds since the epoch, as fmt_time shows it."""
    return "" if us is None else fmt_time(dt.datetime.fromtimestamp(us / 1e6, dt.UTC))


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# How the CLI spells each lifecycle step, for hints (the log and the API use the command names).
CLI_STEPS = {
    "file": "case file",
    "accept": "case accept",
    "reject": "case reject",
    "review": "case review",
    "request_supplement": "case request-supplement",
    "supplement": "case supplement",
    "suspend": "case suspend",
    "resume": "case resume",
    "decide_approve": "case decide --approve",
    "decide_deny": "case decide --deny",
    "deliver": "case deliver",
    "withdraw": "case withdraw",
    "evaluate": "case evaluate",
    "offer_custody": "case offer",
    "accept_custody": "case take",
    "withdraw_offer": "case withdraw-offer",
    "decline_custody": "case decline",
    "request_review": "joint request",
    "lapse_review": "joint lapse",
}


def cli_locale() -> str:
    """The operator's language: YIWANG_LANG, else the usual locale variables; Simplified Chinese
    unless one of them asks for English."""
    for var in ("YIWANG_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        if os.environ.get(var):
            return i18n.choose(os.environ[var])
    return i18n.DEFAULT


def _(message: str) -> str:
    """`message` in the operator's language (node/locale's catalogs)."""
    return i18n.translations(cli_locale()).gettext(message)


OFFER_ANSWERS = frozenset({"accept_custody", "decline_custody", "withdraw_offer"})


def message_of(exc: YiwangError) -> str:
    """The one line the CLI prints; a lifecycle refusal names the steps by their CLI spelling."""
    if isinstance(exc, IllegalTransition):
        from node.pages.words import STATUS

        step = CLI_STEPS.get(exc.command, exc.command)
        # answering or withdrawing an offer is possible only while one is open: not hinted here
        steps = [c for c in exc.allowed if c not in OFFER_ANSWERS]
        allowed = ", ".join(f"`yiwang {CLI_STEPS.get(c, c)}`" for c in steps) or _("none (the case is closed)")
        status = _(STATUS[exc.status]) if exc.status in STATUS else exc.status
        return _("case %(no)s is %(status)s: `yiwang %(step)s` is not allowed now; allowed: %(allowed)s") % {
            "no": exc.case_no,
            "status": status,
            "step": step,
            "allowed": allowed,
        }
    from node.pages.errors import explain

    return explain(exc, _)


def fail(exc: YiwangError) -> NoReturn:
    """Say what went wrong in one line on stderr and exit with the error's code."""
    prefix = _("error:")
    err_console.print(f"[red]{prefix}[/red] {message_of(exc)}", highlight=False, soft_wrap=True)
    raise SystemExit(exc.exit_code) from None
