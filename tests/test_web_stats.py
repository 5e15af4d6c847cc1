"""The statistics page `yiwang run` serves (issue 11; the consoles of issue 12 build on it): a
supervisor logs in at the province with the node's account, sees the province's figures a
level down, drills to the city, all in Chinese, in headless chromium, with no console error and
no request off 127.0.0.1; a wrong password, a form without its CSRF token and a disabled
account get no page; `yiwang run` serves the port on 127.0.0.1 and refuses one off loopback
without TLS."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from node.context import Node
from node.domain.errors import SetupError
from node.domain.roles import Role
from node.web.server import WebServer
from tests.browser import browser_page, distinct_colours, look
from tests.test_custody import CITY, COUNTY, PROVINCE, nodes  # noqa: F401 - the fixture
from tests.test_stats import worked  # noqa: F401 - the fixture

CHECKS = {
    "title": "document.querySelector('#title').innerText",
    "rows": "Array.from(document.querySelectorAll('#regions td.t')).map(td => td.innerText)",
    "bars": "document.querySelectorAll('#chart svg rect').length",
    "headline": "document.querySelector('#headline').innerText",
    "cjk_font": "document.fonts.check(\"16px 'WenQuanYi Micro Hei'\")",
    "scripts": "document.scripts.length",
}


@pytest.fixture
def web(worked: dict[str, Node]) -> Iterator[tuple[Node, str]]:  # noqa: F811
    province = worked[PROVINCE]
    province.principals.add_user("监察-赵", frozenset({Role.SUPERVISOR}), "zhao-password-1")
    server = WebServer(province, "127.0.0.1:0")
    address = server.start()
    try:
        yield province, f"http://{address}"
    finally:
        server.stop()


def test_a_supervisor_logs_in_sees_the_province_and_drills_to_the_city(web: tuple[Node, str]) -> None:
    _, base = web
    with browser_page() as (page, seen):
        page.goto(f"{base}/stats?period=2026-11")
        assert page.url.endswith("/login")  # not logged in: the log-in page
        page.fill("#name", "监察-赵")
        page.fill("#password", "zhao-password-1")
        page.click("#login-button")
        page.goto(f"{base}/stats?period=2026-11", wait_until="networkidle")
        look(page, seen, CHECKS)
        province_facts, province_shot = seen.facts, seen.screenshot
        page.click("#regions a")  # 广安市
        page.wait_for_load_state("networkidle")
        look(page, seen, CHECKS)
    assert seen.errors == [] and seen.outside == []
    assert province_facts["title"].startswith("四川省 办件统计")
    assert province_facts["rows"] == ["广安市"] and "办件量" in province_facts["headline"]
    assert province_facts["bars"] >= 30 and province_facts["cjk_font"] is True and province_facts["scripts"] == 0
    assert distinct_colours(province_shot) > 20
    assert seen.facts["title"].startswith("广安市 办件统计") and seen.facts["rows"] == ["广安区"]


def test_no_page_without_a_good_login_and_csrf_token(web: tuple[Node, str]) -> None:
    province, base = web
    with browser_page() as (page, seen):
        page.goto(f"{base}/login")
        page.fill("#name", "监察-赵")
        page.fill("#password", "wrong")
        page.click("#login-button")
        assert page.inner_text("#error") == "账号或密码不正确"
        page.goto(f"{base}/stats")
        assert page.url.endswith("/login")
    assert seen.outside == []
    import http.cookiejar
    from urllib.parse import urlencode

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    forged = urllib.request.Request(
        f"{base}/login", data=urlencode({"name": "监察-赵", "password": "zhao-password-1"}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(forged, timeout=10)  # no CSRF token: refused
    assert refused.value.code == 403
    with opener.open(f"{base}/stats", timeout=10) as answer:  # and not logged in
        assert answer.url.endswith("/login")
    with urllib.request.urlopen(f"{base}/login", timeout=10) as answer:
        headers = {k.lower(): v for k, v in answer.headers.items()}
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "samesite=strict" in headers["set-cookie"].lower() and "httponly" in headers["set-cookie"].lower()
    with browser_page() as (page, _):  # an account disabled after log-in loses its session
        page.goto(f"{base}/login")
        page.fill("#name", "监察-赵")
        page.fill("#password", "zhao-password-1")
        page.click("#login-button")
        page.wait_for_url(f"{base}/stats")
        province.principals.passwd("监察-赵", "a-new-password-2")  # a new password ends the session
        page.goto(f"{base}/stats")
        assert page.url.endswith("/login")
        page.fill("#name", "监察-赵")
        page.fill("#password", "a-new-password-2")
        page.click("#login-button")
        page.wait_for_url(f"{base}/stats")
        province.principals.disable("监察-赵")  # so does disabling the account
        page.goto(f"{base}/stats")
        assert page.url.endswith("/login")
    statuses = []  # log-in attempts are throttled per address
    for _ in range(12):
        form = opener.open(f"{base}/login", timeout=10).read().decode()
        token = form.split('name="csrf" value="')[1].split('"')[0]
        attempt = urllib.request.Request(
            f"{base}/login", data=urlencode({"csrf": token, "name": "x", "password": "y"}).encode(), method="POST"
        )
        try:
            opener.open(attempt, timeout=10)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    assert 401 in statuses and statuses[-1] == 429


def test_the_web_port_binds_loopback_and_needs_tls_elsewhere(worked: dict[str, Node]) -> None:  # noqa: F811
    with pytest.raises(SetupError, match="TLS"):
        WebServer(worked[COUNTY], "0.0.0.0:0")
    with pytest.raises(SetupError, match="HOST:PORT"):
        WebServer(worked[COUNTY], "nonsense")
    first = WebServer(worked[CITY], "127.0.0.1:0")
    try:
        with pytest.raises(SetupError, match=r"web\.listen"):
            WebServer(worked[CITY], first.address)  # the port is taken
    finally:
        first.sock.close()
