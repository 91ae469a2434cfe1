"""``tunnelgate pki import``: put a trustpoint's certificates and key into the key store.

    tunnelgate pki import --config STARTUP.cfg TRUSTPOINT --ca CA.pem
        [--cert CERT.pem --key KEY.pem | --pkcs12 FILE --passphrase P]

The script counterpart of ``crypto ca authenticate`` + ``crypto ca import``: it writes the
key store that ``tunnelgate run --config STARTUP.cfg`` reads (``STARTUP.keys``, mode 0600,
replaced atomically) with the same checks, and never changes the configuration. The
trustpoint must be configured in STARTUP.cfg; the private key is stored under its
``keypair`` label, else under the trustpoint's name. It prints what it stored (subjects,
serials, validity), never key material. Exit status: 0 stored, 1 refused (nothing written),
2 unreadable files or bad usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509

from tunnelgate.cli.files import ConfigFileError, keystore_path, read_text, write_private
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import Trustpoint
from tunnelgate.pki.certificates import (
    CertificateError,
    describe,
    load_certificates,
    load_private_key,
)
from tunnelgate.pki.keystore import KeyStore, KeyStoreError
from tunnelgate.pki.trustpoints import (
    TrustpointError,
    authenticate,
    check_ca_certificates,
    import_label,
    import_pkcs12,
    store_identity,
)

__all__ = ["add_parser", "run"]

_EPILOG = """\
examples:
  tunnelgate pki import --config /etc/tunnelgate/startup.cfg VPN-TP --ca ca.pem
  tunnelgate pki import --config startup.cfg VPN-TP --ca ca.pem --cert gw.pem --key gw.key
  tunnelgate pki import --config startup.cfg VPN-TP --pkcs12 gw.p12 --passphrase secret

The key store is STARTUP.keys beside the configuration (startup.cfg -> startup.keys),
root-only (0600). Certificates and keys may be PEM, DER or bare base 64. Exit status:
0 stored, 1 refused (nothing written), 2 unreadable files or bad usage.
"""


class _Usage(Exception):
    """Bad usage or an unreadable file: exit 2."""


def add_parser(sub: Any) -> None:
    pki = sub.add_parser("pki", help="manage trustpoint certificates offline")
    actions = pki.add_subparsers(dest="pki_command", required=True)
    imp = actions.add_parser(
        "import",
        help="store a trustpoint's CA certificate, identity certificate and key",
        description="Store a trustpoint's CA certificate and, optionally, its identity "
        "certificate and private key (PEM/DER files, or a PKCS#12 bundle) in the key store "
        "that 'tunnelgate run --config STARTUP.cfg' reads. The configuration is not changed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument(
        "--config", type=Path, required=True, metavar="STARTUP.cfg", help="startup configuration"
    )
    imp.add_argument("trustpoint", metavar="TRUSTPOINT", help="a crypto ca trustpoint of it")
    imp.add_argument("--ca", type=Path, metavar="CA.pem", help="the CA certificate(s) to trust")
    imp.add_argument("--cert", type=Path, metavar="CERT.pem", help="our identity certificate")
    imp.add_argument("--key", type=Path, metavar="KEY.pem", help="its private key")
    imp.add_argument(
        "--key-passphrase", metavar="P", default=None, help="passphrase of an encrypted --key"
    )
    imp.add_argument("--pkcs12", type=Path, metavar="FILE", help="key, certificate and CA")
    imp.add_argument("--passphrase", metavar="P", help="passphrase of the --pkcs12 bundle")
    imp.add_argument(
        "--replace-key",
        action="store_true",
        help="replace a different key pair already stored under the label",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        _check_usage(args)
        lines = _import(args, datetime.now(UTC))
    except _Usage as exc:
        print(f"ERROR: {exc}", file=err)
        return 2
    except (TrustpointError, KeyStoreError, CertificateError) as exc:
        print(f"ERROR: {str(exc).removeprefix('% ')}; nothing was stored", file=err)
        return 1
    for line in lines:
        print(line, file=out)
    return 0


def _check_usage(args: argparse.Namespace) -> None:
    if (args.cert is None) != (args.key is None):
        raise _Usage("--cert and --key go together")
    if args.pkcs12 is not None and args.cert is not None:
        raise _Usage("give either --cert/--key or --pkcs12, not both")
    if args.pkcs12 is not None and args.passphrase is None:
        raise _Usage("--pkcs12 needs --passphrase")
    if args.passphrase is not None and args.pkcs12 is None:
        raise _Usage("--passphrase belongs to --pkcs12 (use --key-passphrase for --key)")
    if args.ca is None and args.pkcs12 is None:
        raise _Usage("--ca is required (a PKCS#12 bundle may carry the CA instead)")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _Usage(f"{path}: {exc.strerror or exc}") from None


def _trustpoint(args: argparse.Namespace) -> Trustpoint:
    try:
        text = read_text(args.config)
    except ConfigFileError as exc:
        raise _Usage(str(exc)) from None
    result = load_config(text, source=str(args.config))
    if result.config is None:
        raise _Usage(f"{args.config}: invalid configuration (see 'tunnelgate config check')")
    tp = result.config.trustpoints.get(args.trustpoint)
    if tp is None:
        configured = ", ".join(result.config.trustpoints) or "none"
        raise TrustpointError(
            f"trustpoint {args.trustpoint} is not configured in {args.config} "
            f"(crypto ca trustpoint {args.trustpoint}); configured: {configured}"
        )
    return tp


def _store(path: Path) -> KeyStore:
    if not path.exists():
        return KeyStore()
    try:
        return KeyStore.from_bytes(_read(path))
    except KeyStoreError as exc:
        raise _Usage(f"{path}: {exc}") from None


def _certificates(path: Path) -> list[x509.Certificate]:
    try:
        return load_certificates(_read(path))
    except CertificateError as exc:
        raise CertificateError(f"{path}: {exc}") from None


def _import(args: argparse.Namespace, now: datetime) -> list[str]:
    tp = _trustpoint(args)
    store_path = keystore_path(args.config)
    store = _store(store_path)
    ca = check_ca_certificates(_certificates(args.ca), now) if args.ca is not None else ()
    identity: x509.Certificate | None = None
    if args.cert is not None:
        passphrase = args.key_passphrase.encode() if args.key_passphrase is not None else None
        try:
            key = load_private_key(_read(args.key), passphrase)
        except CertificateError as exc:
            raise CertificateError(f"{args.key}: {exc}") from None
        certs = _certificates(args.cert)
        identity = store_identity(store, tp, key, certs, ca, now, replace_key=args.replace_key)
    elif args.pkcs12 is not None:
        identity = import_pkcs12(
            store,
            tp,
            _read(args.pkcs12),
            args.passphrase,
            now,
            ca=ca,
            replace_key=args.replace_key,
        )
    else:
        authenticate(store, tp.name, ca, now)
    try:
        write_private(store_path, store.to_bytes())
    except OSError as exc:
        raise _Usage(f"{store_path}: {exc.strerror or exc}") from None
    held = store.certificates(tp.name)
    lines = [f"Trustpoint {tp.name}: stored in {store_path} (mode 0600)"]
    lines += [f"  CA certificate: {describe(cert)}" for cert in held.ca]
    if identity is not None:
        lines.append(f"  Certificate: {describe(identity)}")
        lines += [f"  Intermediate: {describe(cert)}" for cert in held.chain[1:]]
        label = import_label(tp)
        kind = store.kind_of(label) or ""
        lines.append(f"  Key pair: {label} ({kind.upper()})")
    return lines
