"""The county workbench in a real browser (issue 12): a window clerk logs in, files at the
window from the catalog (a wrong identity number is refused beside its field and nothing typed
is lost), accepts with 容缺, requests a supplement (一次性告知), records it, decides with an
electronic licence after confirming, and delivers; the queues list the case under the step it
waits for. Over plain HTTP: every step refused to a role that may not take it, and a form with
a missing or forged CSRF token refused, with nothing written and the node still serving."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from node import logs
from node.context import Node
from node.domain.lifecycle import Accept
from node.domain.roles import Role
from node.services.cases import Applicant, FileRequest
from node.web.base import MAX_BODY
from node.web.server import WebServer
from tests.browser import browser_page, distinct_colours, keep, look
from tests.conftest import Clock, licence_item
from tests.helpers import counts
from tests.test_replica import CHAIN, enroll, province_node

ITEM = licence_item().implementation_code
CLERK, CLERK_PASSWORD = "窗口-王", "wang-password-1"
SHOT = {
    "title": "document.querySelector('#title').innerText",
    "cjk_font": "document.fonts.check(\"16px 'WenQuanYi Micro Hei'\")",
    "scripts": "document.scripts.length",
    "lang": "document.documentElement.lang",
    # every field an operator fills has a label (hidden fields aside)
    "unlabelled": "Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))"
    ".filter(e => !e.labels || e.labels.length === 0).map(e => e.name)",
}


@pytest.fixture
def county(tmp_path: Path, clock: Clock) -> Iterator[tuple[Node, str]]:
    province = province_node(tmp_path / CHAIN[0], CHAIN[0], clock)
    city = enroll(province, CHAIN[1], tmp_path, clock)
    node = enroll(city, CHAIN[2], tmp_path, clock)
    node.catalog.import_items([licence_item()])
    node.principals.add_user(CLERK, frozenset({Role.CLERK, Role.REVIEWER, Role.DECIDER}), CLERK_PASSWORD)
    node.principals.add_user("受理-钱", frozenset({Role.CLERK}), "qian-password-1")
    node.principals.add_user("监察-赵", frozenset({Role.SUPERVISOR}), "zhao-password-1")
    server = WebServer(node, "127.0.0.1:0")
    address = server.start()
    try:
        yield node, f"http://{address}"
    finally:
        server.stop()
        for n in (node, city, province):
            n.close()


def _log_in(page: object, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("#name", name)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("#login-button")  # type: ignore[attr-defined]


def submit(page: object, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(selector)  # type: ignore[attr-defined]


def open_step(page: object, step: str) -> None:
    """Open a step's form on the case page (a <details> the keyboard opens too)."""
    details = page.locator(f"#step-{step}")  # type: ignore[attr-defined]
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def test_a_clerk_files_accepts_with_rongque_asks_once_decides_with_a_licence_and_delivers(
    county: tuple[Node, str], tmp_path: Path
) -> None:
    node, base = county
    log = tmp_path / "web.log"
    logs.configure(log)  # what the node logs while the pages are used
    with browser_page() as (page, seen):
        _log_in(page, base, CLERK, CLERK_PASSWORD)
        page.wait_for_url(f"{base}/work")
        look(page, seen, SHOT)
        assert seen.facts["title"].startswith("工作台") and seen.facts["lang"] == "zh-CN"
        page.click("header nav >> text=窗口收件")
        page.fill("#q", "教师")
        page.press("#q", "Enter")  # the keyboard submits
        page.click("#items a")
        page.fill("#name", "王大妈")
        page.fill("#id_number", "440524188001010015")  # a wrong check character
        page.fill("#phone", "13566667777")
        submit(page, "#file-button")
        assert "身份证号" in page.inner_text("label[for=id_number]")
        assert page.inner_text("#error-id_number").startswith("请检查此项")
        assert page.input_value("#name") == "王大妈" and page.input_value("#phone") == "13566667777"  # kept
        look(page, seen, SHOT)
        keep("workbench-filing-error", seen.screenshot)
        page.fill("#id_number", "440524188001010014")
        page.set_input_files(
            "#files", files=[{"name": "身份证.png", "mimeType": "image/png", "buffer": b"\x89PNG scan"}]
        )
        submit(page, "#file-button")
        page.wait_for_url(re.compile(r"/cases/\d+$"))
        case_no = page.inner_text("#case-no")
        # a long code is whole (wrapped, never cut) and selected by one click, for copying
        style = "getComputedStyle(document.querySelector('#case-no'))"
        assert page.evaluate(f"[{style}.userSelect, {style}.overflowWrap]") == ["all", "anywhere"]
        assert page.inner_text("#status") == "已申请" and "已收件" in page.inner_text("#flash")
        assert "王*" in page.inner_text("#applicant") and "440524188001010014" not in page.inner_text("#applicant")
        submit(page, "#reveal")  # shown in full, and recorded
        assert "440524188001010014" in page.inner_text("#applicant")

        open_step(page, "accept")
        page.check("#step-accept input[value=体检表]")  # 容缺: promised later
        submit(page, "#step-accept button[type=submit]")
        assert page.inner_text("#status") == "已受理" and page.inner_text("#missing") == "体检表"
        open_step(page, "request_supplement")
        submit(page, "#step-request_supplement button[type=submit]")  # nothing listed: refused beside the field
        assert page.inner_text("#error-request_supplement-materials") == "请一次性列出需补正的全部材料"
        page.check("#step-request_supplement input[value=身份证]")
        page.fill("#materials_other", "户籍证明\n近期照片")
        page.fill("#supplement-reason", "身份证复印件不清晰")
        submit(page, "#step-request_supplement button[type=submit]")
        assert page.inner_text("#status") == "补正中"
        assert page.inner_text("#requested") == "身份证、户籍证明、近期照片"
        open_step(page, "supplement")
        submit(page, "#step-supplement button[type=submit]")
        assert page.inner_text("#status") == "审查中"

        open_step(page, "decide_approve")
        page.check("#step-decide_approve input[value=approve]")
        page.check("#step-decide_approve input[name=license]")
        submit(page, "#step-decide_approve button[type=submit]")
        assert page.locator("#confirm").is_visible() and page.inner_text("#status") == "审查中"  # not yet
        look(page, seen, SHOT)
        keep("workbench-confirm", seen.screenshot)
        submit(page, "#confirm-button")
        flash = page.inner_text("#flash")
        assert page.inner_text("#status") == "准予许可" and "电子证照" in flash
        open_step(page, "deliver")
        submit(page, "#step-deliver button[type=submit]")
        assert page.inner_text("#status") == "办结"
        timeline = page.inner_text("#timeline")
        look(page, seen, SHOT)
        keep("workbench-case", seen.screenshot)
        case_shot = seen.screenshot
        page.goto(f"{base}/work?q=delivery")
        assert case_no not in page.inner_text("#cases")  # delivered: out of the queues
    assert seen.errors == [] and seen.outside == []
    for word in ("提交申请", "已受理", "一次性告知补正", "已补材料", "作出决定", "送达"):
        assert word in timeline, word
    assert "case_" not in timeline and seen.facts["cjk_font"] is True and seen.facts["scripts"] == 0
    assert seen.facts["unlabelled"] == []
    assert distinct_colours(case_shot) > 8
    reveals = node.cases.reveals(case_no)
    assert [(r.actor, r.what, r.via) for r in reveals] == [(CLERK, "applicant", "web")]
    logs.configure(None)
    logged = log.read_text(encoding="utf-8")
    assert "case_filed" in logged and "applicant_revealed" in logged
    for secret in ("王大妈", "440524188001010014", "13566667777", "身份证.png"):
        assert secret not in logged, secret
    assert node.cases.get(case_no).status == "delivered" and re.search(r"电子证照 L511602000000-\d+ 已签发", flash)


