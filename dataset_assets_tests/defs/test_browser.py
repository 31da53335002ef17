"""The Dagster UI in a real browser (Playwright driving Debian's Chromium): after a materialization of the image
assets, the asset graph, the artifact page with its schema, sample thumbnails and full fingerprint, and its checks
show; after a materialization of one day of examples/daily_events (served beside the demo from one workspace),
its partitioned artifact shows that day and its checks.

Screenshots go to $DATASET_ASSETS_SCREENSHOTS (default: the test's tmp folder, `screenshots/`).
Chromium comes from Debian (`apt-get install -y chromium`; `.ci/run` installs it when missing).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ASSETS = "raw_images,image_dataset,image_pathlist"
BIN = Path(sys.executable).parent
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "daily_events"
DAY = "2024-01-02"
WORKSPACE = f"""load_from:
  - python_module: {{module_name: dataset_assets.definitions, location_name: dataset_assets}}
  - python_module: {{module_name: daily_events.definitions, working_directory: {EXAMPLE}, location_name: daily_events}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the Dagster webserver exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the Dagster webserver did not answer at {url} within {seconds} s")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A materialization of the image assets and of one day of the example on a temporary instance, and the
    webserver on it at 127.0.0.1 (the tests start once both materializations have succeeded)."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y chromium`"
    root = tmp_path_factory.mktemp("ui")
    (root / "dagster").mkdir()
    (root / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DATASET_ASSETS_HOME": str(root), "DAGSTER_HOME": str(root / "dagster"), "TF_CPP_MIN_LOG_LEVEL": "1",
           "DAILY_EVENTS_BASE_DIR": str(root / "daily_events")}  # the example writes here, not into the repository
    runs = [
        ["-m", "dataset_assets.definitions", "--select", ASSETS],
        ["-m", "daily_events.definitions", "-d", str(EXAMPLE), "--select", "daily_events,daily_events_tfrecord", "--partition", DAY],
    ]
    # The two materializations and the webserver start side by side (each mostly imports TensorFlow and Dagster:
    # one after the other they took ~36 s of setup); the instance's SQLite storage is created first, here, so
    # that they do not race to create it.
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(root / "dagster")):
        pass
    logs = [open(root / f"materialize-{i}.log", "w+") for i in range(len(runs))]
    materializing = [
        subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", *args], env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, text=True)
        for args, log in zip(runs, logs)
    ]
    (root / "workspace.yaml").write_text(WORKSPACE)
    port = _free_port()
    log = open(root / "webserver.log", "w")
    server = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(root / "workspace.yaml")],
        env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        for done, out in zip(materializing, logs):
            try:
                done.wait(600)
            finally:
                if done.poll() is None:
                    done.kill()
            out.seek(0)
            assert done.returncode == 0, out.read()[-6000:]
        url = f"http://127.0.0.1:{port}"
        _wait_for(url + "/server_info", server, 180)
        shots = Path(os.environ.get("DATASET_ASSETS_SCREENSHOTS") or root / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield url, shots, root
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        for out in logs:
            out.close()


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(60_000)
        page.goto(ui[0])
        skip = page.get_by_text("Skip", exact=True)  # the first visit's community dialog covers the page
        try:
            skip.wait_for(state="visible", timeout=20_000)
            skip.click()
        except Exception:  # no dialog on this version: nothing to dismiss
            pass
        yield page
        browser.close()


def test_asset_graph_shows_the_image_assets(ui, page):
    url, shots, _ = ui
    page.goto(f"{url}/asset-groups")
    for group in ("raw", "datasets", "artifacts"):  # the global lineage shows the groups of the code location
        page.get_by_text(group, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(shots / "asset_graph.png"))


def test_artifact_page_shows_schema_thumbnails_and_statistics(ui, page):
    url, shots, _ = ui
    page.goto(f"{url}/assets/image_pathlist")
    for text in ("class_counts", "statistics", "preview", "uint8[8, 8, 1]"):
        page.get_by_text(text, exact=False).first.wait_for(state="attached")
    page.screenshot(path=str(shots / "artifact_page.png"), full_page=True)
    page.locator("tr", has_text="samples").first.get_by_text("Show Markdown").click()  # the markdown opens in a dialog
    thumbs = page.locator('img[src^="data:image/png;base64,"]').first
    thumbs.wait_for(state="visible")
    thumbs.scroll_into_view_if_needed()
    width, height = page.evaluate("(img) => [img.naturalWidth, img.naturalHeight]", thumbs.element_handle())
    assert width > 200 and height > 200, (width, height)  # a decoded grid: 10 classes x 4 samples of 8x8 images, scaled up
    page.get_by_text("4 per class of label").first.wait_for(state="visible")
    page.screenshot(path=str(shots / "samples_dialog.png"))
    thumbs.screenshot(path=str(shots / "thumbnails.png"))


def test_checks_of_the_artifact_show_and_passed(ui, page):
    url, shots, _ = ui
    page.goto(f"{url}/assets/image_pathlist?view=checks")
    for check in ("integrity", "round_trip"):
        page.get_by_text(check, exact=True).first.wait_for(state="visible")
    page.get_by_text("Passed").first.wait_for(state="visible")
    page.screenshot(path=str(shots / "checks.png"), full_page=True)


def test_the_full_fingerprint_shows_on_the_artifact_page_uncut(ui, page):
    import dataset_assets as da

    url, shots, root = ui
    (current,) = [v for v in da.versions(root / "artifacts" / "image_pathlist") if v.current]
    page.goto(f"{url}/assets/image_pathlist")
    value = page.get_by_text(current.fingerprint, exact=True).first
    value.wait_for(state="visible")  # the whole value, as text a user can select and copy
    overflow = page.evaluate("(el) => el.scrollWidth - el.clientWidth", value.element_handle())
    assert overflow <= 1, f"the fingerprint is cut off by {overflow} px"
    value.screenshot(path=str(shots / "fingerprint.png"))


def test_a_partitioned_artifact_shows_its_materialized_day_and_checks(ui, page):
    url, shots, _ = ui
    page.goto(f"{url}/assets/daily_events_tfrecord?view=partitions")
    page.get_by_text("Materialized (1)").first.wait_for(state="visible")  # one day of seven
    page.get_by_text(DAY, exact=True).first.click()
    for text in ("format", "num_elements", "fingerprint"):  # that day's own materialization metadata
        page.get_by_text(text, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(shots / "partitions.png"), full_page=True)
    page.goto(f"{url}/assets/daily_events_tfrecord?view=checks")
    for check in ("integrity", "round_trip"):
        page.get_by_text(check, exact=True).first.wait_for(state="visible")
    page.get_by_text("Passed").first.wait_for(state="visible")
    page.screenshot(path=str(shots / "partition_checks.png"), full_page=True)
