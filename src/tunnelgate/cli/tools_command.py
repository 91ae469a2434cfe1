"""``tunnelgate packet-tracer`` and ``tunnelgate analyze``: offline tools over config files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from tunnelgate.cli.files import ConfigFileError, read_text
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import RunningConfig


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tracer = subparsers.add_parser(
        "packet-tracer",
        help="what the gateway would do with one packet (crypto map, ACE, action)",
        description="Trace one packet through routing and the crypto map of the egress "
        "interface, as the ASA's packet-tracer does.",
    )
    tracer.add_argument("config", type=Path)
    tracer.add_argument(
        "--input", required=True, metavar="IFNAME", help="the nameif the packet arrives on"
    )
    tracer.add_argument("protocol", metavar="PROTO", help="tcp, udp, icmp, ip or 0-255")
    tracer.add_argument(
        "operands",
        nargs="+",
        metavar="SRC [SPORT] DST [DPORT]",
        help="addresses and ports (for icmp, SPORT is the ICMP type)",
    )
    tracer.add_argument("--json", action="store_true", help="print one JSON object")
    tracer.add_argument(
        "--lenient",
        action="store_true",
        help="the file is a whole ASA configuration: skip what is not understood",
    )
    analyze = subparsers.add_parser(
        "analyze",
        help="will the tunnels between these gateways come up? (pairwise, both directions)",
    )
    analyze.add_argument("configs", type=Path, nargs="+", metavar="CONFIG")
    analyze.add_argument("--json", action="store_true", help="print a JSON list of sessions")
    analyze.add_argument(
        "--lenient", action="store_true", help="the files are whole ASA configurations"
    )


def _load(path: Path, lenient: bool, err: TextIO) -> RunningConfig | None:
    try:
        text = read_text(path)
    except ConfigFileError as exc:
        print(f"ERROR: {exc}", file=err)
        return None
    result = load_config(text, source=str(path), lenient=lenient)
    if result.config is None:
        for diag in result.errors:
            print(diag.render(), file=err)
        print(
            f"ERROR: {path} is not a valid configuration (--lenient skips what is not understood)",
            file=err,
        )
        return None
    return result.config


def run_packet_tracer(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from tunnelgate.tools.packet_tracer import (
        TraceInputError,
        format_trace,
        parse_flow,
        trace,
        trace_json,
    )

    out = out or sys.stdout
    config = _load(args.config, args.lenient, sys.stderr)
    if config is None:
        return 2
    try:
        flow = parse_flow(args.protocol, args.operands)
        result = trace(compile_config(config), args.input, flow)
    except TraceInputError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(trace_json(result), indent=2), file=out)
    else:
        out.write(format_trace(result))
    return 0


def run_analyze(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from tunnelgate.tools.analyze import Gateway, analyze, format_sessions, sessions_json

    out = out or sys.stdout
    gateways = []
    for path in args.configs:
        config = _load(path, args.lenient, sys.stderr)
        if config is None:
            return 2
        gateways.append(Gateway(path.name, config, compile_config(config)))
    sessions = analyze(gateways)
    if args.json:
        print(json.dumps(sessions_json(sessions), indent=2), file=out)
    else:
        out.write(format_sessions(sessions))
    return 0 if all(s.status == "ESTABLISHED" for s in sessions) else 1
