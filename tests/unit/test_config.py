"""Configuration: embedded defaults, strict validation with one clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from mfpd.config import Config, ConfigError, parse_config


def test_defaults_match_the_port_table() -> None:
    services = Config().services
    assert (services.raw.port, services.lpd.port, services.ipp.port) == (9100, 515, 631)
    assert (services.http.port, services.https.port, services.snmp.port) == (80, 443, 161)
    assert Config().engine.speed_ppm == 55 and Config().engine.speed_ppm_color == 50


def test_values_override_defaults() -> None:
    config = parse_config('[services.lpd]\nqueues = ["a", "b"]\n[engine]\nspeed_ppm = 0\n')
    assert config.services.lpd.queues == ["a", "b"]
    assert config.engine.speed_ppm == 0
    assert config.services.raw.port == 9100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\nspeed = 3\n", "unknown key 'engine.speed'"),
        ("[services.raw]\nport = 70000\n", "bad value for 'services.raw.port'"),
        ('[identity]\nuuid = "nope"\n', "bad value for 'identity.uuid'"),
        ("[bogus]\n", "unknown key 'bogus'"),
        ('[daemon]\nkeep_going = "maybe"\n', "bad value for 'daemon.keep_going'"),
        ("[engine\n", "not valid TOML"),
    ],
)
def test_bad_configuration_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text)


def test_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[services.lpd]\nport = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "mfpd", "serve", "--config", str(bad), "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "services.lpd.port" in result.stderr
    assert "Traceback" not in result.stderr


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for field_name, field in model.model_fields.items():
        name = field.alias or field_name  # the key as written in the file ([smtp] from)
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys |= _keys(inner, f"{prefix}{name}.")
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_file_parses_and_documents_every_key() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "mfpd.example.toml"
    text = example.read_text()
    config = parse_config(text, str(example))
    assert config.services.raw.port == 9100
    for key in _keys(Config):
        assert f"{key.rsplit('.', 1)[-1]} =" in text, f"{key} missing from the example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[network]\ndhcp = true\n", "needs the interface it owns"),
        ('[network]\ndhcp = true\ninterface = "lo"\n', "loopback"),
        ('[network]\ninterface = "eth0; reboot"\n', "network.interface"),
        ("[network]\nrenew_after = -1\n", "network.renew_after"),
    ],
)
def test_dhcp_never_guesses_its_interface(text: str, message: str) -> None:
    """The DHCP client adds and removes the interface's address: it runs only on one the
    configuration names (issue 16: never on the machine's own interface by default)."""
    with pytest.raises(ConfigError, match=message):
        parse_config(text)
    on = parse_config('[network]\ndhcp = true\ninterface = "veth-mfp"\nrenew_after = 5\n')
    assert (on.network.interface, on.network.renew_after) == ("veth-mfp", 5.0)
