"""`yiwang license list | export | verify`: electronic licences (电子证照)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, fmt_time, opened, print_json, table
from node.domain.errors import InvalidInput, mask
from node.domain.licenses import License

app = typer.Typer(help="Electronic licences: list, export, verify offline.", no_args_is_help=True)


def _json(lic: License, reveal: bool) -> dict[str, object]:
    return {
        "license_no": lic.license_no,
        "case_no": lic.case_no,
        "item_code": lic.item_code,
        "item_name": lic.item_name,
        "holder_name": lic.holder_name if reveal else lic.holder_name[:1] + "*" * (len(lic.holder_name) - 1),
        "holder_id": lic.holder_id if reveal else mask(lic.holder_id),
        "issuer": lic.issuer,
        "issued_at": lic.issued_at,
        "valid_until": lic.valid_until,
    }


@app.command("list")
def list_(limit: Annotated[int, typer.Option()] = 50, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Licences this node issued or holds for its residents (holders masked)."""
    with opened(data_dir) as node:
        held = node.licenses.held(limit)
    if json_out:
        print_json([_json(lic, False) for lic in held])
        return
    table(
        _("Licences"),
        [_("Licence"), _("Case"), _("Item"), _("Holder"), _("Issued by"), _("Issued"), _("Valid until")],
        [
            (
                lic.license_no,
                lic.case_no,
                lic.item_name,
                str(_json(lic, False)["holder_name"]),
                lic.issuer,
                fmt_time(lic.issued_at),
                lic.valid_until or "",
            )
            for lic in held
        ],
    )


@app.command("export")
def export(
    license_no: Annotated[str, typer.Argument(help="Licence number")],
    out: Annotated[Path, typer.Option("--out", help="File to write the signed licence to")],
    data_dir: DataDir = None,
) -> None:
    """Write a signed licence to a file: the resident's copy, verifiable anywhere offline."""
    with opened(data_dir) as node:
        data = node.licenses.signed(license_no)
    if out.exists():
        raise InvalidInput("--out", f"{out} exists; choose another file")
    out.write_bytes(data)
    console.print(_("licence %(no)s written to %(file)s") % {"no": license_no, "file": out}, highlight=False)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A signed licence file")],
    reveal: Annotated[bool, typer.Option(help="Show the holder in full")] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Check a licence's signature and issuer chain against the roots this node trusts, offline."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput("FILE", f"cannot read {file}: {exc.strerror}") from None
    with opened(data_dir) as node:
        lic = node.licenses.verify(data)
    if json_out:
        print_json({"valid": True, **_json(lic, reveal)})
        return
    shown = _json(lic, reveal)
    valid = _("valid: licence %(no)s for %(holder)s (%(id)s), %(item)s, issued by %(issuer)s on %(at)s")
    facts = {
        "no": lic.license_no,
        "holder": shown["holder_name"],
        "id": shown["holder_id"],
        "item": lic.item_name,
        "issuer": lic.issuer,
        "at": fmt_time(lic.issued_at),
    }
    console.print(valid % facts, highlight=False)
