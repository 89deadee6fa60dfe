"""docker-compose.yml: valid, the expected services, and no secret in the file.

There is no Docker engine here: `docker-compose config` validates and resolves the file
without one. Debian's `docker-compose` is installed with apt-get when missing (root only,
once per session); the tests skip with the reason when it cannot be.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from crownsync.settings import PROJECT_ROOT
from tests.system_packages import INSTALL_SECONDS, require_tool

# whichever test runs first may apt-get install docker-compose (never interrupted half-way)
pytestmark = pytest.mark.timeout(INSTALL_SECONDS + 300)

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
REQUIRED = {
    "POSTGRES_PASSWORD": "test-only-not-a-secret",
    "SOURCE_DATABASE_URL": "postgresql://reader:test-only@app-db.example.internal:5432/crownsync",
}
BI_PASSWORDS = {
    "BI_READER_PASSWORD": "test-only-bi-reader",
    "SUPERSET_ADMIN_PASSWORD": "test-only-admin",
}
SECRET_KEY = re.compile(r"PASS(WORD)?$|SECRET|TOKEN|API_KEY", re.IGNORECASE)
# ${VAR}, ${VAR:?message} (required) or ${VAR:-} (empty when unset) — never a default value
VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:?\?[^}]*|:-)?\}$")
EXPRESSION = re.compile(r"\$\{[^}]*\}")


def docker_compose() -> str:
    return require_tool("docker-compose", "docker-compose")


def compose(tmp_path: Path, *args: str, variables: dict[str, str] | None = None):
    """`docker-compose [--profile …] config …` with only the given variables (no .env, no shell)."""
    env_file = tmp_path / "compose.env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in (REQUIRED if variables is None else variables).items())
    )
    return subprocess.run(
        [docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def resolved(tmp_path: Path, *profiles: str, variables: dict[str, str] | None = None) -> dict:
    args = [a for p in profiles for a in ("--profile", p)]
    result = compose(tmp_path, *args, "config", variables=variables)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid(tmp_path):
    result = compose(tmp_path, "config", "-q")
    assert result.returncode == 0, result.stderr
    result = compose(tmp_path, "--profile", "bi", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_passwords_are_required_not_defaulted(tmp_path):
    result = compose(
        tmp_path, "config", "-q", variables={"SOURCE_DATABASE_URL": REQUIRED["SOURCE_DATABASE_URL"]}
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_services_and_profiles(tmp_path):
    config = resolved(tmp_path)
    services = config["services"]
    assert {"postgres", "dagster-webserver", "dagster-daemon"} <= set(services)

    postgres = services["postgres"]
    image, _, tag = postgres["image"].partition(":")
    assert image == "postgres" and tag.split(".")[0] in ("16", "17"), postgres["image"]
    assert any(
        str(v).endswith(":/var/lib/postgresql/data") or ":/var/lib/postgresql/data:" in str(v)
        for v in postgres["volumes"]
    ), postgres["volumes"]
    assert "healthcheck" in postgres
    named = {str(v).split(":")[0] for v in postgres["volumes"]}
    assert named & set(config.get("volumes", {})), "the data directory is on a named volume"
    assert postgres["environment"]["POSTGRES_PASSWORD"] == REQUIRED["POSTGRES_PASSWORD"]

    web, daemon = services["dagster-webserver"], services["dagster-daemon"]
    assert web["build"] == daemon["build"] and web.get("image") == daemon.get("image")
    assert web["build"]["dockerfile"] == "Dockerfile"
    assert Path(web["build"]["context"]).resolve() == PROJECT_ROOT
    assert (
        web["command"][:1] == ["dagster-webserver"]
        and "orchestration.definitions" in web["command"]
    )
    assert daemon["command"][:2] == ["dagster-daemon", "run"]
    for service in (web, daemon):
        env = service["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert "@postgres:5432/" in env["DAGSTER_DATABASE_URL"]
        assert env["SOURCE_DATABASE_URL"] == REQUIRED["SOURCE_DATABASE_URL"]
        assert env["DAGSTER_HOME"] and env["LANDING_DIR"]
        assert "postgres" in service["depends_on"]

    # superset only under the profile "bi", provisioned as `make bi` is (bi/Dockerfile)
    with_bi = resolved(tmp_path, "bi")["services"]
    assert "metabase" not in with_bi
    superset = with_bi["superset"]
    assert superset.get("profiles") == ["bi"] and superset["build"]["dockerfile"] == "bi/Dockerfile"
    assert "@postgres:5432/" in superset["environment"]["DATABASE_URL"]
    assert superset["environment"]["BI_READER_PASSWORD"] == ""  # unset: generated in the volume
    passed = resolved(tmp_path, "bi", variables={**REQUIRED, **BI_PASSWORDS})["services"]
    for name, value in BI_PASSWORDS.items():
        assert passed["superset"]["environment"][name] == value
    assert all(str(p).startswith("127.0.0.1:") for p in superset["ports"]), superset["ports"]
    assert "superset" not in services or services["superset"].get("profiles") == ["bi"]
    for name, service in with_bi.items():
        if name != "superset":
            assert not service.get("profiles"), f"{name} must start without a profile"


def test_no_literal_secret_in_the_compose_file():
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    found: list[tuple[str, str]] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
                if SECRET_KEY.search(str(key)) and isinstance(value, str | int):
                    found.append((f"{path}.{key}", str(value)))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str):
            # credentials inside URLs: scheme://user:PASSWORD@host, each ${…} seen as one token
            tokens = {f"VAR{i}": m for i, m in enumerate(EXPRESSION.findall(node))}
            flat = node
            for token, expression in tokens.items():
                flat = flat.replace(expression, token, 1)
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", flat):
                found.append((path, tokens.get(password, password)))

    walk(raw, "")
    assert found, "the compose file passes at least the PostgreSQL password"
    for where, value in found:
        if value == "":
            continue
        assert VARIABLE.match(value), f"{where} holds a literal or default secret: {value!r}"
    text = COMPOSE_FILE.read_text()
    for value in REQUIRED.values():
        assert value not in text
