"""``tunnelgate config check|show``: offline use of the configuration language."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tunnelgate.cli.files import ConfigFileError, keystore_path, read_text, write_private
from tunnelgate.cli.shell import SaveConfig, SaveKeys, Shell
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.loader import LoadResult, load_config


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", help="check or show an ASA configuration file")
    sub = config.add_subparsers(dest="config_command", required=True)
    check = sub.add_parser("check", help="print diagnostics; exit 0 when valid, 1 when not")
    check.add_argument(
        "--lenient",
        action="store_true",
        help="apply what is understood of a whole ASA configuration",
    )
    check.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the informational messages of each line",
    )
    check.add_argument("file", type=Path)
    show = sub.add_parser("show", help="print what the ASA would show for the configuration")
    show.add_argument(
        "--lenient",
        action="store_true",
        help="apply what is understood of a whole ASA configuration",
    )
    show.add_argument("file", type=Path)
    show.add_argument(
        "-c",
        "--command",
        action="append",
        dest="commands",
        metavar="CMD",
        help="a command to run (repeatable; default: show running-config)",
    )


def _load(path: Path, lenient: bool, out: TextIO) -> LoadResult | None:
    try:
        text = read_text(path)
    except ConfigFileError as exc:
        print(f"ERROR: {exc}", file=out)
        return None
    return load_config(text, source=str(path), lenient=lenient)


def _summary(path: Path, result: LoadResult) -> str:
    errors = len(result.errors)
    warnings = len(result.warnings)
    state = "valid" if result.ok else "invalid, nothing applied"
    line = (
        f"{path}: {result.lines_total} command lines, {result.lines_applied} applied, "
        f"{errors} error(s), {warnings} warning(s): {state}"
    )
    return line


def run_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    result = _load(args.file, args.lenient, out)
    if result is None:
        return 2
    for diag in result.diagnostics:
        if _worth_printing(diag, args.verbose):
            print(diag.render(), file=out)
    print(_summary(args.file, result), file=out)
    return 0 if result.ok else 1


def _worth_printing(diag: Diagnostic, verbose: bool) -> bool:
    """Per-line INFO messages (what the ASA says as each line is typed) only when verbose."""
    return verbose or diag.severity is not Severity.INFO or diag.line_no is None


def run_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    result = _load(args.file, args.lenient, out)
    if result is None:
        return 2
    if result.config is None:
        for diag in result.diagnostics:
            print(diag.render(), file=out)
        print(_summary(args.file, result), file=out)
        return 1
    for diag in result.diagnostics:
        if _worth_printing(diag, False):
            print(diag.render(), file=sys.stderr)
    keystore = _open_keystore(args.file)
    shell = Shell(result.config, keystore=keystore)
    status = 0
    for command in args.commands or ["show running-config"]:
        output = shell.execute(command)
        out.write(output.text)
        if not output.ok:
            status = 1
        for effect in output.effects:
            if isinstance(effect, SaveConfig):
                write_private(args.file, effect.text.encode())
            elif isinstance(effect, SaveKeys):
                write_private(keystore_path(args.file), effect.data)
    return status


def _open_keystore(path: Path) -> object:
    try:
        from tunnelgate.pki.keystore import KeyStore
    except ImportError:  # pragma: no cover - the PKI layer is optional at this stage
        return None
    store_file = keystore_path(path)
    if store_file.exists():
        return KeyStore.from_bytes(store_file.read_bytes())
    return KeyStore()
