"""The Airflow web UI in a real browser (Debian's chromium through chromedriver), after the shared backfill.

Opens the DAG page, the graph with its per-model dbt tasks, one finished run and the Assets page, as a user would,
asserts what each must show and saves screenshots to .lakehouse/screenshots/ (git-ignored).
Nothing here downloads a browser: scripts/setup.sh installs the `chromium` and `chromium-driver` packages.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

from include.settings import PipelineSettings
from tests.integration.airflow_helpers import DAY1, shared_backfill

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# Headless in a container as root, and offline: no sandbox, GPU, sync, component updates or first-run pages.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1600,1000")
DAG_ID = PipelineSettings.dag_id
MODELS = ("stg_transactions", "dim_clients", "fact_transactions", "transaction_anomaly_detection")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return shared_backfill(tmp_path_factory.mktemp("datagen"))


@pytest.fixture(scope="module")
def browser(settings):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "run scripts/setup.sh: it installs chromium, chromium-driver"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(120)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def ui(browser, settings):
    """The UI's base URL, logged in: through the login form when the stack requires one."""
    import os

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base = f"http://127.0.0.1:{settings.airflow_port}"
    browser.get(base + "/")
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "input[type=password]")
          or browser.find_elements(By.CSS_SELECTOR, "a[aria-label=Dags]"), "the login form or the UI")
    if browser.find_elements(By.CSS_SELECTOR, "input[type=password]"):
        browser.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("admin")
        password = browser.find_element(By.CSS_SELECTOR, "input[type=password]")
        password.send_keys(os.environ.get("AIRFLOW_ADMIN_PASSWORD", ""))
        password.send_keys(Keys.ENTER)
        _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "a[aria-label=Dags]"), "the UI after login")
    return base


def _wait(driver, condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    _shot(driver, "timeout")
    raise AssertionError(f"timed out waiting for {what}; page text: {_text(driver)[:1500]}")


def _text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _shot(driver, name: str) -> Path:
    from include.settings import get_settings

    folder = get_settings().home / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_the_dag_page_shows_the_schedule_tags_and_runs(runs, browser, ui):
    browser.get(f"{ui}/dags/{DAG_ID}")
    expected = ("Next Run", "Overview", DAG_ID, "0 0 * * *", "ingestion", "Runs", "Tasks", "wait_for_transactions")
    # All at once: the page renders in parts, and on a busy machine it was seen to re-render between two reads.
    _wait(browser, lambda: all(e in _text(browser) for e in expected), f"the DAG page showing all of {expected}")
    assert _shot(browser, "01-dag").stat().st_size > 0


def test_the_graph_shows_a_task_per_dbt_model(runs, browser, ui):
    from selenium.webdriver.common.by import By

    browser.get(f"{ui}/dags/{DAG_ID}")
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "button[aria-label^='Show Graph']"), "graph button")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label^='Show Graph']").click()
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".react-flow__node"), "the graph")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Expand all task groups']").click()
    nodes = _wait(browser, lambda: all(m in _text(browser) for m in MODELS)
                  and browser.find_elements(By.CSS_SELECTOR, ".react-flow__node"), "the dbt group's model tasks")
    assert len(nodes) > 20, "sensors, ingestion, alerts and one node per dbt model and its tests"
    for task in ("wait_for_transactions", "ingest_transactions", "alert_anomalies", "LandingFileSensor"):
        assert task in _text(browser), task
    _shot(browser, "02-graph")


def test_a_finished_run_shows_its_tasks_with_sane_durations(runs, browser, ui):
    run_id = runs["again"]["runs"][DAY1]["dag_run_id"]
    browser.get(f"{ui}/dags/{DAG_ID}/runs/{run_id}")
    _wait(browser, lambda: re.search(r"Duration\s+\d", _text(browser)) and "Task Instances" in _text(browser),
          "the run page")
    text = _text(browser)
    assert str(DAY1) in text and "Success" in text and "Backfill" in text
    # A backfill run of one day takes minutes. `dags test` runs were drawn as lasting days ("59d 21h").
    duration = re.search(r"Duration\s+(\d+):(\d{2}):(\d{2})\b", text)
    assert duration, re.findall(r"Duration\s+\S+(?: \S+)?", text)
    assert int(duration[1]) < 3, duration[0]
    _shot(browser, "03-run")


def test_the_assets_page_lists_the_raw_tables_and_models(runs, browser, ui):
    browser.get(f"{ui}/assets")
    _wait(browser, lambda: "lakehouse.transactions" in _text(browser), "the Assets page")
    text = _text(browser)
    for asset in ("lakehouse.assets", "lakehouse.clients", "lakehouse.transactions"):
        assert asset in text, asset
    _shot(browser, "04-assets")


def test_browse_links_the_dbt_docs_with_the_projects_models_and_catalog(runs, browser, ui, settings):
    from selenium.webdriver.common.by import By

    from include.pipeline.dbt_docs import NAME, SLUG

    browser.get(f"{ui}/")
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "button[aria-label=Browse]")
          or browser.find_elements(By.XPATH, "//button[.//*[text()='Browse']]"), "the Browse menu")
    menu = (browser.find_elements(By.CSS_SELECTOR, "button[aria-label=Browse]")
            or browser.find_elements(By.XPATH, "//button[.//*[text()='Browse']]"))[0]
    menu.click()
    link = _wait(browser, lambda: browser.find_elements(By.XPATH, f"//a[.//*[text()='{NAME}'] or text()='{NAME}']"),
                 "the dbt docs link under Browse")[0]
    href = link.get_attribute("href")
    assert href.endswith(f"/cosmos/{SLUG}/dbt_docs_index.html"), href
    _shot(browser, "05-browse-menu")
    browser.get(f"{href}#!/model/model.lakehouse.fact_transactions")
    # dbt docs is a single-page app: it renders the model from manifest.json and its columns' types from
    # catalog.json (what `dbt docs generate` read from Trino).
    _wait(browser, lambda: "fact_transactions" in _text(browser) and "transaction_id" in _text(browser),
          "the model's page in the dbt docs")
    browser.get(f"{ui}/cosmos/{SLUG}/catalog.json")
    catalog = _text(browser)
    for model in MODELS:
        assert f"model.lakehouse.{model}" in catalog, model
    for secret in (settings.pg_password, settings.s3_secret_key, settings.airflow_admin_password):
        assert secret not in catalog
    browser.get(f"{href}#!/model/model.lakehouse.fact_transactions")
    _wait(browser, lambda: "transaction_id" in _text(browser), "the model's page again")
    _shot(browser, "06-dbt-docs")


def test_the_assets_page_shows_a_models_data_quality_on_its_event(runs, browser, ui):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(f"{ui}/assets")
    _wait(browser, lambda: browser.find_elements(By.XPATH, "//a[text()='marts.fact_transactions']"), "the model asset")
    browser.find_element(By.XPATH, "//a[text()='marts.fact_transactions']").click()
    # The asset's page lists its events, each with its `extra` in a folded JSON editor: unfold it as a user would.
    folds = _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".codicon-folding-collapsed"),
                  "the asset's events")
    ActionChains(browser).move_to_element(folds[0]).click().perform()
    _wait(browser, lambda: "tests_passed" in _text(browser), "the event's metadata on the asset page")
    text = _text(browser)
    for key in ('"rows":', '"rows_added_or_changed":', '"tests_failed": 0'):
        assert key in text, key
    _shot(browser, "07-asset-event")
