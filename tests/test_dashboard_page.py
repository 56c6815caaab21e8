"""The dashboard page in a real browser, headless Chromium driven by Playwright.

Live mode: a loopback HTTP server in a thread serves the page's files at /ui/ and the JSON
fixtures (tests/data/dashboard/) at the daemon's routes, once without and once with a token.
Static mode: `write_site` writes the site into a tmp folder, the page opens from file://, and
one snapshot is missing and one unreadable: every other part still renders. In every run
the browser console must stay free of errors, except the load failures the run provokes on
purpose (a 401 before the token, the missing snapshot file), which are matched exactly.

Nothing leaves the loopback: the page has no external URL, and Chromium runs with its
background networking off. Screenshots go to tmp_path and, when $TIERD_ARTIFACTS is set, there.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import run_tierd, start_daemon
from tests.openai_test_server import start_openai_server
from tierd.dashboard.site import DATA_DIR, PAGE_FILES, STATIC_DIR, write_site

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the fixture below says what to install
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FIXTURES = Path(__file__).resolve().parent / "data" / "dashboard"
ROUTES = {"/status": "status", "/models": "models", "/costs": "costs",
          "/costs/daily": "costs_daily", "/costs/routing": "routing", "/costs/calls": "calls",
          "/jobs": "jobs", "/jobs/history": "job_history", "/index/status": "index",
          "/bench/runs": "bench"}
TOKEN = "tierd-test-token-7f3a"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def fixtures() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}


# ---------------------------------------------------------------------------------------------
# The daemon's stand-in


class FakeDaemon:
    """Answers /ui/ with the page's files and the JSON routes with `snapshots`, as tierd would.

    Every JSON request is logged (path, Authorization header, start and end time) so a test can
    check which headers the page sent and that its refreshes never overlapped."""

    def __init__(self, snapshots: dict[str, dict], token: str | None = None,
                 delay: dict[str, float] | None = None):
        self.snapshots = snapshots
        self.token = token
        self.delay = delay or {}
        self.log: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeDaemon:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def requests(self, route: str | None = None) -> list[dict]:
        with self.lock:
            return [r for r in self.log if route is None or r["path"] == route]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest's output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = urlsplit(self.path).path
                if path == "/ui":
                    self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain",
                               {"Location": "/ui/"})
                elif path.startswith("/ui/"):
                    self._page_file(path.removeprefix("/ui/") or "index.html")
                elif path in ROUTES:
                    self._route(path)
                else:
                    self._json(HTTPStatus.NOT_FOUND, {"error": {"message": "no such route",
                                                                "type": "not_found_error"}})

            def _page_file(self, name: str) -> None:
                types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
                file = STATIC_DIR / name
                if name not in PAGE_FILES or not file.is_file():
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                    return
                self._send(HTTPStatus.OK, file.read_bytes(),
                           types[file.suffix] + "; charset=utf-8")

            def _route(self, path: str) -> None:
                entry = {"path": path, "auth": self.headers.get("Authorization"),
                         "start": time.monotonic()}
                with daemon.lock:
                    daemon.log.append(entry)
                time.sleep(daemon.delay.get(path, 0))
                name = ROUTES[path]
                if daemon.token and entry["auth"] != f"Bearer {daemon.token}":
                    self._json(HTTPStatus.UNAUTHORIZED, {"error": {
                        "message": "this tierd needs a bearer token",
                        "type": "authentication_error", "param": None, "code": "unauthorized"}},
                        {"WWW-Authenticate": 'Bearer realm="tierd"'})
                elif name in daemon.snapshots:
                    self._json(HTTPStatus.OK, daemon.snapshots[name])
                else:
                    self._json(HTTPStatus.NOT_FOUND, {"error": {"message": "not here",
                                                                "type": "not_found_error"}})
                entry["end"] = time.monotonic()

            def _json(self, status: HTTPStatus, body: dict,
                      headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(body).encode(), "application/json", headers)

            def _send(self, status: HTTPStatus, body: bytes, kind: str,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


# ---------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module; each test gets its own context (own storage, own cache).

    Playwright gives every launch a fresh temporary profile (its own --user-data-dir), and
    never downloads a browser here: it drives the system's Chromium."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: run scripts/install-browser to test the dashboard")
    if sync_playwright is None:
        pytest.fail("the dashboard test needs the playwright package (pip install playwright; "
                    "no browser download: it drives /usr/bin/chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Console:
    """The page's console errors and uncaught exceptions, less the ones a test expects."""

    def __init__(self, page: Page):
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def unexpected(self, allowed: tuple[str, ...] = ()) -> list[str]:
        """Errors other than 'Failed to load resource' for a URL that contains one of `allowed`."""
        def expected(error: str) -> bool:
            return error.startswith("Failed to load resource") and any(a in error for a in allowed)
        return [e for e in self.errors if not expected(e)]


