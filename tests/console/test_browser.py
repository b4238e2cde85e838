"""The console in Debian's chromium (Playwright), against a real server over loopback.

One browser for the module; each test signs in through the sign-in form as a person would.
Every page is saved to var/screenshots/ at 1280x800 for a reviewer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from redline.ledger.note import Signer
from tests.support.console import SCREENSHOTS, console_server, tamper_entry
from tests.support.server import CYBER, ENGAGE, Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with console_server(tmp_path_factory.mktemp("console")) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def as_who(srv: Server, browser: Browser) -> Iterator[object]:
    contexts = []

    def sign_in(who: str) -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{srv.base}/console/login")
        page.fill("#key", srv.keys[who])
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{srv.base}/console/approvals")
        return page

    yield sign_in
    for c in contexts:
        c.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def fits(page: Page) -> None:
    """The page holds its content at 1280 px: nothing runs off to the right."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{page.url} is {width} px wide"


def test_commander_approves_a_held_engagement_and_the_requester_resumes(
    srv: Server, as_who: object
) -> None:
    aid = srv.hold()
    page = as_who("a-cmd")  # type: ignore[operator]
    expect(page.locator(f"#queue a[href='/console/approvals/{aid}']")).to_be_visible()
    shot(page, "approvals")
    page.click(f"#queue a[href='/console/approvals/{aid}']")
    # the rationale: the exact tool call, the deciding clause quoted, the score bars
    expect(page.locator("#content")).to_contain_text('"target_id": "T-17"')
    expect(page.locator("blockquote.clause")).to_contain_text(
        "no application of force without the approval of a commander"
    )
    expect(page.locator("table.scores")).to_contain_text("use_of_force")
    expect(page.locator("time.countdown")).to_contain_text("in ")
    fits(page)
    shot(page, "approval")
    page.fill("#comment", "grid checked against the target folder")
    page.click("#approve")
    expect(page.locator(".badge.approved").first).to_be_visible()
    expect(page.locator("ul.votes")).to_contain_text("a-cmd")
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.json()["decision"] == "allow" and r.json()["action_token"]


def test_others_do_not_see_a_force_hold_as_theirs_to_decide(srv: Server, as_who: object) -> None:
    aid = srv.hold()
    approver = as_who("a-apr")  # type: ignore[operator]
    expect(approver.locator("#queue")).not_to_contain_text(aid)
    answer = approver.goto(f"{srv.base}/console/approvals/{aid}")
    assert answer is not None and answer.status == 403
    expect(approver.locator("#approve")).to_have_count(0)
    requester = as_who("a-req")  # type: ignore[operator]
    expect(requester.locator("#queue")).not_to_contain_text(aid)
    requester.goto(f"{srv.base}/console/approvals/{aid}")
    expect(requester.locator("#not-decidable")).to_contain_text("needs the role commander")
    expect(requester.locator("#approve")).to_have_count(0)
    own = srv.hold(who="a-cmd2")  # a commander asking for force may not approve it
    commander = as_who("a-cmd2")  # type: ignore[operator]
    expect(commander.locator("#queue")).not_to_contain_text(own)
    expect(commander.locator("#queue")).to_contain_text(aid)
    commander.goto(f"{srv.base}/console/approvals/{own}")
    expect(commander.locator("#not-decidable")).to_contain_text("own request")
    expect(commander.locator("#approve")).to_have_count(0)
    stranger = as_who("b-cmd")  # type: ignore[operator]
    answer = stranger.goto(f"{srv.base}/console/approvals/{aid}")
    assert answer is not None and answer.status == 404
    expect(stranger.locator("main")).not_to_contain_text("T-17")


def test_a_post_without_the_csrf_token_is_refused(srv: Server, as_who: object) -> None:
    aid = srv.hold()
    page = as_who("a-cmd")  # type: ignore[operator]
    url = f"{srv.base}/console/approvals/{aid}/approve"
    assert page.request.post(url, form={"comment": "x"}).status == 403
    assert page.request.post(url, form={"csrf": "0" * 64}).status == 403
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "pending"


def test_the_auditor_verifies_an_entry_in_the_browser_and_sees_tampering(
    srv: Server, as_who: object
) -> None:
    held = srv.post("a-req", "/v1/decide", ENGAGE).json()
    index = held["ledger_index"]
    srv.get("a-aud", "/v1/ledger/checkpoint?fresh=true")
    srv.post("a-req", "/v1/decide", {"text": "plan the convoy's fuel stops"})
    srv.get("a-aud", "/v1/ledger/checkpoint?fresh=true")
    page = as_who("a-aud")  # type: ignore[operator]
    page.goto(f"{srv.base}/console/ledger")
    page.select_option("#from", index=0)
    page.click("#check-consistency")
    expect(page.locator("#consistency-result")).to_have_attribute("data-verified", "true")
    fits(page)
    shot(page, "ledger")
    page.goto(f"{srv.base}/console/ledger/entries/{index}")
    verdict = page.locator("#inclusion-result")
    expect(verdict).to_have_attribute("data-verified", "true")
    expect(verdict).to_contain_text("Verified in your browser")
    expect(page.locator("#inclusion-steps")).to_contain_text("Ed25519 signature")
    fits(page)
    shot(page, "entry")
    # a key other than the log's: the checkpoint's signature does not check, nothing verifies
    page.fill("#verifier-key", Signer.generate("redline.test/console").verifier().text())
    page.click("#verify-again")
    expect(verdict).to_have_attribute("data-verified", "false")
    expect(verdict).to_contain_text("no signature by key")
    page.reload()
    expect(verdict).to_have_attribute("data-verified", "true")
    tamper_entry(
        srv.app.state.services.settings.db, index, b'"principal":"a-req"', b'"principal":"a-rex"'
    )
    page.reload()
    expect(verdict).to_have_attribute("data-verified", "false")
    expect(verdict).to_contain_text("FAILED")
    expect(verdict).to_contain_text("root mismatch")
    shot(page, "entry-tampered")


@pytest.mark.parametrize(
    ("who", "path", "name"),
    [
        ("", "/console/login", "login"),
        ("a-cmd", "/console/approvals", "approvals-queue"),
        ("a-cmd", "/console/decisions", "decisions"),
        ("a-aud", "/console/decisions", "decisions-auditor"),
        ("a-aud", "/console/control", "control"),
        ("a-cmd", "/console/policies", "policies"),
    ],
)
def test_each_page_holds_its_content_at_1280x800(
    srv: Server, browser: Browser, as_who: object, who: str, path: str, name: str
) -> None:
    srv.hold(body=CYBER)  # two approvers needed: the queue shows a vote count
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve", {"comment": "ok"})
    page = as_who(who) if who else browser.new_page(viewport=VIEWPORT)  # type: ignore[operator]
    answer = page.goto(f"{srv.base}{path}")
    assert answer is not None and answer.status == 200
    expect(page.locator("h1")).to_be_visible()
    fits(page)
    shot(page, name)
    if not who:
        page.close()
