"""Errors in the operator's words, for the pages and the CLI: the kind of error and what it is
about translated (a case not found, a case in another node's custody, a field that failed its
check); the checks' own details stay as the domain wrote them (English for now)."""

from __future__ import annotations

from collections.abc import Callable

from node.domain.errors import InvalidInput, NotCustodian, NotFound, Recovering, YiwangError
from node.pages.words import N_

THING = {
    "case": N_("the case"),
    "catalog item": N_("catalog item"),
    "account": N_("account"),
    "enabled account": N_("enabled account"),
    "material": N_("material"),
    "material file (still on its way)": N_("material file (still on its way)"),
    "licence": N_("licence"),
    "division": N_("division"),
    "alarm": N_("alarm"),
    "sealed bundle of case": N_("sealed data of case"),
    "差评 rectification task": N_("rectification task of the bad review"),
}

FIELD = {
    "applicant name": N_("applicant's name"),
    "applicant kind": N_("applicant kind"),
    "phone": N_("phone"),
    "address": N_("address"),
    "id_number": N_("identity number"),
    "identity number": N_("identity number"),
    "applicant credit code": N_("credit code"),
    "agent": N_("errand"),
    "item": N_("item"),
    "materials": N_("materials"),
    "reason": N_("reason"),
    "note": N_("note"),
    "channel": N_("channel"),
    "reasons": N_("reasons"),
    "forward_to": N_("the body to forward to"),
    "department": N_("department"),
    "reviewer": N_("reviewer"),
    "opinions": N_("opinions"),
    "responsibility": N_("responsibility"),
}


def explain(exc: YiwangError, _: Callable[[str], str]) -> str:
    """`exc` as an operator reads it, in the language `_` translates to."""
    if isinstance(exc, NotFound):
        what = _(THING[exc.what]) if exc.what in THING else exc.what
        return _("Not found on this node: %(what)s %(key)s") % {"what": what, "key": exc.key[:60]}
    if isinstance(exc, NotCustodian):
        return _("Case %(no)s is handled by %(custodian)s now: only that office changes it") % {
            "no": exc.case_no,
            "custodian": exc.custodian,
        }
    if isinstance(exc, Recovering) and exc.upto is None:
        return _(
            "This node was restored from a backup and has not yet checked with its parent: start "
            "`yiwang run` (or `yiwang sync`) with the parent reachable, then try again"
        )
    if isinstance(exc, Recovering):
        return _(
            "This node is getting its own entries back from its parent (%(stream)s stream, up to entry "
            "%(upto)s): `yiwang sync` waits until it has; try again when `yiwang status` no longer says so"
        ) % {"stream": exc.stream, "upto": exc.upto}
    if isinstance(exc, InvalidInput) and exc.field in FIELD:
        return _("Please check %(field)s: %(reason)s") % {"field": _(FIELD[exc.field]), "reason": exc.reason}
    return str(exc)