def open_page(browser: Browser, url: str, viewport: dict, locale: str = "en-US",
              timezone: str = "Europe/Berlin") -> tuple[Page, Console]:
    context = browser.new_context(viewport=viewport, locale=locale, timezone_id=timezone)
    page = context.new_page()
    console = Console(page)
    page.goto(url)
    return page, console


def part(page: Page, name: str):
    return page.locator(f'[data-part="{name}"]')


def wait_until_true(page: Page, expression: str, timeout: float = 15.0) -> None:
    """Poll `expression` from outside the page: Playwright's wait_for_function evaluates its
    predicate inside the page, which the daemon's Content-Security-Policy rightly forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g}s: {expression}")
        time.sleep(0.1)


def wait_rendered(page: Page) -> None:
    """Every part has content: data, or its "no data" note."""
    wait_until_true(
        page, "[...document.querySelectorAll('[data-part]')].every(el => el.childElementCount > 0)")


def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("TIERD_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)
    return shot


def spent_today() -> float:
    return fixtures()["costs"]["cost_usd"]


def assert_core_content(page: Page) -> None:
    """What a person looks for first: the hosts, a model and its size, today's spend, a run."""
    hosts = part(page, "hosts")
    assert hosts.get_by_role("heading", name="workstation").is_visible()
    assert hosts.get_by_role("heading", name="mac-mini").is_visible()
    assert "5.1 GiB measured (estimate 5.3 GiB)" in hosts.inner_text()
    qwen = part(page, "models").get_by_role("row").filter(
        has_text="qwen2.5-coder-7b-instruct-q4_k_m")
    assert qwen.is_visible()
    assert "5.1 GiB" in qwen.inner_text() and "in use" not in qwen.inner_text()
    today = part(page, "today")
    spent = f"${spent_today():,.2f}"  # en-US, as Intl.NumberFormat writes USD there
    assert today.locator("dd", has_text=spent).first.is_visible()
    assert f"{spent} of $8.00" in today.inner_text()
    run = part(page, "runs").get_by_role("row").filter(has_text="#49")
    assert run.is_visible() and "nightly-index" in run.inner_text() and "ok" in run.inner_text()


# ---------------------------------------------------------------------------------------------
# Live mode


def test_live_page_renders_every_section_at_desktop_and_phone_width(browser, tmp_path):
    with FakeDaemon(fixtures()) as daemon:
        page, console = open_page(browser, f"{daemon.url}/ui", DESKTOP)
        wait_rendered(page)
        assert page.url == f"{daemon.url}/ui/"
        assert_core_content(page)
        assert part(page, "models").get_by_role("row").filter(
            has_text="llama-3.1-8b").get_by_text("in use").is_visible()
        assert part(page, "calls").locator("tbody tr").count() == 50
        assert part(page, "today").get_by_text("Savings against all-frontier").is_visible()
        assert part(page, "daily").locator("svg.chart g rect").count() > 30
        assert part(page, "bench").locator("svg.chart polyline").count() == 4
        assert "No data" not in page.locator("main").inner_text()
        # Times carry UTC on hover.
        first_time = part(page, "calls").locator("time").first
        assert first_time.get_attribute("title").endswith(" UTC")

        save_screenshot(page, tmp_path, "dashboard-live-desktop.png")
        page.get_by_role("radio", name="tier").check()
        assert "frontier" in part(page, "daily").locator(".legend").inner_text()

        page.set_viewport_size(PHONE)
        page.wait_for_timeout(400)  # the charts redraw for the new width
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], "the page scrolls sideways at phone width"
        save_screenshot(page, tmp_path, "dashboard-live-phone.png")
        assert console.unexpected() == []
        # Every route was asked for, with its query.
        assert {r["path"] for r in daemon.requests()} == set(ROUTES)


