"""docker-compose.yml runs the Procfile's commands, one worker per queue, one beat, every
service health-checked, and no secret with a default."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

from api.ops import procfile

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = ROOT / "docker-compose.yml"
PLACEHOLDERS = Path(__file__).resolve().parent / "compose.env"
QUEUES = {"allocation", "locks", "notifications"}
SECRETS = {
    "SECRET_KEY",
    "LOCK_SIGNING_KEY",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "MQTT_PASSWORD",
    "MQTT_ADMIN_PASSWORD",
    "METRICS_TOKEN",
    "FLOWER_BASIC_AUTH",
    "GRAFANA_ADMIN_PASSWORD",
}
# The app image's services that run no Procfile line, with what they run instead.
NOT_PROCFILE = {
    "broker-config": "python manage.py broker_config",
    "flower": "celery -A workers flower",
}


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def app_services(services) -> dict[str, dict]:
    return {name: service for name, service in services.items() if service.get("build") == "."}


def test_the_stack_has_the_services_an_operator_needs(services):
    assert set(services) == {
        "postgres", "redis", "broker-config", "mosquitto", "release", "api",
        "worker-allocation", "worker-locks", "worker-notifications", "beat", "gateway",
        "flower", "prometheus", "grafana",
    }  # fmt: skip


def test_every_app_service_runs_a_procfile_line_or_a_queue_of_the_worker(services):
    processes = procfile.read()
    for name, service in app_services(services).items():
        if name in NOT_PROCFILE:
            continue
        assert "entrypoint" not in service, f"{name} must run through the image's entrypoint"
        command = service["command"]
        resolved = procfile.command(command, processes)
        if name.startswith("worker-"):
            queue = name.removeprefix("worker-")
            assert command == ["worker", "-Q", queue]
            assert resolved == processes["worker"].replace(
                "-Q locks,allocation,notifications", f"-Q {queue}"
            )
        else:
            assert command == [name]
            assert resolved == processes[name]


def test_each_queue_has_exactly_one_worker_service_and_there_is_one_beat(services):
    workers = [name.removeprefix("worker-") for name in services if name.startswith("worker-")]
    assert sorted(workers) == sorted(QUEUES)
    assert [name for name in services if "beat" in name] == ["beat"]
    assert "scale" not in services["beat"] and "deploy" not in services["beat"]


def test_the_services_beyond_the_procfile_run_what_the_docs_say(services):
    operations = (ROOT / "docs" / "operations.md").read_text()
    for name, documented in NOT_PROCFILE.items():
        service = services[name]
        words = [*service.get("entrypoint", []), *service.get("command", [])]
        assert documented in " ".join(words), name
        assert documented in operations, f"docs/operations.md does not explain {name}"


def test_the_broker_configuration_uses_the_broker_config_command_as_it_parses():
    if "broker_config" not in get_commands():
        pytest.skip("the broker_config command is not in this tree yet (issue #8)")
    service = yaml.safe_load(COMPOSE.read_text())["services"]["broker-config"]
    words = shlex.split(service["command"][0])
    arguments = words[words.index("broker_config") + 1 :]
    command = load_command_class(get_commands()["broker_config"], "broker_config")
    options = command.create_parser("manage.py", "broker_config").parse_args(arguments)
    assert "/mosquitto/broker" in vars(options).values()


def test_every_long_running_service_has_a_health_check(services):
    for name, service in services.items():
        healthcheck = service.get("healthcheck", {})
        if service.get("restart") == "no":
            # A one-shot: the services after it wait for it to complete, not to be healthy.
            assert healthcheck.get("disable") is True, name
            waiting = [
                other for other in services.values()
                if other.get("depends_on", {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]  # fmt: skip
            assert waiting, f"nothing waits for the one-shot {name}"
            continue
        assert healthcheck.get("test"), f"{name} has no health check"
        assert not healthcheck.get("disable"), name


def test_every_app_service_is_built_from_the_one_dockerfile_as_one_image(services):
    apps = app_services(services)
    assert set(apps) >= {"release", "api", "beat", "gateway", "flower", "broker-config"}
    assert len({service["image"] for service in apps.values()}) == 1
    assert (ROOT / "Dockerfile").exists()


def test_secrets_have_no_defaults_and_debug_is_off():
    text = COMPOSE.read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"(:?[?-])", text)
        assert uses, f"{secret} is not used"
        assert set(uses) == {":?"}, f"{secret} must be required (${{{secret}:?…}}), never defaulted"
    environment = yaml.safe_load(text)["x-app-environment"]
    assert environment["DEBUG"] == "off"


def test_redis_keeps_what_it_queued_and_never_evicts(services):
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert services["postgres"]["image"].startswith("postgres:")


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file_and_refuses_it_without_the_secrets(tmp_path):
    run = ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE)]
    valid = subprocess.run(
        [*run, "--env-file", str(PLACEHOLDERS), "--profile", "monitoring", "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert valid.returncode == 0, valid.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    refused = subprocess.run(
        [*run, "--env-file", str(empty), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert refused.returncode != 0
    assert "in .env" in refused.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["worker", "-Q", "locks"], "-Q locks --concurrency"),
        (["worker", "-Q", "allocation,locks"], "-Q allocation,locks --concurrency"),
    ],
)
def test_a_queue_of_its_own_is_the_worker_line_with_other_queues(argv, expected):
    assert expected in procfile.command(argv)


@pytest.mark.parametrize(
    "argv", [["worker", "-Q", "mail"], ["worker", "-Q", ""], ["api", "-Q", "locks"], ["nope"]]
)
def test_anything_else_is_refused(argv):
    with pytest.raises(ValueError):
        procfile.command(argv)
