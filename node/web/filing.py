"""Filing from a page, at the window or as a village agent's errand: the form read into a
FileRequest for node.cases, or into errors beside its fields with everything typed kept (the
scans excepted: a browser does not keep a chosen file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile

from node.context import Node
from node.domain.errors import InvalidInput, OperatorError
from node.domain.roles import Principal
from node.pages.errors import explain
from node.services.cases import Applicant, FileRequest

MAX_UPLOAD = 10 * 1024 * 1024  # a scanned material
MAX_FILES = 20
FIELDS = ("kind", "name", "id_number", "phone", "address")
# Which field of the form an error of the case service is about.
SERVICE_FIELDS = {"applicant name": "name", "phone": "phone", "applicant kind": "kind", "channel": "channel"}


@dataclass
class Filing:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    case_no: str = ""


def file_from_form(
    node: Node,
    principal: Principal,
    item: str,
    form: FormData,
    scans: tuple[tuple[str, bytes], ...],
    problem: str,
    _: Callable[[str], str],
    errand: bool,
) -> Filing:
    """File the case the form describes, as `principal`; an errand names the principal as its
    agent and needs the resident's consent. Returns the case number or the errors."""
    filing = Filing({k: str(form.get(k, "")).strip()[:200] for k in FIELDS})
    for k in ("name", "id_number"):
        if not filing.values[k]:
            filing.errors[k] = _("Required")
    if errand:
        filing.values["consent"] = "1" if form.get("consent") == "1" else ""
        if not filing.values["consent"]:
            filing.errors["consent"] = _("The resident's consent is needed for an errand")
    if problem:
        filing.errors["files"] = problem
    if filing.errors:
        return filing
    v = filing.values
    applicant = Applicant(v["kind"] or "1", v["name"], v["id_number"], v["phone"], v["address"])
    agent = principal.name if errand else ""
    try:
        state = node.cases.file(FileRequest(item, applicant, "1", agent, errand, files=scans), principal.name)
    except InvalidInput as exc:
        name = SERVICE_FIELDS.get(exc.field, "id_number" if "id" in exc.field or "credit" in exc.field else "form")
        filing.errors[name] = _("Check this entry") + f": {exc.reason}"
    except OperatorError as exc:
        filing.errors["form"] = explain(exc, _)
    else:
        filing.case_no = state.case_no
    return filing


async def read_scans(form: FormData, _: Any) -> tuple[tuple[tuple[str, bytes], ...], str]:
    """The scans attached to a filing, each at most MAX_UPLOAD (the form parser admits no more
    than MAX_FILES, the body limit no more than MAX_BODY); an error message instead when one is
    too large."""
    out = []
    for f in form.getlist("files"):
        if not isinstance(f, UploadFile) or not f.filename:
            continue
        data = await f.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return (), _("A file is larger than 10 MB")
        out.append((str(f.filename)[:80], data))
    return tuple(out), ""