def test_live_page_refreshes_without_overlap_and_keeps_unchanged_parts(browser, tmp_path):
    snapshots = fixtures()
    # /status takes longer than the refresh interval: a naive setInterval would pile up.
    with FakeDaemon(snapshots, delay={"/status": 1.6}) as daemon:
        page, console = open_page(browser, f"{daemon.url}/ui/?refresh=1", DESKTOP)
        wait_rendered(page)
        page.evaluate("document.querySelector('[data-part=hosts] article').dataset.seen = 'yes'")
        page.evaluate("window.scrollTo(0, 900)")
        newest = dict(snapshots["calls"]["calls"][0], request_id="req-new", task="final_review",
                      ts=snapshots["calls"]["calls"][0]["ts"] + 30)
        snapshots["calls"] = {"calls": [newest, *snapshots["calls"]["calls"]]}
        wait_until_true(
            page, "document.querySelector('[data-part=calls]').innerText.includes('final_review')",
            timeout=10)
        assert page.evaluate("window.scrollY") == 900
        # The hosts part saw the same data, so it is the same element, not a rebuilt one.
        assert page.evaluate(
            "document.querySelector('[data-part=hosts] article').dataset.seen") == "yes"
        page.wait_for_timeout(2500)
        rounds = sorted(daemon.requests("/status"), key=lambda r: r["start"])
        assert len(rounds) >= 3
        for before, after in zip(rounds, rounds[1:]):
            assert after["start"] >= before["end"], "two refreshes were in flight at once"
        assert console.unexpected() == []


def test_live_page_asks_for_the_token_once_and_again_when_it_is_wrong(browser, tmp_path):
    with FakeDaemon(fixtures(), token=TOKEN) as daemon:
        page, console = open_page(browser, f"{daemon.url}/ui/", DESKTOP)
        form = page.locator("#auth")
        form.wait_for(state="visible")
        assert page.locator("#dashboard").is_hidden()
        page.get_by_label("Token").fill("not-the-token")
        page.get_by_role("button", name="Show the dashboard").click()
        page.get_by_text("That token was not accepted").wait_for()
        asked_before = len(daemon.requests())
        page.get_by_label("Token").fill(TOKEN)
        page.get_by_role("button", name="Show the dashboard").click()
        wait_rendered(page)
        assert form.is_hidden()
        assert_core_content(page)
        assert page.evaluate("sessionStorage.getItem('tierd.dashboard.token')") == TOKEN
        after = daemon.requests()[asked_before:]
        assert after and all(r["auth"] == f"Bearer {TOKEN}" for r in after)

        page.reload()  # the tab keeps the token: no second question
        wait_rendered(page)
        assert form.is_hidden()
        save_screenshot(page, tmp_path, "dashboard-live-token.png")
        # Only the 401s this run provoked on purpose may show in the console.
        assert console.unexpected(allowed=("status of 401",)) == []


# ---------------------------------------------------------------------------------------------
# Static mode


