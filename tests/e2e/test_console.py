"""The rollouts console in a real browser (Debian's headless Chromium, driven by Playwright)
while real rollouts run on the local engine: the list, a rollout's page with its state
machine lit and its chart, and the buttons, which act on the alias.

A screenshot of each page is kept in ``test-screenshots/`` for review.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rollouts_cli.cli import Where
from rollouts_cli.console.server import ConsoleServer
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import (
    Rollouts,
    Target,
    baking,
    eventually,
    rollout_id,
    rollout_record,
    without_aws_environment,
)
from rollouts_cli.stack import Connection

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-screenshots"
ROLLOUTS = Path(sys.executable).with_name("rollouts")
# Debian's Chromium (make test installs it); Playwright never downloads a browser here.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root and on a closed network: no sandbox, and no calls home (DESIGN, the machine's notes).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Held at 10% until promoted or aborted: the page is looked at while it waits.
GATED = {
    "steps": [{"weight": 10, "bakeSeconds": 1}, {"pause": {}}, {"weight": 50, "bakeSeconds": 1}]
}
# Everything waits, but seconds, not minutes: a real person's view of a running rollout.
WAIT = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console(local_engine: LocalEngine) -> Iterator[ConsoleServer]:
    """The console of the engine's control plane, as `rollouts local up` serves it."""
    info = local_engine.info
    server = ConsoleServer(
        Where(info.stack_name, Connection(endpoint_url=info.endpoint)), 0, allow_actions=True
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    yield opened
    context.close()
    assert not problems, problems


def keep(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_rollout(page: Page, console: ConsoleServer, function_name: str, arn: str) -> None:
    """From the list, filtered by the function, to the rollout's page."""
    page.goto(console.url)
    page.fill("#filter-function", function_name)
    row = page.locator(f'#rollouts tbody tr[data-rollout-id="{rollout_id(arn)}"]')
    expect(row).to_have_attribute("data-status", "RUNNING", timeout=WAIT)
    expect(page.locator("#rollouts tbody tr")).to_have_count(1)
    expect(row).to_contain_text(f"{function_name}:live")
    expect(row).to_contain_text("1 → 2")
    expect(row).to_contain_text("step 2 of 3 at 10% on the target")
    # Both filters: the alias's own history (the table's index), as `rollouts list` reads it.
    page.fill("#filter-alias", "live")
    expect(page.locator("#count")).to_contain_text("of the alias", timeout=WAIT)
    expect(page.locator("#rollouts tbody tr")).to_have_count(1)
    expect(row).to_have_attribute("data-status", "RUNNING")
    page.fill("#filter-alias", "another")
    expect(page.locator("#rollouts tbody tr")).to_have_count(0, timeout=WAIT)
    expect(page.locator("#empty")).to_be_visible()
    page.fill("#filter-alias", "live")
    expect(row).to_be_visible(timeout=WAIT)
    keep(page, "list")
    row.locator("a").click()
    expect(page.locator("#status")).to_have_text("RUNNING", timeout=WAIT)


def graph_state(page: Page) -> dict[str, Any]:
    """What the drawn graph lights, read from the graph library itself."""
    found: dict[str, Any] = page.evaluate(
        """() => {
            const cy = window.rolloutsGraph;
            return {
                nodes: cy.nodes().length,
                current: cy.nodes('.current').map((n) => n.id()),
                failed: cy.nodes('.failed').map((n) => n.id()),
                visited: cy.nodes('.visited').map((n) => n.id()),
            };
        }"""
    )
    return found


def ask(page: Page, button: str, reason: str) -> None:
    """Click a verb's button, give the reason the dialog asks for, confirm."""
    page.click(f"#actions {button}")
    dialog = page.locator("#ask")
    expect(dialog).to_be_visible()
    expect(page.locator("#ask-confirm")).to_be_disabled()  # no reason, no request
    page.fill("#ask-reason", reason)
    page.click("#ask-confirm")
    expect(page.locator("#answer")).to_contain_text("requested by", timeout=WAIT)


@pytest.fixture
def gated(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> tuple[Target, str]:
    """A rollout of a new function held at its pause step (10%): ``(target, execution ARN)``."""
    time_scale(1.0)
    target = Target(local_engine, unique_name("console"))
    arn = rollouts.start(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": GATED}
    )
    eventually(lambda: baking(local_engine, arn, held=True), "the pause step", 60)
    return target, arn


def test_a_promote_through_the_console_moves_the_alias_and_the_page_follows_it(
    local_engine: LocalEngine, console: ConsoleServer, page: Page, gated: tuple[Target, str]
) -> None:
    target, arn = gated

    open_rollout(page, console, target.name, arn)
    expect(page.locator("#current-state")).to_contain_text("now in", timeout=WAIT)
    drawn = graph_state(page)
    assert drawn["nodes"] == 33  # every state of statemachine/rollout.asl.json
    assert drawn["current"] in (["Bake"], ["CheckHealth"], ["NextAction"])
    assert {"ReadRequest", "PrepareRollout", "ShiftTraffic", "Bake"} <= set(drawn["visited"])
    assert "PromoteTarget" not in drawn["visited"]
    assert drawn["failed"] == []
    # Step 1 at 10%, and the pause (step 2) at the same weight, each a shift (and a check
    # between them, or in the same second).
    expect(page.locator("#chart")).to_have_attribute(
        "data-marks", re.compile(r"\bshift\b.*\bshift\b"), timeout=WAIT
    )
    assert (page.locator("#chart").get_attribute("data-marks") or "").split().count("shift") == 2
    expect(page.locator("#summary")).to_contain_text("10% on the target at step 2 of 3")
    expect(page.locator("#summary")).to_contain_text("waiting for rollouts promote")
    keep(page, "rollout-running")

    ask(page, 'button[data-verb="promote"]:not([data-full])', "dashboards look fine")

    # Without a reload: the page follows the rollout to its end.
    expect(page.locator("#status")).to_have_text("SUCCEEDED", timeout=WAIT)
    assert target.alias() == ("2", {})
    expect(page.locator("#cause")).to_contain_text("promoted")
    marks = page.locator("#chart").get_attribute("data-marks") or ""
    assert marks.split().count("shift") == 3  # then step 3, at 50%
    assert {"request", "promoted", "succeeded"} <= set(marks.split())
    expect(page.locator("#marks")).to_contain_text("promote by")
    drawn = graph_state(page)
    assert drawn["current"] == []
    assert {"PromoteTarget", "FinishRollout", "Promoted"} <= set(drawn["visited"])
    for button in page.locator("#actions button").all():
        expect(button).to_be_disabled()
    record = rollout_record(local_engine, rollout_id(arn)) or {}
    assert [(r["verb"], r.get("reason")) for r in record["requests"]] == [
        ("promote", "dashboards look fine")
    ]
    keep(page, "rollout-promoted")


def test_an_abort_through_the_console_rolls_back_and_the_graph_shows_where_it_ended(
    console: ConsoleServer, page: Page, gated: tuple[Target, str]
) -> None:
    target, arn = gated
    open_rollout(page, console, target.name, arn)

    ask(page, 'button[data-verb="abort"]', "error budget burning")

    expect(page.locator("#status")).to_have_text("FAILED", timeout=WAIT)
    assert target.alias() == ("1", {})
    expect(page.locator("#cause")).to_contain_text("rolled back")
    expect(page.locator("#cause")).to_contain_text("error budget burning")
    expect(page.locator("#graph")).to_have_attribute("data-failed", "RolledBack", timeout=WAIT)
    drawn = graph_state(page)
    assert drawn["failed"] == ["RolledBack"]
    assert "RollBack" in drawn["visited"]
    marks = set((page.locator("#chart").get_attribute("data-marks") or "").split())
    assert {"shift", "request", "rolled-back"} <= marks
    keep(page, "rollout-rolled-back")


# --- the console's own guards (HTTP, no browser) ----------------------------------------


def opened(url: str) -> tuple[str, str]:
    """``(base, key)`` of the URL a console prints: ``http://127.0.0.1:P/?key=K``."""
    base, _, key = url.partition("?key=")
    assert base.startswith("http://127.0.0.1:") and base.endswith("/") and key, url
    return base, key


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    key: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    data = (
        (body if isinstance(body, bytes) else json.dumps(body).encode())
        if body is not None
        else None
    )
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", content_type)
    if key is not None:
        request.add_header("Cookie", f"rollouts-console-key={key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"text": text.decode()}


def token_of(base: str, key: str) -> str:
    request = urllib.request.Request(base, headers={"Cookie": f"rollouts-console-key={key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        html = answer.read().decode()
    return html.split('name="rollouts-token" content="')[1].split('"')[0]


def test_the_console_answers_only_with_its_key(console: ConsoleServer) -> None:
    base, key = opened(console.url)

    # Another user or process that finds the port has no key: nothing is read for it.
    for path in ("", "api/rollouts", "api/graph", "static/console.js"):
        assert call(base + path)[0] == 401, path
    assert call(base + "?key=guess")[0] == 401
    # The printed URL sets the key as a cookie, then leads on to the page without it.
    browser_like = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with browser_like.open(console.url, timeout=30) as shown:
        assert shown.status == 200
        assert shown.url == base
    first = urllib.request.Request(console.url, method="GET")
    no_follow = urllib.request.build_opener(NoRedirect)
    try:
        no_follow.open(first, timeout=30)
        raise AssertionError("the key's URL must redirect")
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 303
        assert redirect.headers["Location"] == "/"
        cookie = redirect.headers["Set-Cookie"]
        assert f"rollouts-console-key={key}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert call(base + "api/rollouts", key=key)[0] == 200


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_a_verb_needs_the_pages_token_and_this_hosts_name(
    local_engine: LocalEngine,
    console: ConsoleServer,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(0.0)
    target = Target(local_engine, unique_name("console"))
    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )
    assert ended.status == "SUCCEEDED"
    base, key = opened(console.url)
    verb = f"{base}api/rollouts/{rollout_id(ended.arn)}/abort"
    token = token_of(base, key)
    sent = {"X-Rollouts-Token": token}

    assert call(verb, "POST", {"reason": "x"}, key=key)[0] == 403  # no token: another site's form
    assert call(verb, "POST", {"reason": "x"}, {"X-Rollouts-Token": "guess"}, key=key)[0] == 403
    assert call(verb, "POST", {"reason": "x"}, sent)[0] == 401  # the token without the key
    # A DNS-rebound name reaching 127.0.0.1 is refused before anything is read.
    assert call(base + "api/rollouts", headers={"Host": "evil.example:80"}, key=key)[0] == 421
    json_ = "application/json"
    refused = [
        ("abort", {"reason": 7}, json_, 400, "reason: must be text of at most 1000"),
        ("promote", {"full": "yes"}, json_, 400, "full: must be true or false"),
        ("abort", {"reasn": "typo"}, json_, 400, "reasn: abort takes no such field"),
        ("abort", {"full": True}, json_, 400, "full: abort takes no such field"),
        ("abort", b'{"reason": "x"', json_, 400, "body: is not JSON"),
        ("promote", b'{"full": true}', "text/plain", 415, "body: must be sent as application/"),
        ("abort", [], json_, 400, "body: must be a JSON object"),
    ]
    for name, body, content_type, code, message in refused:
        asked = verb.replace("/abort", f"/{name}")
        status, answer = call(asked, "POST", body, sent, key=key, content_type=content_type)
        assert (status, answer["error"]) == (code, "ValidationError"), body
        assert answer["message"].startswith(message), answer
    status, answer = call(verb.replace("/abort", "/delete"), "POST", {}, sent, key=key)
    assert (status, answer["error"]) == (404, "NoSuchVerb")
    status, answer = call(f"{base}api/rollouts/no-such-rollout/abort", "POST", {}, sent, key=key)
    assert (status, answer["error"]) == (404, "NotFound")
    # With the key, the token and a good body: the service answers, here that it has ended.
    status, answer = call(verb, "POST", {"reason": "late"}, sent, key=key)
    assert (status, answer["error"]) == (409, "RolloutEnded")
    assert target.alias() == ("2", {})
    record = rollout_record(local_engine, rollout_id(ended.arn)) or {}
    assert not record.get("requests")
    assert call(f"{base}api/rollouts/no-such-rollout", key=key)[0] == 404


# --- rollouts console, beside a deployed stack (the engine, through its endpoint) -------


@pytest.fixture
def stack_console(local_engine: LocalEngine) -> Iterator[Callable[..., str]]:
    """`rollouts console --endpoint-url ...` in a process of its own; returns its URL."""
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> str:
        process = subprocess.Popen(
            [
                str(ROLLOUTS),
                "console",
                "--endpoint-url",
                local_engine.endpoint,
                "--stack-name",
                local_engine.info.stack_name,
                *options,
            ],
            env=without_aws_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
        return line.rsplit(" ", 1)[1].strip()

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_rollouts_console_beside_a_stack_shows_its_rollouts_read_only_by_default(
    local_engine: LocalEngine,
    stack_console: Callable[..., str],
    page: Page,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(0.0)
    target = Target(local_engine, unique_name("beside"))
    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )
    url = stack_console()
    base, key = opened(url)

    for query in (f"function={target.name}", f"function={target.name}&alias=live"):
        status, listed = call(f"{base}api/rollouts?{query}", key=key)
        assert status == 200
        assert [(r["rolloutId"], r["status"], r["toVersion"]) for r in listed["rollouts"]] == [
            (rollout_id(ended.arn), "SUCCEEDED", "2")
        ], query
    page.goto(url)  # the key, from the printed URL
    page.goto(f"{base}rollouts/{rollout_id(ended.arn)}")
    expect(page.locator("#status")).to_have_text("SUCCEEDED", timeout=WAIT)
    expect(page.locator("#actions")).to_contain_text("--allow-actions")
    expect(page.locator("#actions button")).to_have_count(0)
    keep(page, "stack-console-read-only")
    status, answer = call(
        f"{base}api/rollouts/{rollout_id(ended.arn)}/abort",
        "POST",
        {"reason": "x"},
        {"X-Rollouts-Token": token_of(base, key)},
        key=key,
    )
    assert (status, answer["error"]) == (403, "ActionsNotAllowed")

    acting, acting_key = opened(stack_console("--allow-actions"))
    status, answer = call(
        f"{acting}api/rollouts/{rollout_id(ended.arn)}/pause",
        "POST",
        {"reason": "x"},
        {"X-Rollouts-Token": token_of(acting, acting_key)},
        key=acting_key,
    )
    assert (status, answer["error"]) == (409, "RolloutEnded")


def test_rollouts_console_names_a_missing_stack(local_engine: LocalEngine) -> None:
    finished = subprocess.run(
        [
            str(ROLLOUTS),
            "console",
            "--endpoint-url",
            local_engine.endpoint,
            "--stack-name",
            "no-such-stack",
        ],
        env=without_aws_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert f"no stack no-such-stack in {local_engine.endpoint}" in finished.stderr
