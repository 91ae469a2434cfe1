"""The ASA command shell without I/O: exec and privileged modes over a ``ConfigSession``.

``Shell.execute(line)`` returns text and *effects* (values such as ``SaveConfig``) that
the caller carries out — writing the startup file, the key store — so that the same
shell serves ``tunnelgate config show -c …`` and the live CLI.

Commands that read a paste or ask a question (``crypto ca authenticate|import|enroll``) leave
the shell *awaiting input* (``awaiting_input``; the prompt is empty, as the ASA shows none):
the following lines go to that command until it ends (``quit`` after a paste, ``yes``/``no``
to a question). A request holding several lines (a whole paste) is taken line by line, so a
script can send a command and its paste at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import (
    Ambiguous,
    Candidate,
    CommandSpec,
    Incomplete,
    Match,
    ModeGrammar,
)
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render import render_config_text, show_running_config
from tunnelgate.config.session import ConfigSession, is_comment

# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class SaveConfig:
    """``write memory``: store this text as the startup configuration."""

    text: str


@dataclass(frozen=True, slots=True)
class SaveKeys:
    """The key store changed: persist these bytes (root-only file)."""

    data: bytes


Effect = SaveConfig | SaveKeys


@dataclass(frozen=True, slots=True)
class ShellOutput:
    """What one line printed, whether it succeeded, and what the caller must do."""

    text: str = ""
    ok: bool = True
    effects: tuple[Effect, ...] = ()


# --------------------------------------------------------------------------- exec grammar

_RUN_TOPICS = (
    "{tunnel-group [WORD$name]|tunnel-group-map|access-list [WORD$name]|access-group"
    "|object [network]$sub|object-group [network]$sub|interface|route|hostname|domain-name"
    "|sysopt}$topic"
)

ExecAction = Callable[["Shell", Any], ShellOutput]


def _show_crypto(shell: Shell, args: Any) -> ShellOutput:
    words = ["crypto"]
    if "sub" in args:
        words.extend(args["sub"].split())
    return ShellOutput(show_running_config(shell.config, words, all="all" in args))


def _show_topic(shell: Shell, args: Any) -> ShellOutput:
    words = [args["topic"]]
    if "sub" in args:
        words.append(args["sub"])
    if "name" in args:
        words.append(args["name"])
    return ShellOutput(show_running_config(shell.config, words, all="all" in args))


def _show_all(shell: Shell, args: Any) -> ShellOutput:
    return ShellOutput(show_running_config(shell.config, all="all" in args))


def _show_all_crypto_map(shell: Shell, args: Any) -> ShellOutput:
    return ShellOutput(show_running_config(shell.config, ["crypto", "map"], all=True))


def _write_memory(shell: Shell, args: Any) -> ShellOutput:
    text = render_config_text(shell.config)
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    checksum = " ".join(digest[i : i + 8] for i in range(0, 32, 8))
    out = (
        f"Building configuration...\nCryptochecksum: {checksum}\n\n{len(text)} bytes copied\n[OK]\n"
    )
    return ShellOutput(out, effects=(SaveConfig(text),))


def _mypubkey(shell: Shell, args: Any) -> ShellOutput:
    if shell.keystore is None:
        return _refuse("", "no key store is attached to this session")
    from tunnelgate.pki.keystore import KeyKind

    kind = KeyKind.RSA if args["kind"] == "rsa" else KeyKind.ECDSA
    return ShellOutput(shell.keystore.describe_public_keys(kind))


def _ca_certificates(shell: Shell, args: Any) -> ShellOutput:
    if shell.keystore is None:
        return _refuse("", "no key store is attached to this session")
    from tunnelgate.pki.trustpoints import show_certificates

    name = args.get("tp")
    if name is not None and name not in shell.config.trustpoints:
        return _refuse("", f"% Trustpoint {name} not found")
    return ShellOutput(show_certificates(shell.keystore, name, shell.clock()))


def _pager(shell: Shell, args: Any) -> ShellOutput:
    shell.pager_lines = args["lines"]
    return ShellOutput()


_EXEC_ROWS: tuple[tuple[str, ExecAction], ...] = (
    ("show running-config [all]$all", _show_all),
    (
        "show running-config [all]$all crypto [{ipsec|isakmp|map|dynamic-map|ikev1|ikev2|ca}$sub]",
        _show_crypto,
    ),
    (f"show running-config [all]$all {_RUN_TOPICS}", _show_topic),
    ("show all crypto map", _show_all_crypto_map),
    ("write memory", _write_memory),
    ("copy running-config startup-config", _write_memory),
    ("show crypto key mypubkey {rsa|ecdsa}$kind", _mypubkey),
    ("show crypto ca certificates [WORD$tp]", _ca_certificates),
    ("terminal pager [lines] <0-2147483647>$lines", _pager),
)


@cache
def exec_grammar() -> ModeGrammar:
    grammar = ModeGrammar("exec")
    for syntax, action in _EXEC_ROWS:
        grammar.add(CommandSpec(syntax, action))
    return grammar


# The crypto ca commands run outside the grammars (they read pastes and answers); these rows
# only give ``?`` help and Tab completion for them, in exec and configuration mode.
_CA_HELP_ROWS: tuple[tuple[str, str], ...] = (
    ("crypto ca authenticate WORD$tp [nointeractive]", "Paste the trustpoint's CA certificate"),
    ("crypto ca enroll WORD$tp [noconfirm]", "Print a certificate request (PKCS#10)"),
    (
        "crypto ca import WORD$tp certificate [nointeractive]",
        "Paste the trustpoint's identity certificate",
    ),
    ("crypto ca import WORD$tp pkcs12 WORD$passphrase [nointeractive]", "Paste a PKCS#12 bundle"),
)
_CA_KEYWORD_HELP: tuple[tuple[str, str], ...] = (
    ("crypto", "Encryption module"),
    ("ca", "Certification authority"),
    ("authenticate", "Get the CA certificate"),
    ("enroll", "Request a certificate"),
    ("import", "Import a certificate"),
    ("certificate", "The identity certificate"),
    ("pkcs12", "A PKCS#12 bundle (key and certificates)"),
    ("nointeractive", "Do not ask for confirmation"),
    ("noconfirm", "Do not ask for confirmation"),
)


@cache
def ca_help_grammar() -> ModeGrammar:
    grammar = ModeGrammar("crypto-ca-help")
    for syntax, help_text in _CA_HELP_ROWS:
        grammar.add(CommandSpec(syntax, _refuse, help_text, _CA_KEYWORD_HELP))
    return grammar


# --------------------------------------------------------------------------- shell


class Shell:
    """One operator session: ``>`` → ``enable`` → ``#`` → ``configure terminal``."""

    def __init__(
        self,
        config: RunningConfig,
        *,
        privileged: bool = True,
        keystore: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.privileged = privileged
        self.configuring: ConfigSession | None = None
        self.keystore = keystore
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pager_lines = 24
        self.pending: Any = None  # a ``pki.trustpoints.Pending`` while awaiting input

    @property
    def awaiting_input(self) -> bool:
        """A command is reading a paste or waiting for an answer."""
        return self.pending is not None

    @property
    def prompt(self) -> str:
        if self.pending is not None:
            return ""
        if self.configuring is not None:
            return self.configuring.prompt
        return f"{self.config.hostname}{'#' if self.privileged else '>'}"

    def execute(self, line: str) -> ShellOutput:
        """Run one line in the current mode; never raises for bad input."""
        if "\n" in line.strip():
            return self._several(line.strip().splitlines())
        if self.pending is not None:
            return self._continue_ca(line)
        if is_comment(line):
            return ShellOutput()
        text = line.strip()
        lowered = " ".join(text.lower().split())
        if self.configuring is not None:
            return self._in_config(text, lowered)
        if lowered in ("enable", "en"):
            self.privileged = True
            return ShellOutput()
        if lowered in ("disable",):
            self.privileged = False
            return ShellOutput()
        if lowered in ("exit", "quit", "logout"):
            return ShellOutput()
        if _prefix_of(lowered, ("configure", "terminal")):
            if not self.privileged:
                return _refuse(text, "configure terminal needs privileged mode (enable)")
            self.configuring = ConfigSession(self.config)
            return ShellOutput()
        if _is_ca_command(lowered):
            if not self.privileged:
                return _refuse(text, "crypto ca commands need privileged mode (enable)")
            return self._ca_command(text)
        return self._exec(text)

    def _several(self, lines: list[str]) -> ShellOutput:
        """Each line in turn (a command with its paste); ok when every line was."""
        outputs = [self.execute(line) for line in lines]
        return ShellOutput(
            "".join(o.text for o in outputs),
            ok=all(o.ok for o in outputs),
            effects=tuple(e for o in outputs for e in o.effects),
        )

    def candidates(self, line: str) -> list[Candidate]:
        """What may follow ``line`` in the current mode (``?`` help and Tab completion)."""
        if self.configuring is not None:
            from tunnelgate.config.commands import grammars

            found = grammars()[self.configuring.mode].candidates(line)
        else:
            found = exec_grammar().candidates(line)
        if self.privileged:
            known = {c.text for c in found}
            found += [c for c in ca_help_grammar().candidates(line) if c.text not in known]
        return found

    def _in_config(self, text: str, lowered: str) -> ShellOutput:
        session = self.configuring
        assert session is not None
        if lowered == "end":
            self.configuring = None
            return ShellOutput()
        if lowered in ("exit", "quit") and session.mode.name == "config":
            self.configuring = None
            return ShellOutput()
        first = lowered.split()[0]
        if first in ("show", "sh", "write", "wr", "copy", "terminal") or first.startswith("sho"):
            return self._exec(text)
        if lowered.startswith("crypto key "):
            return self._key_command(text)
        if _is_ca_command(lowered):
            return self._ca_command(text)
        result = session.execute(text)
        rendered = "\n".join(d.render() for d in result.diagnostics)
        output = ShellOutput(
            rendered + ("\n" if rendered else ""), ok=result.applied or result.ignored
        )
        words = text.split()
        if result.applied and _is_no_trustpoint(words):
            return self._trustpoint_removed(words[4], output)
        return output

    # ------------------------------------------------------------------ crypto ca (pki)

    def _ca_command(self, text: str) -> ShellOutput:
        if self.keystore is None:
            return _refuse(text, "no key store is attached to this session")
        from tunnelgate.pki.trustpoints import execute_ca_command

        reply = execute_ca_command(self.keystore, self.config, text, self.clock())
        return self._ca_reply(reply)

    def _continue_ca(self, line: str) -> ShellOutput:
        from tunnelgate.pki.trustpoints import continue_ca_command

        pending, self.pending = self.pending, None
        reply = continue_ca_command(self.keystore, self.config, pending, line, self.clock())
        return self._ca_reply(reply)

    def _ca_reply(self, reply: Any) -> ShellOutput:
        self.pending = reply.pending
        effects = (SaveKeys(self.keystore.to_bytes()),) if reply.changed else ()
        return ShellOutput(reply.text, ok=reply.ok, effects=effects)

    def _trustpoint_removed(self, name: str, output: ShellOutput) -> ShellOutput:
        """``no crypto ca trustpoint NAME`` applied: its certificates go with it."""
        if self.keystore is None:
            return output
        from tunnelgate.pki.trustpoints import remove_trustpoint

        warning = remove_trustpoint(self.keystore, name)
        if not warning:
            return output
        return ShellOutput(warning + output.text, output.ok, (SaveKeys(self.keystore.to_bytes()),))

    def _exec(self, text: str) -> ShellOutput:
        match = exec_grammar().match(text)
        if not isinstance(match, Match):
            if isinstance(match, Ambiguous):
                diag = Diagnostic(Severity.ERROR, f'% Ambiguous command: "{text}"')
            elif isinstance(match, Incomplete):
                diag = Diagnostic(Severity.ERROR, "% Incomplete command", text, match.column)
            else:
                diag = Diagnostic(
                    Severity.ERROR, "% Invalid input detected at '^' marker.", text, match.column
                )
            return ShellOutput(diag.render() + "\n", ok=False)
        action: ExecAction = match.command.action
        return action(self, match.args)

    def _key_command(self, text: str) -> ShellOutput:
        if self.keystore is None:
            return _refuse(text, "no key store is attached to this session")
        from tunnelgate.pki.keystore import (
            ConfirmationRequired,
            KeyCommandError,
            KeyStoreError,
            execute_key_command,
        )

        try:
            message = execute_key_command(self.keystore, text, self.clock())
        except ConfirmationRequired as exc:
            return ShellOutput(f"{exc}\n", ok=False)
        except KeyCommandError as exc:
            return ShellOutput(exc.render() + "\n", ok=False)
        except KeyStoreError as exc:
            return _refuse(text, str(exc))
        return ShellOutput(message, effects=(SaveKeys(self.keystore.to_bytes()),))


def _is_ca_command(lowered: str) -> bool:
    from tunnelgate.pki.trustpoints import is_ca_command

    return is_ca_command(lowered)


def _is_no_trustpoint(words: list[str]) -> bool:
    """``no crypto ca trustpoint NAME`` (abbreviated words too)."""
    keywords = ("no", "crypto", "ca", "trustpoint")
    return len(words) == 5 and all(
        k.startswith(w.lower()) for w, k in zip(words, keywords, strict=False)
    )


def _prefix_of(line: str, words: tuple[str, ...]) -> bool:
    parts = line.split()
    return len(parts) == len(words) and all(
        w.startswith(p) for p, w in zip(parts, words, strict=True)
    )


def _refuse(text: str, message: str) -> ShellOutput:
    return ShellOutput(Diagnostic(Severity.ERROR, message).render() + "\n", ok=False)
