"""The MLflow UI of a trends run as a manager opens it: a real ``mlflow server`` (SQLite store,
served artifacts) on 127.0.0.1, a real headless Chromium (Debian's, installed when missing), and
the link ``riskml trends`` prints.

The run is logged by ``riskml.trends.trends`` through the server, from generated tables
(``riskml.synth.tables``) scored by a model trained on them. Screenshots of each page are kept
in the test's tmp dir.
"""

from __future__ import annotations

import pytest
from browser import headless_chromium, mlflow_ui

from riskml.config import Config
from riskml.synth.tables import synthetic_tables
from riskml.train import fit
from riskml.train.dataset import build_dataset
from riskml.train.tracking import ui_url
from riskml.trends import trends

# end to end: a server, a browser
pytestmark = pytest.mark.slow

WAIT_SECONDS = 90
CHARTS = ("ai_vs_human.png", "areas.png", "incidents.png", "risk.png", "tiers.png")


@pytest.fixture(scope="module")
def trends_run(tmp_path_factory):
    """A trends run on a real ``mlflow server``; the server's URL and the TrendsResult."""
    root = tmp_path_factory.mktemp("mlflow_ui")
    config = Config()
    changes, labels = synthetic_tables(1200, seed=11, per_day=4)
    model = fit(build_dataset(changes, labels, config), config).model
    with mlflow_ui(root) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", url)
        env.setenv("MLFLOW_REGISTRY_URI", url)
        result = trends(
            changes, labels, model=model, config=config, out_dir=root / "local", repo_name="synth"
        )
        yield {"url": url, "result": result}


def _text_appears(driver, *texts: str) -> str:
    """The page's visible text once every one of ``texts`` is in it."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def seen(d):
        body = d.find_element(By.TAG_NAME, "body").text
        return body if all(t in body for t in texts) else False

    try:
        return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.5).until(seen)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = [t for t in texts if t not in body]
        raise AssertionError(f"{missing} not on {driver.current_url}:\n{body[:3000]}") from None


def test_the_printed_link_opens_the_run_in_the_training_view_with_the_summary(trends_run, tmp_path):
    from selenium.webdriver.common.by import By

    result = trends_run["result"]
    assert result.url == (
        f"{trends_run['url']}/#/experiments/{result.experiment_id}/runs/{result.run_id}"
        "?workflowType=machine_learning"
    )
    summary = result.views.summary
    title = f"riskml trends: synth, {summary['changes']} changes to {summary['last']}"
    with headless_chromium(tmp_path / "profile") as driver:
        driver.get(result.url)
        body = _text_appears(driver, "synth trends", "Description", title, "Risk now")
        # the training view: its side bar has Runs and Models, the GenAI one Observability
        assert "Model metrics" in body and "Observability" not in body
        assert "workflowType=machine_learning" in driver.current_url
        now = summary["risk"]["now"]
        assert f"Mean risk {now['mean_risk']:.3f} over the last 4 weeks" in body
        more = driver.find_elements(By.XPATH, "//*[normalize-space(text())='Show more']")
        if more:
            driver.execute_script("arguments[0].click();", more[0])
        body = _text_appears(
            driver, "Riskiest critical areas", "AI-provenance against human changes", "Incidents"
        )
        assert "Labels are final for changes committed up to" in body
        driver.save_screenshot(str(tmp_path / "run.png"))
    assert (tmp_path / "run.png").stat().st_size > 10_000


def test_the_experiment_link_opens_the_runs_and_without_it_mlflow_opens_genai(trends_run, tmp_path):
    result = trends_run["result"]
    with headless_chromium(tmp_path / "profile") as driver:
        driver.get(ui_url(result.experiment_id, uri=trends_run["url"]))
        body = _text_appears(driver, "riskml-trends", "synth trends", "1 matching run")
        assert "/runs" in driver.current_url and "Observability" not in body
        # the experiment's description, in the UI's words
        assert "riskml trends for engineering managers" in body
        driver.save_screenshot(str(tmp_path / "experiment.png"))
    # a fresh browser on the bare experiment page gets MLflow's GenAI view (its side bar has
    # Observability): the parameter is what opens the training view; MLflow 3.17 reads the
    # workflow from the URL, else from the browser's last choice, GenAI by default
    with headless_chromium(tmp_path / "profile-bare") as driver:
        driver.get(f"{trends_run['url']}/#/experiments/{result.experiment_id}")
        _text_appears(driver, "Observability", "Traces")
        assert "machine_learning" not in driver.current_url


def test_the_charts_and_the_budget_are_in_the_run_s_artifacts(trends_run, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    result = trends_run["result"]
    page = ui_url(result.experiment_id, result.run_id, trends_run["url"]).replace(
        "?", "/artifacts/charts/risk.png?"
    )
    with headless_chromium(tmp_path / "profile") as driver:
        driver.get(page)
        body = _text_appears(driver, "charts/risk.png", *CHARTS, "budget", "summary", "table")
        assert "Artifacts" in body
        loaded = """
            return Array.from(document.images)
                .filter(i => i.complete && i.naturalWidth > 500)
                .map(i => [i.naturalWidth, i.naturalHeight]);
        """
        widths = WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script(loaded))
        # the preview shows the chart itself (11 x 4.8 inches at 100 dpi), not a broken image
        assert {tuple(w) for w in widths} == {(1100, 480)}
        driver.save_screenshot(str(tmp_path / "artifacts.png"))
