"""``tunnelgate cli``: an ASA command line attached to a running gateway's control socket.

    tunnelgate cli [--control SOCKET]                    interactive (prompt, ? help, Tab)
    tunnelgate cli [--control SOCKET] -c LINE [-c LINE]  one session, one line after the other

The session lives in the daemon (its mode, ``configure terminal`` sub-modes); this client
only reads lines, shows answers and asks the daemon for completions. One-shot use prints
each answer and exits 0 when every line succeeded, 1 otherwise, 2 when the gateway cannot be
reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tunnelgate.daemon.control import DEFAULT_CONTROL, ControlClient, ControlError


def add_parser(sub: Any) -> None:
    cli = sub.add_parser("cli", help="an ASA command line on a running gateway")
    cli.add_argument("--control", type=Path, default=DEFAULT_CONTROL, help="control socket")
    cli.add_argument(
        "-c",
        "--command",
        dest="lines",
        action="append",
        default=[],
        metavar="LINE",
        help="run LINE and exit",
    )
    cli.add_argument("--json", action="store_true", help="show commands answer with values")


def run(args: argparse.Namespace) -> int:
    try:
        with ControlClient(args.control) as client:
            if args.lines:
                return _one_shot(client, args.lines, args.json)
            return _interactive(client)
    except ControlError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2


def _one_shot(client: ControlClient, lines: Iterable[str], as_json: bool) -> int:
    status = 0
    for line in lines:
        answer = client.send(line, as_json=as_json)
        sys.stdout.write(answer.output)
        status |= 0 if answer.ok else 1
    return status


def _interactive(client: ControlClient) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document

    class DaemonCompleter(Completer):
        def get_completions(
            self, document: Document, complete_event: CompleteEvent
        ) -> Iterable[Completion]:
            text = document.text_before_cursor
            partial = "" if not text or text[-1].isspace() else text.split()[-1]
            try:
                words = client.complete(text)
            except ControlError:
                return
            for word in words:
                yield Completion(word, start_position=-len(partial))

    session: PromptSession[str] = PromptSession(completer=DaemonCompleter())
    prompt = client.send("").prompt or "tunnelgate#"
    while True:
        try:
            line = session.prompt(prompt + (" " if prompt else ""))
        except (EOFError, KeyboardInterrupt):
            return 0
        if leaves(line, prompt):
            return 0
        answer = client.send(line)
        sys.stdout.write(answer.output)
        prompt = answer.prompt  # empty while the daemon awaits a paste (crypto ca …)


def leaves(line: str, prompt: str) -> bool:
    """Whether ``line`` ends the interactive client: ``quit``/``logout``, or ``exit`` at the
    exec prompt. With an empty prompt the daemon awaits pasted lines (``crypto ca
    authenticate`` ends its paste with ``quit``), so every line goes to it."""
    if not prompt:
        return False
    word = line.strip()
    return word in ("quit", "logout") or (
        word == "exit" and prompt.endswith(("#", ">")) and "(" not in prompt
    )


__all__ = ["add_parser", "leaves", "run"]
