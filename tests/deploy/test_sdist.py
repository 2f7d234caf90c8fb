"""The source distribution carries what it takes to run the tests, the benchmarks and the
deployment kit, and the licence; built offline with setuptools' own backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _build_sdist(tmp_path: Path) -> tarfile.TarFile:
    """Build from a copy of the working tree (tracked and new files), so the build's
    egg-info and output never touch the repository."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    source = tmp_path / "src"
    for name in filter(None, listed):
        if not (ROOT / name).is_file():
            continue  # deleted in the working tree
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "dist"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
                               "print(build_meta.build_sdist(sys.argv[1]))", str(out)],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    name = done.stdout.strip().splitlines()[-1]
    return tarfile.open(out / name)


def test_the_sdist_carries_tests_bench_deploy_docs_and_examples(tmp_path: Path) -> None:
    with _build_sdist(tmp_path) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
        pkg_info = sdist.extractfile(next(m for m in sdist.getmembers()
                                          if m.name.count("/") == 1
                                          and m.name.endswith("/PKG-INFO")))
        assert pkg_info is not None
        metadata = pkg_info.read().decode()
    for folder in ("tests", "bench", "deploy", "docs", "examples"):
        assert any(n.startswith(folder + "/") for n in names), folder
    for path in ("LICENSE", "CHANGELOG.md", "README.md", ".env.example", "alembic.ini",
                 "requirements.lock", "tests/conftest.py", "tests/standins/twilio.py",
                 "tests/test_architecture.py", "deploy/Dockerfile", "deploy/compose.yaml",
                 "examples/roster.csv", "bot/data/env.example",
                 "bot/store/migrations/versions/0001_initial_schema.py"):
        assert path in names, path
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "License: AGPL-3.0-or-later" in metadata
    assert "Classifier: License :: OSI Approved :: GNU Affero General Public License v3 " \
           "or later (AGPLv3+)" in metadata


def test_the_licence_is_the_gnu_agpl_version_3() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text
    assert 'license = { text = "AGPL-3.0-or-later" }' in (ROOT / "pyproject.toml").read_text()
