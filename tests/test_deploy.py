"""The deployment files agree with the app: Dockerfile, .dockerignore, deploy/compose.yaml and
deploy/haproxy.cfg, checked without Docker (the proxy itself runs in
tests/e2e/test_deploy_proxy.py). Settings are checked against the names the code reads, pins
against requirements*.txt, ports and addresses across the files.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read deploy/compose.yaml")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
HAPROXY_CFG = (DEPLOY / "haproxy.cfg").read_text()
APP_CODE = [
    ROOT / "app.py",
    *(p for d in ("pages", "ui", "viz", "models") for p in (ROOT / d).rglob("*.py")),
]
# Read at run time, not imported: the image must hold them.
APP_FILES = ["app.py", "checkpoints", "lessons", ".streamlit/config.toml", "requirements.txt"]
VARIABLE = re.compile(r"\$\{(\w+)(:?[-?][^}]*)?\}")


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def _instructions(name: str) -> list[str]:
    return [args for keyword, args in _dockerfile() if keyword == name]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line.strip()):
            pins[m.group(1).lower()] = m.group(3)
    return pins


def _image_services() -> dict[str, dict]:
    """The services that run our image (the app, migrations, the Ray nodes)."""
    return {name: s for name, s in SERVICES.items() if s.get("image") == "cnn-lab:latest"}


def _settings_read_by_the_app() -> set[str]:
    """Every CNNLAB_ name that appears as a string in the app's code."""
    found = set()
    for path in APP_CODE:
        found |= set(re.findall(r"[\"'](CNNLAB_[A-Z0-9_]+)[\"']", path.read_text()))
    return found


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _image_env_names() -> list[tuple[str, str]]:
    return [(svc, name) for svc in _image_services() for name in _env(svc)]


def test_compose_runs_app_replicas_a_balancer_postgres_and_a_ray_head_and_workers():
    assert set(SERVICES) >= {"app", "lb", "postgres", "ray-head", "ray-worker", "migrate"}
    assert {"app", "migrate", "ray-head", "ray-worker"} <= set(_image_services())
    assert SERVICES["app"]["deploy"]["replicas"] == "${CNNLAB_REPLICAS:-2}"
    assert SERVICES["ray-worker"]["deploy"]["replicas"] == "${CNNLAB_RAY_WORKERS:-2}"


@pytest.mark.parametrize(("service", "name"), _image_env_names())
def test_every_setting_given_to_our_image_is_one_the_app_or_streamlit_reads(service, name):
    if name.startswith("STREAMLIT_"):
        from streamlit import config

        env_vars = {option.env_var for option in config.get_config_options().values()}
        assert name in env_vars, f"{service}: {name} is not a Streamlit option"
    else:
        assert name in _settings_read_by_the_app(), f"{service}: nothing in the app reads {name}"


def test_the_app_and_migrations_use_the_postgres_service_with_its_own_credentials():
    from sqlalchemy.engine import make_url

    url_text = _env("app")["CNNLAB_DATABASE_URL"]
    assert _env("migrate")["CNNLAB_DATABASE_URL"] == url_text
    pg = _env("postgres")
    password_variable = VARIABLE.search(pg["POSTGRES_PASSWORD"]).group(1)
    url = make_url(VARIABLE.sub(lambda m: m.group(1), url_text))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.database) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    assert url.password == password_variable
    assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES["postgres"]["volumes"])


def _flag(command: list[str], name: str) -> str:
    return next(part.split("=", 1)[1] for part in command if part.startswith(f"--{name}="))


def test_the_app_reaches_the_ray_head_and_the_workers_join_it():
    head = SERVICES["ray-head"]["command"]
    worker = SERVICES["ray-worker"]["command"]
    assert head[:3] == ["ray", "start", "--head"] and "--block" in head and "--block" in worker
    client_port = _flag(head, "ray-client-server-port")
    assert _env("app")["CNNLAB_RAY_ADDRESS"] == f"ray://ray-head:{client_port}"
    assert _flag(worker, "address") == f"ray-head:{_flag(head, 'port')}"


@pytest.mark.parametrize("service", ["ray-head", "ray-worker"])
def test_the_ray_commands_use_only_options_ray_start_has(service):
    ray = shutil.which("ray")
    if ray is None:
        pytest.skip("ray is not installed (pip install -r requirements-cluster.txt)")
    help_text = subprocess.run([ray, "start", "--help"], capture_output=True, text=True).stdout
    for part in SERVICES[service]["command"][2:]:
        assert f"{part.split('=', 1)[0]} " in help_text, f"ray start has no option {part}"


def test_services_wait_for_what_they_need_and_those_waited_on_have_a_healthcheck():
    needs = SERVICES["app"]["depends_on"]
    assert needs["migrate"]["condition"] == "service_completed_successfully"
    assert needs["ray-head"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in SERVICES.items():
        for needed, how in (service.get("depends_on") or {}).items():
            if isinstance(how, dict) and how["condition"] == "service_healthy":
                check = SERVICES[needed].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), f"{name} waits on {needed}"


def test_every_variable_without_a_default_is_in_the_example_env_file_and_no_other():
    compose_text = (DEPLOY / "compose.yaml").read_text()
    used = {m.group(1): m.group(2) or "" for m in VARIABLE.finditer(compose_text)}
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "example.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = {name for name, rest in used.items() if not rest.startswith(":-")}
    assert required <= set(example), f"not in example.env: {required - set(example)}"
    assert set(example) <= set(used), f"example.env sets unused {set(example) - set(used)}"