def test_write_site_writes_the_page_and_each_snapshot_twice(tmp_path):
    snapshots = fixtures()
    out = tmp_path / "site"
    written = write_site(out, snapshots)
    names = {p.relative_to(out).as_posix() for p in written}
    assert names == {*PAGE_FILES, *(f"{DATA_DIR}/{n}.{ext}" for n in snapshots
                                    for ext in ("json", "js"))}
    assert not list(out.rglob("*.tmp"))
    assert json.loads((out / DATA_DIR / "costs.json").read_text()) == snapshots["costs"]
    script = (out / DATA_DIR / "costs.js").read_text()
    assert script.startswith('tierdSnapshot("costs", ') and script.rstrip().endswith(");")
    assert '<meta name="tierd-mode" content="static">' in (out / "index.html").read_text()
    assert (out / "app.js").read_bytes() == (STATIC_DIR / "app.js").read_bytes()
    assert oct((out / DATA_DIR / "costs.js").stat().st_mode & 0o777) == "0o644"


def test_a_failed_write_site_leaves_the_previous_site_whole(tmp_path):
    out = tmp_path / "site"
    write_site(out, {"status": {"v": 1}, "costs": {"v": 1}})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        write_site(out, {"status": {"v": 2}, "costs": {"bad": {Unserialisable(): 1}}})
    assert json.loads((out / DATA_DIR / "status.json").read_text()) == {"v": 1}
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(ValueError):
        write_site(out, {"../escape": {}})


def test_static_site_from_file_url_renders_every_part_but_the_missing_one(browser, tmp_path):
    out = tmp_path / "site"
    write_site(out, fixtures())
    (out / DATA_DIR / "bench.js").unlink()  # a snapshot the export never wrote
    (out / DATA_DIR / "bench.json").unlink()
    (out / DATA_DIR / "index.js").write_text("// cut short\n")  # one that loads but says nothing
    page, console = open_page(browser, (out / "index.html").as_uri(), DESKTOP,
                              locale="de-DE", timezone="America/New_York")
    wait_rendered(page)
    assert_core_content_static(page)
    assert "No data" in part(page, "bench").inner_text()
    assert "No data" in part(page, "index").inner_text()
    for name in ("hosts", "models", "today", "daily", "tiers", "calls", "jobs", "runs"):
        assert "No data" not in part(page, name).inner_text(), name
    save_screenshot(page, tmp_path, "dashboard-static-file.png")
    assert console.unexpected(allowed=("data/bench.js",)) == []


def test_static_site_from_a_plain_web_server_works_the_same(browser, tmp_path):
    """A static host (here http.server over the folder) serves the files as they are."""
    out = tmp_path / "site"
    write_site(out, fixtures())
    (out / DATA_DIR / "bench.js").unlink()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        page, console = open_page(browser, f"http://{host}:{port}/", PHONE)
        wait_rendered(page)
        assert_core_content(page)
        assert "No data" in part(page, "bench").inner_text()
        assert page.evaluate("document.documentElement.dataset.mode") == "static"
        assert console.unexpected(allowed=("data/bench.js",)) == []
    finally:
        server.shutdown()
        server.server_close()


def assert_core_content_static(page: Page) -> None:
    """The same content as live, in the German locale: the page formats with Intl."""
    hosts = part(page, "hosts")
    assert hosts.get_by_role("heading", name="workstation").is_visible()
    assert hosts.get_by_role("heading", name="mac-mini").is_visible()
    assert "5,1 GiB" in hosts.inner_text()
    assert part(page, "models").get_by_role("row").filter(
        has_text="qwen2.5-coder-7b-instruct-q4_k_m").is_visible()
    assert f"{spent_today():.2f}".replace(".", ",") + "\u00a0$" in part(page, "today").inner_text()
    run = part(page, "runs").get_by_role("row").filter(has_text="#49")
    assert run.is_visible() and "nightly-index" in run.inner_text()


# ---------------------------------------------------------------------------------------------
# The real daemon, and its export as a static site


