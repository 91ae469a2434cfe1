"""The ``tunnelgate`` command."""

from __future__ import annotations

import argparse
import sys

from tunnelgate import __version__
from tunnelgate.bench import ike_load
from tunnelgate.cli import attach, config_command, pki_command, tools_command
from tunnelgate.daemon import run as daemon_run
from tunnelgate.lab import command as lab_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunnelgate",
        description="A software IPsec VPN gateway configured and operated like a Cisco ASA.",
    )
    parser.add_argument("--version", action="version", version=f"tunnelgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config_command.add_parser(sub)
    pki_command.add_parser(sub)
    tools_command.add_parsers(sub)
    lab_command.add_parser(sub)
    daemon_run.add_parsers(sub)
    attach.add_parser(sub)
    ike_load.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "config":
        if args.config_command == "check":
            return config_command.run_check(args)
        return config_command.run_show(args)
    if args.command == "pki":
        return pki_command.run(args)
    if args.command == "packet-tracer":
        return tools_command.run_packet_tracer(args)
    if args.command == "analyze":
        return tools_command.run_analyze(args)
    if args.command == "run":
        return daemon_run.run_gateway(args)
    if args.command == "cli":
        return attach.run(args)
    if args.command == "show":
        return daemon_run.run_show(args)
    if args.command == "lab":
        return lab_command.run(args)
    if args.command == "bench":
        return ike_load.run(args)
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
