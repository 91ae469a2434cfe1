"""Reading and writing the startup configuration and its key store (the only file I/O)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ConfigFileError(Exception):
    """The file cannot be read or written; the message says why."""


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigFileError(f"{path}: is a directory") from None
    except PermissionError:
        raise ConfigFileError(f"{path}: permission denied") from None


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a root-only (0600) file holding ``data``."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def keystore_path(config_path: Path) -> Path:
    """The key store lives beside the startup configuration: ``startup.cfg`` → ``startup.keys``."""
    return config_path.with_suffix(".keys")