def test_the_queues_sort_by_time_left_and_switch_to_english(county: tuple[Node, str], clock: Clock) -> None:
    node, base = county
    person = Applicant("1", "王大妈", "440524188001010014", "13566667777")
    first = node.cases.file(FileRequest(ITEM, person), CLERK).case_no
    clock.set_local(2026, 3, 4)
    second = node.cases.file(FileRequest(ITEM, person), CLERK).case_no
    node.cases.act(second, Accept(), CLERK)
    clock.set_local(2026, 3, 5)
    node.cases.act(first, Accept(), CLERK)  # filed first but accepted last: due last
    with browser_page() as (page, seen):
        _log_in(page, base, CLERK, CLERK_PASSWORD)
        page.goto(f"{base}/work?q=review")
        rows = page.locator("#cases tr.case td:first-child").all_inner_texts()
        assert [r.split()[0] for r in rows] == [second, first]
        assert page.inner_text("#q-review") == "审查中 (2)"
        page.select_option("#lang-choice", "en")
        page.click("header form[action='/lang'] button")
        assert page.inner_text("#q-review") == "Under review (2)" and page.url.endswith("/work?q=review")
        assert page.evaluate("document.documentElement.lang") == "en"
    assert seen.errors == [] and seen.outside == []


class Session:
    """An HTTP session with the node's web port: cookies kept, CSRF token read off the pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def token(self, path: str = "/login") -> str:
        page = str(self.opener.open(self.base + path, timeout=10).read().decode())
        return page.split('name="csrf" value="')[1].split('"')[0]

    def post(self, path: str, fields: dict[str, str]) -> int:
        request = urllib.request.Request(self.base + path, data=urlencode(fields).encode(), method="POST")
        try:
            with self.opener.open(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def page(self, path: str) -> str:
        return str(self.opener.open(self.base + path, timeout=10).read().decode())

    def post_files(self, path: str, fields: dict[str, str], files: list[tuple[str, tuple[str, bytes]]]) -> int:
        """A multipart form with files (the filing forms)."""
        boundary = "yiwang-test-boundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        for name, (filename, data) in files:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'
            parts.append(head.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        try:
            with self.opener.open(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def log_in(self, name: str, password: str) -> None:
        assert self.post("/login", {"csrf": self.token(), "name": name, "password": password}) == 200


# Steps as the workbench posts them, refused to a clerk-only account by the role table.
NOT_A_CLERKS = {
    "decide_approve": {"outcome": "approve", "confirmed": "1"},
    "suspend": {"procedure": "hearing", "limit_days": "5"},
    "review": {},
}


def test_every_step_is_refused_to_a_role_without_it_and_to_a_form_without_its_token(
    county: tuple[Node, str],
) -> None:
    node, base = county
    person = Applicant("1", "王大妈", "440524188001010014", "13566667777")
    case_no = node.cases.file(FileRequest(ITEM, person), CLERK).case_no
    supervisor = Session(base)
    supervisor.log_in("监察-赵", "zhao-password-1")
    before = counts(node)
    token = supervisor.token("/work")
    for step, fields in {"accept": {}, **NOT_A_CLERKS}.items():  # a supervisor takes no step
        assert supervisor.post(f"/cases/{case_no}/act", {"csrf": token, "step": step, **fields}) == 403, step
    assert supervisor.post(f"/cases/{case_no}/reveal", {"csrf": token}) == 403  # nor sees the applicant
    assert supervisor.post(f"/cases/{case_no}/material", {"csrf": token, "name": "x"}) == 403
    assert supervisor.post(f"/file/{ITEM}", {"csrf": token, "name": "某", "id_number": "440524188001010014"}) == 403
    assert counts(node) == before

    clerk = Session(base)
    clerk.log_in("受理-钱", "qian-password-1")
    token = clerk.token("/work")
    for missing in ({}, {"csrf": "forged-" + token[7:]}):  # no token, or a forged one: nothing done
        assert clerk.post(f"/cases/{case_no}/act", {**missing, "step": "accept"}) == 403
        assert clerk.post(f"/cases/{case_no}/reveal", missing) == 403
        assert clerk.post(f"/file/{ITEM}", {**missing, "name": "某", "id_number": "440524188001010014"}) == 403
        assert clerk.post("/lang", {**missing, "lang": "en", "next": "/work"}) == 403
    assert clerk.post("/logout", {"csrf": "forged"}) == 200 and "受理-钱" in clerk.page("/work")  # still logged in
    assert counts(node) == before and node.cases.reveals(case_no) == []
    for step, fields in NOT_A_CLERKS.items():  # the clerk's roles stop here ...
        assert clerk.post(f"/cases/{case_no}/act", {"csrf": token, "step": step, **fields}) == 403, step
    assert counts(node) == before and node.cases.get(case_no).status == "filed"
    assert clerk.post(f"/cases/{case_no}/act", {"csrf": token, "step": "accept"}) == 200  # ... and allow this
    assert node.cases.get(case_no).status == "accepted"
    before = counts(node)
    assert clerk.post(f"/cases/{case_no}/act", {"csrf": token, "step": "nonsense"}) == 400  # a clear error
    page = clerk.page(f"/cases/{case_no}")
    assert "受理-钱" in page and "已受理" in page
    for fields in ({"step": "suspend", "procedure": "hearing", "limit_days": "²"}, {"step": "reject"}):
        clerk.post(f"/cases/{case_no}/act", {"csrf": token, **fields})  # refused, shown again
    assert counts(node) == before

    # every other form of the consoles, posted by an account whose roles do not have its action
    for path, fields, who in (
        (f"/errands/new/{ITEM}", {"name": "某", "id_number": "440524188001010014", "consent": "1"}, supervisor),
        (f"/errands/new/{ITEM}", {"name": "某", "id_number": "440524188001010014", "consent": "1"}, clerk),
        ("/supervision/ack", {"origin": node.code, "seq": "1"}, clerk),
        ("/supervision/follow-up", {"case_no": case_no, "step": "callback"}, supervisor),
        ("/catalog/errands", {"shown": ITEM, "open": ITEM}, clerk),
        ("/catalog/errands", {"shown": ITEM, "open": ITEM}, supervisor),
    ):
        assert who.post(path, {"csrf": who.token("/stats"), **fields}) == 403, (path, who)
    assert counts(node) == before

    # bounded bodies: more files than a filing takes, and a body declared too large
    many = [("files", (f"{i}.png", b"x")) for i in range(25)]
    assert (
        clerk.post_files(f"/file/{ITEM}", {"csrf": token, "name": "某", "id_number": "440524188001010014"}, many) == 400
    )
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    connection.putrequest("POST", f"/file/{ITEM}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(MAX_BODY + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert counts(node) == before
    with urllib.request.urlopen(f"{base}/login", timeout=10) as answer:  # still serving
        assert answer.status == 200
