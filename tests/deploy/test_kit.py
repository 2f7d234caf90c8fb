"""The deployment kit, checked as far as this machine allows (no Docker daemon here): the
compose file with docker-compose's own validator, the systemd units with
`systemd-analyze verify`, the image's entrypoint as a non-root user in a bare folder, and
the Dockerfile's promises read from the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NOBODY = 65534


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _compose_config(tmp_path: Path, compose: str, **env: str
                    ) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` (the validator of Debian's docker-compose; needs no daemon)
    on `compose` placed as deploy/compose.yaml in a folder with an empty .env."""
    (tmp_path / "deploy").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "compose.yaml").write_text(compose)
    (tmp_path / ".env").touch()
    return subprocess.run(["docker-compose", "-f", "deploy/compose.yaml", "config"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], **env})


def test_docker_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    done = _compose_config(tmp_path, text, POSTGRES_PASSWORD="a-password")
    assert done.returncode == 0, done.stderr
    assert "postgresql+psycopg://schoolgate:a-password@db/schoolgate" in done.stdout
    # the validator is real: it refuses a broken file, and a missing password
    broken = _compose_config(tmp_path, text.replace("service_healthy", "sometimes"),
                             POSTGRES_PASSWORD="a-password")
    assert broken.returncode != 0 and "service_healthy" in broken.stderr
    unset = _compose_config(tmp_path, text)
    assert unset.returncode != 0 and "set POSTGRES_PASSWORD in .env" in unset.stderr


def test_compose_runs_web_and_background_from_one_image_beside_postgres_and_translation(
        ) -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"web", "background", "db", "translate"}
    web, background = services["web"], services["background"]
    assert web["image"] == background["image"] == "schoolgate:latest"
    assert web["command"] == ["serve", "--no-workers"] and background["command"] == ["background"]
    for service in (web, background):
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "postgresql+psycopg://" in service["environment"]["SCHOOLGATE_DATABASE_URL"]
        assert "schoolgate-data:/data" in service["volumes"]
    assert "LT_LOAD_ONLY" in services["translate"]["environment"]  # only the school's
    assert web["ports"] == ["127.0.0.1:8000:8000"]  # behind a TLS proxy, not on the internet
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"PASSWORD:\s+[^$\s]", text), "no password written into the file"


@pytest.mark.parametrize("unit", ["schoolgate-web.service", "schoolgate-background.service"])
def test_the_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this checkout's virtual environment
    venv = Path(sys.prefix)
    for name in ("schoolgate-web.service", "schoolgate-background.service"):
        text = (DEPLOY / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/schoolgate/venv", str(venv)))
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "User=schoolgate" in text and "ProtectSystem=strict" in text
    assert "ReadWritePaths=/var/lib/schoolgate" in text


def _entrypoint(root: Path, data: Path, *args: str, user: int | None
                ) -> subprocess.CompletedProcess[str]:
    """Run deploy/entrypoint.sh with a recording `schoolgate` first on PATH.

    The recording stands in for the image's installed command (this machine's Python is
    in a folder other users cannot enter); what it records is what the entrypoint ran,
    as whom and where. The real commands are tested elsewhere (tests/bot/store)."""
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "schoolgate"
    shim.write_text('#!/bin/sh\necho "$(id -u) $(pwd) $*" >> "$SCHOOLGATE_DATA/calls.log"\n')
    shim.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SCHOOLGATE_DATA": str(data),
           "HOME": str(data)}
    command = [str(DEPLOY / "entrypoint.sh"), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                   *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          cwd=root)


def _calls(data: Path) -> list[str]:
    log = data / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def bare_root() -> Iterator[Path]:
    """A temporary root folder every user can enter (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sg-entry-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_entrypoint_migrates_then_serves_as_a_non_root_user_in_its_volume(
        bare_root: Path) -> None:
    data = bare_root / "data"
    data.mkdir()
    user = os.geteuid()
    if user == 0:  # as in the image: a user of its own that owns only the volume
        user = NOBODY
        os.chown(data, NOBODY, NOBODY)
    started = _entrypoint(bare_root, data, user=user if user == NOBODY else None)
    assert started.returncode == 0, started.stderr
    assert _calls(data) == [f"{user} {data} db upgrade", f"{user} {data} serve --no-workers"]
    (data / "calls.log").unlink()
    looked = _entrypoint(bare_root, data, "db", "check",
                         user=user if user == NOBODY else None)
    assert looked.returncode == 0 and _calls(data) == [f"{user} {data} db check"]


def test_the_entrypoint_refuses_root_and_an_unwritable_folder(bare_root: Path) -> None:
    data = bare_root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        as_root = _entrypoint(bare_root, data, "serve", user=None)
        assert as_root.returncode == 1 and "refusing to run as root" in as_root.stderr
        data.chmod(0o755)  # owned by root: nobody may not write there
        refused = _entrypoint(bare_root, data, "serve", user=NOBODY)
    else:
        data.chmod(0o555)
        refused = _entrypoint(bare_root, data, "serve", user=None)
    assert refused.returncode == 1 and "is not a writable folder" in refused.stderr
    assert _calls(data) == []  # nothing ran


def test_the_dockerfile_installs_the_lock_and_runs_unprivileged_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "--require-hashes" in text and "requirements.lock" in text
    assert re.search(r"^USER schoolgate$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'VOLUME ["/data"]' in text
    for path in ("bot", "channels", "translations", "scheduler", "requirements.lock",
                 "pyproject.toml", "deploy/entrypoint.sh"):
        assert (ROOT / path).exists(), path  # every COPY source is in the repository
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed for the unit tests"