def test_the_balancer_gets_exactly_the_settings_its_config_reads():
    lb = _env("lb")
    assert set(lb) == set(re.findall(r"\$\{(\w+)\}", HAPROXY_CFG))
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in SERVICES["lb"]["volumes"]
    assert lb["CNNLAB_APP_NAME"] == f"{COMPOSE['name']}-app"  # Compose's <project>-<service>-k
    exposed = _instructions("EXPOSE")
    assert lb["CNNLAB_APP_PORT"] == exposed[0] and SERVICES["app"]["expose"] == exposed
    published = SERVICES["lb"]["ports"][0].rsplit(":", 1)[1]
    assert lb["CNNLAB_LB_BIND"] == f":{published}"


def test_haproxy_pins_a_session_by_an_inserted_cookie_with_one_value_per_replica():
    assert re.search(r"^\s*cookie CNNLAB_REPLICA insert\b", HAPROXY_CFG, re.M)
    assert not re.search(r"^\s*balance\s+(source|hdr|uri)", HAPROXY_CFG, re.M)  # not by address
    assert re.search(r"^\s*timeout tunnel\s+\d+[smh]", HAPROXY_CFG, re.M)  # websockets stay
    servers = re.findall(r"^\s*server (app\d+) \S+-(\d+):\S+ cookie (\S+)$", HAPROXY_CFG, re.M)
    assert [(n, f"app{k}", c) for n, k, c in servers] == [(n, n, n) for n, _, _ in servers]
    assert len(servers) >= 2 and len({c for *_, c in servers}) == len(servers)


def test_haproxy_accepts_the_config_with_composes_settings():
    if shutil.which("haproxy") is None:
        if os.environ.get("REQUIRE_HAPROXY", "").strip() == "1":
            pytest.fail("REQUIRE_HAPROXY=1 but haproxy is not installed", pytrace=False)
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    env = {**os.environ, **_env("lb")}
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], env=env, capture_output=True
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_the_image_pins_match_the_requirements_files():
    pins = _pins(ROOT / "requirements.txt") | _pins(ROOT / "requirements-dev.txt")
    in_image = {}
    for args in _instructions("RUN"):
        for name, version in re.findall(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([\w.]+)", args):
            in_image[name.lower()] = version
    assert {"torch", "torchvision"} <= set(in_image)
    assert {name: pins.get(name) for name in in_image} == in_image


def test_the_image_installs_the_app_and_cluster_requirements_it_copies():
    runs = " ".join(_instructions("RUN"))
    copies = " ".join(_instructions("COPY"))
    for name in ("requirements.txt", "requirements-cluster.txt"):
        assert f"-r {name}" in runs and name in copies and (ROOT / name).exists()


def test_the_base_image_is_slim_python_of_the_version_the_project_runs():
    (base,) = _instructions("FROM")
    assert base.startswith(f"python:{sys.version_info.major}.{sys.version_info.minor}-slim")


def test_the_image_runs_as_a_user_without_root_rights():
    users = _instructions("USER")
    assert users and users[-1] not in ("root", "0")
    keywords = [k for k, _ in _dockerfile()]
    assert max(i for i, k in enumerate(keywords) if k == "USER") < keywords.index("CMD")


def test_the_data_folder_is_a_volume_and_the_apps_data_dir():
    (volume,) = _instructions("VOLUME")
    (folder,) = json.loads(volume)
    env = " ".join(_instructions("ENV"))
    assert f"CNNLAB_DATA_DIR={folder}" in env
    assert _env("app")["CNNLAB_DATA_DIR"] == folder
    assert any(v.endswith(f":{folder}") for v in SERVICES["app"]["volumes"])


def test_the_healthcheck_asks_streamlits_health_endpoint_on_the_port_it_serves():
    (health,) = _instructions("HEALTHCHECK")
    (cmd,) = _instructions("CMD")
    port = _flag(json.loads(cmd), "server.port")
    assert f"127.0.0.1:{port}/_stcore/health" in health
    assert _instructions("EXPOSE") == [port]


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.removeprefix("**/"))
        for p in prefixes
        for pat in patterns
    )


def _local_packages_the_app_imports() -> set[str]:
    found = set()
    for path in APP_CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found |= {n.split(".")[0] for n in names}
    return {n for n in found if (ROOT / n).is_dir() or (ROOT / f"{n}.py").exists()}


def test_dockerignore_keeps_everything_the_app_imports_or_reads_and_drops_the_rest():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    needed = sorted(_local_packages_the_app_imports()) + APP_FILES
    assert {"models", "ui", "viz"} <= set(needed)
    assert [p for p in needed if _ignored(p, patterns)] == []
    assert all(_ignored(p, patterns) for p in (".git", "tests", "deploy/.env", "ui/__pycache__"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrate_command_brings_a_database_up_to_date(backend, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CNNLAB_DATABASE_URL"}
    env["CNNLAB_DATA_DIR"] = str(tmp_path)
    if backend == "postgresql":
        url = os.environ.get("CNNLAB_TEST_POSTGRES_URL", "").strip()
        if not url and os.environ.get("REQUIRE_POSTGRES", "").strip() == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but CNNLAB_TEST_POSTGRES_URL is not set", pytrace=False)
        if not url:
            pytest.skip("no PostgreSQL server: CNNLAB_TEST_POSTGRES_URL is not set")
        env["CNNLAB_DATABASE_URL"] = url
    command = SERVICES["migrate"]["command"]
    done = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (tmp_path / "cnnlab.sqlite3").exists() == (backend == "sqlite")
