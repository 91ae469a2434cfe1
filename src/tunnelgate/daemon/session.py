"""One operator connection to the running gateway: the ASA shell over the live configuration.

Lines go first to the operational commands (``show crypto ipsec sa``, ``clear crypto …``),
then to the configuration shell (``configure terminal``, every configuration command,
``show running-config``, ``write memory``). A configuration line that the shell applies is
compiled and applied to the running gateway at once (``Live.reconfigure``); a refused line
changes nothing. A line ending in ``?`` lists what may come next, as the ASA's help does.
Sessions start privileged: the control socket is root-only (O1, O4). While the shell awaits
input (the paste of ``crypto ca authenticate|import``, a yes/no), every line goes to it. When
the key store changes (keys, trustpoint certificates) it is saved and the gateway is
reconfigured, so that new credentials apply at once.
"""

from __future__ import annotations

from typing import Protocol

from tunnelgate.cli.shell import SaveConfig, SaveKeys, Shell
from tunnelgate.config.grammar import Candidate
from tunnelgate.config.model import RunningConfig
from tunnelgate.daemon.operations import Answer, Operations, candidates, execute

_READ_ONLY = ("show", "sh", "write", "wr", "copy", "terminal", "clear", "exit", "end", "quit")


class Live(Operations, Protocol):
    """The running gateway as a session sees it."""

    config: RunningConfig
    keystore: object

    def reconfigure(self) -> str:
        """Apply the (changed) running configuration; what it did, for the operator."""
        ...

    def save_config(self, text: str) -> None: ...
    def save_keys(self, data: bytes) -> None: ...


class OperatorSession:
    """The state of one connection: its shell (mode, sub-mode) over the shared config."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.shell = Shell(live.config, keystore=live.keystore)

    @property
    def prompt(self) -> str:
        return self.shell.prompt

    def handle(self, line: str, as_json: bool = False) -> Answer:
        if self.shell.awaiting_input:
            answer = self._shell(line)
            return Answer(answer.ok, answer.output, self.prompt)
        if line.rstrip().endswith("?"):
            return Answer(True, self._help(line.rstrip()[:-1]), self.prompt)
        answer = execute(line, self.live, as_json=as_json, fallback=self._shell)
        return Answer(answer.ok, answer.output, self.prompt)

    def complete(self, line: str) -> list[str]:
        """Keywords that may complete ``line`` (for Tab)."""
        return sorted({c.text for c in self._candidates(line) if c.is_keyword})

    def _shell(self, line: str) -> Answer:
        configuring = self.shell.configuring is not None
        out = self.shell.execute(line)
        text = out.text
        keys_changed = False
        for effect in out.effects:
            if isinstance(effect, SaveConfig):
                self.live.save_config(effect.text)
            elif isinstance(effect, SaveKeys):
                self.live.save_keys(effect.data)
                keys_changed = True
        words = line.split()
        if keys_changed or (
            configuring and out.ok and words and words[0].lower() not in _READ_ONLY
        ):
            text += self.live.reconfigure()
        return Answer(out.ok, text)

    def _candidates(self, line: str) -> list[Candidate]:
        found = list(self.shell.candidates(line))
        if self.shell.configuring is None or line.split()[:1] in (["show"], ["clear"]):
            found += candidates(line)
        return found

    def _help(self, line: str) -> str:
        found = {c.text: c.help for c in self._candidates(line)}
        if not found:
            return "ERROR: % Unrecognized command\n"
        width = max(len(t) for t in found) + 2
        return "".join(f"  {t.ljust(width)}{h}\n" for t, h in sorted(found.items()))


__all__ = ["Live", "OperatorSession"]
