"""``tunnelgate config check|show`` as a user runs them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tunnelgate.__main__ import main


def _write(tmp_path: Path, text: str, name: str = "startup.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_valid_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "crypto ikev1 policy 10\n encryption aes\n")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("2 command lines, 2 applied, 0 error(s), 0 warning(s): valid")


def test_check_invalid_file_exits_1_with_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "crypto ikev1 policy 0\ncrypto ikev1 policy 1\n group 7\n")
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:1: crypto ikev1 policy 0" in out
    assert f"{path}:3: group 7" in out
    assert "invalid, nothing applied" in out


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.cfg")]) == 2
    assert "no such file" in capsys.readouterr().out


def test_show_default_is_show_running_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "crypto ikev1 enable outside\n")
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(": Saved\n") and "crypto ikev1 enable outside\n" in out


def test_show_with_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "crypto ikev1 policy 1\ncrypto ikev2 policy 2\n")
    assert main(["config", "show", str(path), "-c", "show running-config crypto ikev2"]) == 0
    assert capsys.readouterr().out.startswith("crypto ikev2 policy 2\n")


def test_write_memory_saves_the_file_root_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "crypto ikev1 policy 1\n")
    code = main(
        [
            "config",
            "show",
            str(path),
            "-c",
            "configure terminal",
            "-c",
            "crypto ikev1 policy 2",
            "-c",
            "write memory",
        ]
    )
    assert code == 0
    assert "crypto ikev1 policy 2" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["config", "check", str(path)]) == 0


def test_show_of_an_invalid_file_prints_errors_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "bogus\n")
    assert main(["config", "show", str(path)]) == 1
    assert "Invalid input" in capsys.readouterr().out


def test_crypto_key_generate_writes_a_root_only_key_store_beside_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "hostname hq\n")
    code = main(
        [
            "config",
            "show",
            str(path),
            "-c",
            "configure terminal",
            "-c",
            "crypto key generate ecdsa label SITE elliptic-curve 256 noconfirm",
        ]
    )
    assert code == 0
    store = tmp_path / "startup.keys"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in store.read_text()
    capsys.readouterr()
    # a later run reads the same store; the private key never reaches the output
    assert main(["config", "show", str(path), "-c", "show crypto key mypubkey ecdsa"]) == 0
    out = capsys.readouterr().out
    assert "Key name: SITE" in out and "PRIVATE" not in out
    assert path.read_text() == "hostname hq\n"  # keys are not configuration