@pytest.fixture(scope="module")
def served(tmp_path_factory, packaged_models_dir):
    """A `tierd serve` that has answered a local and a priced cloud call (ledger rows, spend
    today, a loaded model) and run its index job once."""
    root = tmp_path_factory.mktemp("dashboard-daemon")
    cloud = start_openai_server(reply_tokens=5)
    keys = root / "keys.env"
    keys.write_text(f"TIERD_TEST_DASHBOARD_KEY={cloud.api_key}\n")
    notes = root / "notes"
    notes.mkdir()
    for name in ("sourdough.md", "retry_http.py"):
        shutil.copy(Path(__file__).parent / "index_corpus" / name, notes / name)
    daemon = start_daemon(root, packaged_models_dir, f'''
env_file = "{keys}"
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:{cloud.port}/v1"
api_key_env = "TIERD_TEST_DASHBOARD_KEY"
models = ["gpt-4o-mini"]
[[prices]]
model = "gpt-4o-mini"
input = 1000.0
output = 1000.0
[budgets]
daily = 5.0
[index]
summarize = false
[[index.sources]]
name = "notes"
path = "{notes}"
''')
    try:
        for model in ("packaged:gemma3-270m", "gpt-4o-mini"):
            answer = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=120, json={
                "model": model, "max_tokens": 4,
                "messages": [{"role": "user", "content": "Say hi."}]})
            assert answer.status_code == 200, answer.text
        started = httpx.post(f"{daemon.url}/jobs/index-rebuild/run", timeout=30)
        assert started.status_code == 202, started.text
        run = started.json()
        deadline = time.monotonic() + 120
        while run["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            run = httpx.get(f"{daemon.url}{started.headers['Location']}").json()
        assert run["status"] == "ok", run
        yield daemon
    finally:
        daemon.stop()
        cloud.stop()


def assert_daemon_content(page: Page) -> None:
    """The host, the loaded model with its measured bytes, today's spend, the job run."""
    assert part(page, "hosts").get_by_role("heading", name="local").is_visible()
    gemma = part(page, "models").get_by_role("row").filter(has_text="packaged:gemma3-270m")
    assert gemma.is_visible() and "MiB" in gemma.inner_text()
    today = part(page, "today")
    spent = today.locator("dd").first.inner_text()
    assert spent.startswith("$") and spent != "$0.00", spent
    assert "of $5.00" in today.inner_text()
    run = part(page, "runs").get_by_role("row").filter(has_text="index-rebuild")
    assert run.first.is_visible() and "ok" in run.first.inner_text()


def test_the_daemon_serves_the_page_with_its_own_data(browser, served, tmp_path):
    page, console = open_page(browser, f"{served.url}/ui", DESKTOP)
    wait_rendered(page)
    assert page.url == f"{served.url}/ui/"
    assert_daemon_content(page)
    save_screenshot(page, tmp_path, "dashboard-daemon.png")
    assert console.unexpected() == []
    # A browser that opens the root lands on the page; an Ollama client still sees Ollama's line.
    assert httpx.get(served.url, headers={"Accept": "text/html"}).headers["location"] == "ui/"
    assert httpx.get(served.url).text == "Ollama is running (tierd)"
    for route, params, field in [("/costs/daily", {"days": 0}, "days"),
                                 ("/costs/calls", {"limit": 5000}, "limit"),
                                 ("/costs/routing", {"period": "year"}, "period"),
                                 ("/bench/runs", {"limit": 0}, "limit")]:
        bad = httpx.get(f"{served.url}{route}", params=params)
        assert bad.status_code == 400 and field in bad.json()["error"]["message"], bad.text


def test_the_exported_site_renders_from_file_with_a_snapshot_missing(browser, served, tmp_path):
    out = tmp_path / "site"
    done = run_tierd("--config", str(served.config_path), "export", "--out", str(out), "--site")
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {*PAGE_FILES, DATA_DIR}
    (out / DATA_DIR / "routing.json").unlink()
    (out / DATA_DIR / "routing.js").unlink()
    page, console = open_page(browser, (out / "index.html").as_uri(), DESKTOP)
    wait_rendered(page)
    assert_daemon_content(page)
    assert "No data" in part(page, "tiers").inner_text()
    save_screenshot(page, tmp_path, "dashboard-daemon-site.png")
    assert console.unexpected(allowed=("routing.js",)) == []
