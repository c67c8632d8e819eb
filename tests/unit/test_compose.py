"""compose.yaml: valid for docker-compose, with the services, volumes and health checks the brief asks for."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from catalogue.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"


def test_compose_structure() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert services["mongo"]["image"].startswith("mongo:8")
    meili = services["meilisearch"]
    assert meili["image"] == "getmeili/meilisearch:v1.50.0"  # the version CI tests against
    assert meili["environment"]["MEILI_MASTER_KEY"].startswith("${MEILI_MASTER_KEY:?")  # required
    assert int(meili["environment"]["MEILI_SCHEDULE_SNAPSHOT"]) > 0
    assert f"meili-snapshots:{meili['environment']['MEILI_SNAPSHOT_DIR']}" in meili["volumes"]
    api = services["api"]
    assert api["build"] == "."
    assert api["depends_on"] == {"mongo": {"condition": "service_healthy"}, "meilisearch": {"condition": "service_healthy"}}
    for name in ("mongo", "meilisearch", "api"):
        assert "healthcheck" in services[name]
    assert {"mongo-data", "meili-data", "meili-snapshots"} <= set(spec["volumes"])
    env = api["environment"]
    assert env["LEUCHTTURM_MONGODB_URL"].startswith("mongodb://${MONGO_ROOT_USERNAME")
    assert env["LEUCHTTURM_MEILI_URL"].startswith("http://meilisearch")


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose fehlt (Debian-Paket docker-compose; .ci/run installiert es)")
def test_docker_compose_config_accepts_the_file() -> None:
    env = {
        **os.environ, "MEILI_MASTER_KEY": "test-master-key", "LEUCHTTURM_SECRET_KEY": "test-secret",
        "MONGO_ROOT_USERNAME": "leuchtturm", "MONGO_ROOT_PASSWORD": "test-password",
    }
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    # The keys are required: without them compose refuses to start.
    env.pop("MEILI_MASTER_KEY")
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode != 0 and "MEILI_MASTER_KEY" in result.stderr


def test_finding_production_defaults_are_safe() -> None:
    """Finding: compose loaded the demo set into production by default and MongoDB ran without authentication."""
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    api_env = services["api"]["environment"]
    assert api_env["LEUCHTTURM_DEMO_DATA"] == "false"
    mongo_env = services["mongo"]["environment"]
    # A root user from required variables (":?" makes compose refuse to start without them) …
    assert mongo_env["MONGO_INITDB_ROOT_USERNAME"].startswith("${MONGO_ROOT_USERNAME:?")
    assert mongo_env["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_ROOT_PASSWORD:?")
    # … and the app connects with it.
    url = api_env["LEUCHTTURM_MONGODB_URL"]
    assert "${MONGO_ROOT_USERNAME:?" in url and "${MONGO_ROOT_PASSWORD:?" in url and "authSource=admin" in url
    assert services["meilisearch"]["environment"]["MEILI_MASTER_KEY"].startswith("${MEILI_MASTER_KEY:?")
    assert api_env["LEUCHTTURM_MEILI_KEY"].startswith("${MEILI_MASTER_KEY:?")
    assert api_env["LEUCHTTURM_SECRET_KEY"].startswith("${LEUCHTTURM_SECRET_KEY:?")
