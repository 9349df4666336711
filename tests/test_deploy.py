"""The processes are declared once, in the Procfile, and production's systemd units are that
declaration exported: they cannot drift apart, and each unit restarts and is hardened."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_the_procfile_declares_the_web_a_worker_and_the_clock() -> None:
    processes = procfile()
    assert set(processes) == {"web", "worker", "clock"}
    assert processes["worker"].strip() == "python -m workers"
    assert processes["clock"].strip() == "python -m workers.clock"
    assert "gunicorn" in processes["web"] and "--access-logfile" not in processes["web"]  # no client addresses


def test_the_systemd_units_are_the_procfile_exported(tmp_path: Path) -> None:
    honcho = Path(sys.executable).with_name("honcho")
    exported = tmp_path / "systemd"
    subprocess.run(
        [
            str(honcho),
            "export",
            "--procfile",
            "Procfile",
            "--app",
            "confide",
            "--user",
            "confide",
            "--app-root",
            ".",
            "--env",
            "deploy/production.env",
            "--template-dir",
            "deploy/templates",
            "--concurrency",
            "worker=2",
            "systemd",
            str(exported),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    ours = {path.name: path.read_text(encoding="utf-8") for path in UNITS.iterdir()}
    fresh = {path.name: path.read_text(encoding="utf-8") for path in exported.iterdir()}
    assert ours == fresh, "deploy/systemd is out of date: run `make systemd-units`"


@pytest.mark.parametrize("service", sorted(path.name for path in UNITS.glob("*.service")))
def test_each_service_restarts_and_is_hardened(service: str) -> None:
    settings = unit(UNITS / service)["Service"]
    assert settings["Restart"] == "always" and settings["User"] == "confide"
    assert settings["ExecStart"].startswith("/bin/sh -c 'exec ")  # the process itself, not a shell, is supervised
    for option, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
        "UMask": "0077",
    }.items():
        assert settings[option] == value, f"{service}: {option}={settings.get(option)!r}"


def test_systemd_accepts_the_units() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not on this machine (Debian package systemd)")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *[str(path) for path in sorted(UNITS.glob("*.service"))]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Its complaints about the machine (no /srv/confide, no user confide) are not the units'.
    problems = [line for line in result.stderr.splitlines() if line.strip() and "/srv/confide" not in line]
    assert not problems, result.stderr
