"""The local control socket: a Unix stream socket only root can use (mode 0600, in a 0700
directory), one JSON request line per connection, one JSON answer.

    request: {"line": "show crypto ipsec sa", "json": false}
    answer:  {"ok": true, "output": "..."}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

from tunnelgate.daemon.operations import Answer

DEFAULT_CONTROL = Path("/run/tunnelgate/tunnelgate.sock")
MAX_REQUEST_BYTES = 64 * 1024
Handler = Callable[[str, bool], Answer]


class ControlError(RuntimeError):
    """The daemon could not be reached or answered nonsense."""


class ControlServer:
    """Serves ``handler(line, as_json)`` on ``path`` inside the running event loop."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path, self.handler = path, handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise ControlError(f"another gateway already serves {self.path}")
            self.path.unlink()
        old = os.umask(0o177)  # the socket is created 0600: root only
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readline(), 5.0)
            answer = self._answer(raw)
            writer.write(json.dumps({"ok": answer.ok, "output": answer.output}).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, raw: bytes) -> Answer:
        if len(raw) > MAX_REQUEST_BYTES:
            return Answer(False, "ERROR: request too long\n")
        try:
            request = json.loads(raw)
            line, as_json = str(request["line"]), bool(request.get("json", False))
        except (ValueError, KeyError, TypeError):
            return Answer(False, 'ERROR: expected one JSON line {"line": "show ..."}\n')
        try:
            return self.handler(line, as_json)
        except Exception as exc:  # an operator command must never stop the gateway
            return Answer(False, f"ERROR: internal error: {type(exc).__name__}: {exc}\n")

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def request(path: Path, line: str, *, as_json: bool = False, timeout: float = 5.0) -> Answer:
    """Send one command to the daemon at ``path`` and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps({"line": line, "json": as_json}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except FileNotFoundError:
            raise ControlError(f"no gateway is running with control socket {path}") from None
        except PermissionError:
            raise ControlError(
                f"{path}: permission denied (the control socket is root-only)"
            ) from None
        except OSError as exc:
            raise ControlError(f"{path}: {exc.strerror or exc}") from None
    try:
        answer = json.loads(data)
        return Answer(bool(answer["ok"]), str(answer["output"]))
    except (ValueError, KeyError, TypeError):
        raise ControlError(f"{path}: the gateway sent an invalid answer") from None


__all__ = ["DEFAULT_CONTROL", "ControlError", "ControlServer", "request"]
