"""The local control socket: a Unix stream socket only root can use (mode 0600, in a 0700
directory). Each connection is one operator session (its own CLI mode); requests and answers
are JSON lines, as many as the client sends:

    request: {"line": "show crypto ipsec sa", "json": false}
    answer:  {"ok": true, "output": "...", "prompt": "gw-a#"}
    request: {"complete": "show crypto ip"}
    answer:  {"completions": ["ipsec"]}
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from tunnelgate.daemon.operations import Answer

DEFAULT_CONTROL = Path("/run/tunnelgate/tunnelgate.sock")
MAX_REQUEST_BYTES = 64 * 1024
IDLE_TIMEOUT_S = 3600.0
RECV_BYTES = 1 << 20


class Session(Protocol):
    @property
    def prompt(self) -> str: ...

    def handle(self, line: str, as_json: bool = False) -> Answer: ...
    def complete(self, line: str) -> list[str]: ...


class ControlError(RuntimeError):
    """The daemon could not be reached or answered nonsense."""


class ControlServer:
    """Serves one ``Session`` per connection on ``path`` inside the running event loop."""

    def __init__(self, path: Path, new_session: Callable[[], Session]) -> None:
        self.path, self.new_session = path, new_session
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
        session = self.new_session()
        try:
            while True:
                raw = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT_S)
                if not raw:
                    break
                with _collector_paused():
                    answer = json.dumps(self._answer(session, raw)).encode() + b"\n"
                writer.write(answer)
                large = len(answer) >= TRIM_AFTER_BYTES
                del answer
                await writer.drain()
                if large:
                    release_freed_memory()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, session: Session, raw: bytes) -> dict[str, Any]:
        if len(raw) > MAX_REQUEST_BYTES:
            return _reply(Answer(False, "ERROR: request too long\n"), session)
        try:
            request = json.loads(raw)
            if "complete" in request:
                return {"completions": session.complete(str(request["complete"]))}
            line, as_json = str(request["line"]), bool(request.get("json", False))
        except (ValueError, KeyError, TypeError, AttributeError):
            bad = 'ERROR: expected one JSON line {"line": "show ..."}\n'
            return _reply(Answer(False, bad), session)
        try:
            return _reply(session.handle(line, as_json), session)
        except Exception as exc:  # an operator command must never stop the gateway
            return _reply(
                Answer(False, f"ERROR: internal error: {type(exc).__name__}: {exc}\n"), session
            )

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# After an answer this large (``show crypto ipsec sa`` at thousands of tunnels: tens of MB of
# short-lived strings) the C allocator is asked to give its free pages back to the system
TRIM_AFTER_BYTES = 1 << 20


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None on other C libraries)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_freed_memory() -> None:
    """Return the memory a large answer used to the system: glibc keeps freed small blocks in
    its arenas (at 20,000 tunnels a ``show`` left ~3.5 KiB per tunnel of resident memory that
    nothing used), ``malloc_trim(0)`` releases them."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while one request is answered: ``show`` at 20,000 tunnels
    makes a few hundred thousand short-lived, acyclic values (freed by reference counting),
    and each collection they trigger walks every object of the gateway (about half of the
    time of ``show crypto ipsec sa``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reply(answer: Answer, session: Session) -> dict[str, Any]:
    return {"ok": answer.ok, "output": answer.output, "prompt": answer.prompt or session.prompt}


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class ControlClient:
    """A session with the daemon at ``path`` (one connection, many lines)."""

    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._buffer = b""
        try:
            self._sock.connect(str(path))
        except FileNotFoundError:
            self._sock.close()
            raise ControlError(f"no gateway is running with control socket {path}") from None
        except PermissionError:
            self._sock.close()
            raise ControlError(
                f"{path}: permission denied (the control socket is root-only)"
            ) from None
        except OSError as exc:
            self._sock.close()
            raise ControlError(f"{path}: {exc.strerror or exc}") from None

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
            # chunks joined once at the end: an answer of 40 MB (``show crypto ipsec sa`` at
            # 20,000 tunnels) must not be copied again for every chunk received
            chunks, chunk = [self._buffer], self._buffer
            while b"\n" not in chunk:
                chunk = self._sock.recv(RECV_BYTES)
                if not chunk:
                    raise ControlError(f"{self.path}: the gateway closed the session")
                chunks.append(chunk)
        except OSError as exc:
            raise ControlError(f"{self.path}: {exc.strerror or exc}") from None
        line, self._buffer = b"".join(chunks).split(b"\n", 1)
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:
            raise ControlError(f"{self.path}: the gateway sent an invalid answer") from None
        return answer

    def send(self, line: str, *, as_json: bool = False) -> Answer:
        answer = self._exchange({"line": line, "json": as_json})
        try:
            return Answer(bool(answer["ok"]), str(answer["output"]), str(answer.get("prompt", "")))
        except (KeyError, TypeError):
            raise ControlError(f"{self.path}: the gateway sent an invalid answer") from None

    def complete(self, line: str) -> list[str]:
        answer = self._exchange({"complete": line})
        return [str(c) for c in answer.get("completions", [])]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(path: Path, line: str, *, as_json: bool = False, timeout: float = 10.0) -> Answer:
    """Send one command to the daemon at ``path`` (a session of one line) and return its answer."""
    with ControlClient(path, timeout=timeout) as client:
        return client.send(line, as_json=as_json)


__all__ = [
    "DEFAULT_CONTROL",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "Session",
    "request",
]
