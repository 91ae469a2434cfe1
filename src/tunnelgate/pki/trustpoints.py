"""Trustpoint certificates and the ``crypto ca`` exec commands, without I/O.

| command                                              | does                                     |
|------------------------------------------------------|------------------------------------------|
| ``crypto ca authenticate TP [nointeractive]``        | paste the CA certificate, accept it      |
| ``crypto ca enroll TP [noconfirm]``                  | print a PKCS#10 request (``enrollment    |
|                                                      | terminal``) or self-sign (``self``)      |
| ``crypto ca import TP certificate [nointeractive]``  | paste our identity certificate           |
| ``crypto ca import TP pkcs12 PASS [nointeractive]``  | paste a base-64 PKCS#12: key, certificate|
|                                                      | and CA                                   |
| ``show crypto ca certificates [TP]``                 | the ASA layout                           |

Commands that read a paste or ask a question do it as values: ``execute_ca_command`` returns
a ``CaReply`` whose ``pending`` (``Paste`` or ``Confirm``) the caller hands back with the next
line to ``continue_ca_command``, until ``pending`` is None. Lines are collected until
``quit`` on a line by itself, as on the ASA. ``CaReply.changed`` says the key store must be
written. The same checks serve ``tunnelgate pki import`` (``authenticate``,
``checked_identity``, ``import_pkcs12``).

Decisions:

- A trustpoint's key pair is its ``keypair`` label; without one, a key pair labelled with the
  trustpoint's name (what a PKCS#12 import stores), else ``<Default-RSA-Key>`` as on the ASA
  (``key_label``). Imports store under ``keypair`` or else the trustpoint name
  (``import_label``); the configuration is never changed by an import.
- Any pasted certificate that has expired or is not yet valid is refused; a CA must carry
  basic constraints CA:TRUE. A paste may hold several certificates (a CA chain; an identity
  certificate followed by its intermediates).
- ``crypto ca authenticate`` replaces the CA certificates of a trustpoint only when its
  identity certificate (if any) still chains to the new ones.
- A PKCS#12 whose key differs from a key pair already under the label is refused (zeroize
  the key pair first); nothing is overwritten silently.
- ``crypto ca enroll`` signs with SHA-256. Without ``subject-name`` the subject is
  ``CN=hostname[.domain-name]``; ``fqdn`` becomes a dNSName subject alternative name. The
  request prints as bare base 64, as the ASA prints it. A missing key pair is refused (not
  generated on the fly). ``enrollment self`` issues a self-signed identity certificate valid
  for ten years; ``enrollment url`` (SCEP) is not supported.
- ``no crypto ca trustpoint TP`` warns and removes the trustpoint's certificates without a
  question, so that scripted configuration keeps working (``Shell``).
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from tunnelgate.config.grammar import Ambiguous, Args, CommandSpec, Incomplete, Match, ModeGrammar
from tunnelgate.config.model import RunningConfig, Trustpoint
from tunnelgate.pki.certificates import (
    CertificateError,
    key_matches,
    load_certificates,
    load_pkcs12,
)
from tunnelgate.pki.credentials import SigningKey
from tunnelgate.pki.keystore import (
    DEFAULT_LABELS,
    KeyExists,
    KeyKind,
    KeyStore,
    KeyStoreError,
    TrustpointCertificates,
)

__all__ = [
    "CaOperation",
    "CaReply",
    "Confirm",
    "Paste",
    "Pending",
    "TrustpointError",
    "authenticate",
    "check_ca_certificates",
    "checked_identity",
    "continue_ca_command",
    "execute_ca_command",
    "import_label",
    "import_pkcs12",
    "is_ca_command",
    "key_label",
    "remove_trustpoint",
    "show_certificates",
    "store_identity",
]

END_OF_PASTE = "quit"
SELF_SIGNED_DAYS = 3650


class TrustpointError(KeyStoreError):
    """A ``crypto ca`` operation was refused; nothing stored. ``str()``: the ASA message."""


class CaOperation(enum.Enum):
    AUTHENTICATE = "authenticate"
    IMPORT_CERTIFICATE = "import certificate"
    IMPORT_PKCS12 = "import pkcs12"
    ENROLL = "enroll"


@dataclass(frozen=True, slots=True)
class Paste:
    """Collecting pasted lines until ``quit``."""

    operation: CaOperation
    trustpoint: str
    interactive: bool = True
    passphrase: str | None = field(default=None, repr=False)
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Confirm:
    """Waiting for ``yes`` or ``no`` to ``question``; ``certificates``: what a yes accepts."""

    operation: CaOperation
    trustpoint: str
    question: str
    certificates: tuple[x509.Certificate, ...] = ()


Pending = Paste | Confirm


@dataclass(frozen=True, slots=True)
class CaReply:
    """What one line printed; ``pending``: the command wants more lines; ``changed``: write
    the key store."""

    text: str = ""
    ok: bool = True
    changed: bool = False
    pending: Pending | None = None


# --------------------------------------------------------------------------- key pairs


def key_label(tp: Trustpoint, store: KeyStore) -> str:
    """The label of the key pair a trustpoint certifies (see the module's decisions)."""
    if tp.keypair is not None:
        return tp.keypair
    if store.kind_of(tp.name) is not None:
        return tp.name
    return DEFAULT_LABELS[KeyKind.RSA]


def import_label(tp: Trustpoint) -> str:
    """Where an imported private key is stored: ``keypair``, else the trustpoint's name."""
    return tp.keypair or tp.name


def _trustpoint(config: RunningConfig, name: str) -> Trustpoint:
    tp = config.trustpoints.get(name)
    if tp is None:
        raise TrustpointError(f"% Trustpoint {name} not found")
    return tp


# --------------------------------------------------------------------------- checks


def _check_dates(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise TrustpointError(
            f"% The {what} is not yet valid (valid from {asa_time(cert.not_valid_before_utc)})"
        )
    if now > cert.not_valid_after_utc:
        raise TrustpointError(
            f"% The {what} has expired (valid until {asa_time(cert.not_valid_after_utc)})"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def check_ca_certificates(
    certs: Sequence[x509.Certificate], now: datetime
) -> tuple[x509.Certificate, ...]:
    """CA certificates fit to trust: CA:TRUE and within their validity."""
    if not certs:
        raise TrustpointError("% No certificate was found in the input")
    for cert in certs:
        if not _is_ca(cert):
            raise TrustpointError(
                "% The certificate is not a CA certificate (basic constraints CA:TRUE missing): "
                + cert.subject.rfc4514_string()
            )
        _check_dates(cert, now, "CA certificate")
    return tuple(certs)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain(
    identity: x509.Certificate,
    extra: Sequence[x509.Certificate],
    ca: Sequence[x509.Certificate],
) -> tuple[x509.Certificate, ...]:
    """identity + the intermediates from ``extra`` leading to one of ``ca``."""
    chain = [identity]
    pool = [c for c in extra if c not in ca and c != identity]
    while True:
        tip = chain[-1]
        if any(_issued_by(tip, root) for root in ca):
            return tuple(chain)
        nxt = next((c for c in pool if c not in chain and _issued_by(tip, c)), None)
        if nxt is None:
            raise TrustpointError(
                "% The certificate does not chain to the trustpoint's CA certificate"
            )
        chain.append(nxt)


def checked_identity(
    certs: Sequence[x509.Certificate],
    key: SigningKey | None,
    ca: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[x509.Certificate, ...]:
    """The chain to store for an identity certificate (first of ``certs``; the rest may be
    intermediates or the CA itself): within its dates, matching ``key``, chaining to ``ca``."""
    if not certs:
        raise TrustpointError("% No certificate was found in the input")
    identity = certs[0]
    if _is_ca(identity) and len(certs) > 1:
        # A paste in the other order (CA first): take the first certificate that is no CA.
        leaves = [c for c in certs if not _is_ca(c)]
        if leaves:
            identity = leaves[0]
    _check_dates(identity, now, "certificate")
    if key is None:
        raise TrustpointError("% The trustpoint's key pair does not exist")
    if not key_matches(identity, key):
        raise TrustpointError("% The certificate does not match the trustpoint's key pair")
    for cert in certs:
        if cert is not identity:
            _check_dates(cert, now, "intermediate certificate")
    return _chain(identity, certs, ca)


def authenticate(
    store: KeyStore, trustpoint: str, certs: Sequence[x509.Certificate], now: datetime
) -> None:
    """Make ``certs`` the CA certificates of ``trustpoint`` (``crypto ca authenticate``)."""
    ca = check_ca_certificates(certs, now)
    held = store.certificates(trustpoint)
    chain = held.chain
    if held.identity is not None:
        try:
            chain = _chain(held.identity, held.chain, ca)
        except TrustpointError:
            raise TrustpointError(
                f"% The identity certificate of {trustpoint} was not issued by this CA; "
                f"remove the trustpoint's certificates first (no crypto ca trustpoint "
                f"{trustpoint})"
            ) from None
    store.set_certificates(trustpoint, TrustpointCertificates(ca, chain))


def import_certificate(
    store: KeyStore, tp: Trustpoint, certs: Sequence[x509.Certificate], now: datetime
) -> x509.Certificate:
    """Store our identity certificate (``crypto ca import TP certificate``)."""
    held = store.certificates(tp.name)
    if not held.ca:
        raise TrustpointError(
            "% You must authenticate the Certificate Authority certificate before you can "
            f"import the device certificate (crypto ca authenticate {tp.name})"
        )
    label = key_label(tp, store)
    key = store.signing_key(label)
    if key is None:
        raise TrustpointError(f"% The key pair {label} of trustpoint {tp.name} does not exist")
    chain = checked_identity(certs, key, held.ca, now)
    store.set_certificates(tp.name, TrustpointCertificates(held.ca, chain))
    return chain[0]


def import_pkcs12(
    store: KeyStore,
    tp: Trustpoint,
    data: bytes,
    passphrase: str,
    now: datetime,
    *,
    ca: Sequence[x509.Certificate] = (),
    replace_key: bool = False,
) -> x509.Certificate:
    """Store a PKCS#12's key (under ``import_label``), identity certificate and CA: ``ca``
    when given, else the bundle's CA certificates, else those the trustpoint trusts."""
    try:
        key, cert, extra = load_pkcs12(data, passphrase.encode())
    except CertificateError as exc:
        raise TrustpointError(f"% Import PKCS12 operation failed: {exc}") from None
    cas = [c for c in extra if _is_ca(c)]
    if ca:
        roots = tuple(ca)
    else:
        roots = check_ca_certificates(cas, now) if cas else store.certificates(tp.name).ca
    if not roots:
        raise TrustpointError(
            "% Import PKCS12 operation failed: the bundle holds no CA certificate and the "
            f"trustpoint is not authenticated (crypto ca authenticate {tp.name})"
        )
    return store_identity(store, tp, key, [cert, *extra], roots, now, replace_key=replace_key)


def store_identity(
    store: KeyStore,
    tp: Trustpoint,
    key: SigningKey,
    certs: Sequence[x509.Certificate],
    ca: Sequence[x509.Certificate],
    now: datetime,
    *,
    replace_key: bool = False,
) -> x509.Certificate:
    """Store ``key`` under ``import_label`` with the identity certificate (first of
    ``certs``) and ``ca`` as the trustpoint's CA certificates, after every check. A
    different key already under the label is refused unless ``replace_key``."""
    chain = checked_identity(certs, key, ca, now)
    label = import_label(tp)
    existing = store.signing_key(label)
    if existing is not None and not key_matches(chain[0], existing) and not replace_key:
        raise TrustpointError(
            f"% A different key pair is already labelled {label}; remove it first "
            f"(crypto key zeroize {store.kind_of(label)} label {label})"
        )
    if existing is None or not key_matches(chain[0], existing):
        try:
            store.import_key(label, key, now, replace=replace_key)
        except KeyExists as exc:
            raise TrustpointError(f"% {exc}") from None
    store.set_certificates(tp.name, TrustpointCertificates(tuple(ca), chain))
    return chain[0]


def remove_trustpoint(store: KeyStore, trustpoint: str) -> str:
    """Forget the certificates of a removed trustpoint; the ASA's warning (empty if none)."""
    if not store.remove_trustpoint(trustpoint):
        return ""
    return (
        "WARNING: Removing an enrolled trustpoint will destroy all certificates received "
        f"from the related Certificate Authority ({trustpoint}).\n"
    )


# --------------------------------------------------------------------------- enrollment


_DN_ATTRIBUTES = {
    "cn": NameOID.COMMON_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "c": NameOID.COUNTRY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "sp": NameOID.STATE_OR_PROVINCE_NAME,
    "ea": NameOID.EMAIL_ADDRESS,
    "e": NameOID.EMAIL_ADDRESS,
    "sn": NameOID.SURNAME,
    "ser": NameOID.SERIAL_NUMBER,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "t": NameOID.TITLE,
    "gn": NameOID.GIVEN_NAME,
    "dc": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
    "hostname": NameOID.UNSTRUCTURED_NAME,
    "unstructuredname": NameOID.UNSTRUCTURED_NAME,
}


def parse_subject(text: str) -> x509.Name:
    """``CN=vpn.example.com,OU=VPN,O=Example,C=US`` (``\\,`` escapes a comma), read as an
    RFC 4514 string: the first attribute is the last (most specific) in the certificate."""
    parts: list[str] = []
    current = ""
    escaped = False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    attributes = []
    for part in parts:
        key, sep, value = part.partition("=")
        oid = _DN_ATTRIBUTES.get(key.strip().lower())
        if not sep or oid is None or not value.strip():
            raise TrustpointError(f"% Invalid subject-name attribute '{part.strip()}'")
        attributes.append(x509.NameAttribute(oid, value.strip()))
    try:
        return x509.Name(list(reversed(attributes)))
    except ValueError as exc:
        raise TrustpointError(f"% Invalid subject-name: {exc}") from None


def _subject(tp: Trustpoint, config: RunningConfig) -> x509.Name:
    if tp.subject_name:
        return parse_subject(tp.subject_name)
    host = config.hostname + (f".{config.domain_name}" if config.domain_name else "")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])


def _signing_key(store: KeyStore, tp: Trustpoint) -> SigningKey:
    label = key_label(tp, store)
    key = store.signing_key(label)
    if key is None:
        kind = store.kind_of(label) or "rsa"
        named = "" if label == DEFAULT_LABELS[KeyKind.RSA] else f" label {label}"
        raise TrustpointError(
            f"% Key pair {label} does not exist; generate it first "
            f"(crypto key generate {kind}{named})"
        )
    return key


def certificate_request(
    tp: Trustpoint, config: RunningConfig, store: KeyStore
) -> x509.CertificateSigningRequest:
    """The PKCS#10 request of ``crypto ca enroll`` for an ``enrollment terminal`` trustpoint."""
    key = _signing_key(store, tp)
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(tp, config))
    if tp.fqdn:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(tp.fqdn)]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def self_signed(
    tp: Trustpoint, config: RunningConfig, store: KeyStore, now: datetime
) -> x509.Certificate:
    """The identity certificate of an ``enrollment self`` trustpoint."""
    key = _signing_key(store, tp)
    subject = _subject(tp, config)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SELF_SIGNED_DAYS))
    )
    if tp.fqdn:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(tp.fqdn)]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def _base64_lines(der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    return "".join(text[i : i + 64] + "\n" for i in range(0, len(text), 64))


def _enroll_banner(tp: Trustpoint, config: RunningConfig) -> str:
    subject = _subject(tp, config).rfc4514_string()
    out = "% Start certificate enrollment ..\n"
    out += f"% The subject name in the certificate will be: {subject}\n\n"
    if tp.fqdn:
        out += f"% The fully-qualified domain name in the certificate will be: {tp.fqdn}\n\n"
    return out


def _request_text(tp: Trustpoint, config: RunningConfig, store: KeyStore) -> str:
    csr = certificate_request(tp, config, store)
    return (
        "Certificate Request follows:\n\n"
        + _base64_lines(csr.public_bytes(serialization.Encoding.DER))
        + "\n---End - This line not part of the certificate request---\n"
    )


def _enroll(
    store: KeyStore, config: RunningConfig, tp: Trustpoint, noconfirm: bool, now: datetime
) -> CaReply:
    if tp.enrollment == "self":
        cert = self_signed(tp, config, store, now)
        store.set_certificates(tp.name, TrustpointCertificates((), (cert,)))
        return CaReply(
            _enroll_banner(tp, config) + "Generate Self-Signed Certificate.\n", changed=True
        )
    if tp.enrollment == "url":
        raise TrustpointError("% SCEP enrollment (enrollment url) is not supported")
    if tp.enrollment != "terminal":
        raise TrustpointError(
            f"% Trustpoint {tp.name} has no enrollment method; configure 'enrollment terminal'"
        )
    if not store.certificates(tp.name).ca:
        raise TrustpointError(
            "% You must authenticate the Certificate Authority certificate before you can "
            f"enroll with the CA (crypto ca authenticate {tp.name})"
        )
    _signing_key(store, tp)  # refuse a missing key before asking anything
    banner = _enroll_banner(tp, config)
    if noconfirm:
        return CaReply(banner + _request_text(tp, config, store))
    question = banner + "Display Certificate Request to terminal? [yes/no]:"
    return CaReply(question, pending=Confirm(CaOperation.ENROLL, tp.name, question))


# --------------------------------------------------------------------------- the commands


_PASTE_PROMPTS = {
    CaOperation.AUTHENTICATE: "Enter the base 64 encoded CA certificate.",
    CaOperation.IMPORT_CERTIFICATE: "Enter the base 64 encoded certificate.",
    CaOperation.IMPORT_PKCS12: "Enter the base 64 encoded pkcs12.",
}


def _paste(operation: CaOperation) -> CaAction:
    def start(store: KeyStore, config: RunningConfig, args: Args, now: datetime) -> CaReply:
        name: str = args["tp"]
        _trustpoint(config, name)
        prompt = f'{_PASTE_PROMPTS[operation]}\nEnd with the word "quit" on a line by itself\n'
        interactive = "nointeractive" not in args
        passphrase: str | None = args.get("passphrase")
        return CaReply(prompt, pending=Paste(operation, name, interactive, passphrase))

    return start


def _enroll_command(store: KeyStore, config: RunningConfig, args: Args, now: datetime) -> CaReply:
    tp = _trustpoint(config, args["tp"])
    return _enroll(store, config, tp, "noconfirm" in args, now)


CaAction = Callable[[KeyStore, RunningConfig, Args, datetime], CaReply]

_GRAMMAR = ModeGrammar("crypto-ca")
_GRAMMAR.extend(
    [
        CommandSpec(
            "crypto ca authenticate WORD$tp [nointeractive]$nointeractive",
            _paste(CaOperation.AUTHENTICATE),
            "Paste the CA certificate of a trustpoint",
        ),
        CommandSpec(
            "crypto ca enroll WORD$tp [noconfirm]$noconfirm",
            _enroll_command,
            "Request a certificate for a trustpoint",
        ),
        CommandSpec(
            "crypto ca import WORD$tp certificate [nointeractive]$nointeractive",
            _paste(CaOperation.IMPORT_CERTIFICATE),
            "Paste the identity certificate of a trustpoint",
        ),
        CommandSpec(
            "crypto ca import WORD$tp pkcs12 WORD$passphrase [nointeractive]$nointeractive",
            _paste(CaOperation.IMPORT_PKCS12),
            "Paste a base-64 PKCS#12 bundle: key, certificate and CA",
        ),
    ]
)


def is_ca_command(line: str) -> bool:
    """``crypto ca authenticate|enroll|import …`` (words may be abbreviated)."""
    words = line.lower().split()
    return (
        len(words) >= 3
        and len(words[0]) >= 3
        and "crypto".startswith(words[0])
        and words[1] == "ca"
        and any(w.startswith(words[2]) for w in ("authenticate", "enroll", "import"))
        and len(words[2]) >= 2
    )


def execute_ca_command(store: KeyStore, config: RunningConfig, line: str, now: datetime) -> CaReply:
    """Run one ``crypto ca authenticate|enroll|import`` line; never raises for bad input."""
    text = line.strip()
    result = _GRAMMAR.match(text)
    if isinstance(result, Ambiguous):
        return CaReply(f'% Ambiguous command: "{text}"\n', ok=False)
    if isinstance(result, Incomplete):
        return CaReply("% Incomplete command\n", ok=False)
    if not isinstance(result, Match):
        return CaReply("% Invalid input detected at '^' marker.\n", ok=False)
    action: CaAction = result.command.action
    try:
        return action(store, config, result.args, now)
    except TrustpointError as exc:
        return CaReply(f"{exc}\n", ok=False)


def continue_ca_command(
    store: KeyStore, config: RunningConfig, pending: Pending, line: str, now: datetime
) -> CaReply:
    """The next line of a paste, or the answer to a question; never raises for bad input."""
    try:
        if isinstance(pending, Paste):
            if line.strip().lower() != END_OF_PASTE:
                lines = (*pending.lines, line.strip())
                return CaReply(pending=Paste(*_paste_fields(pending), lines=lines))
            return _pasted(store, config, pending, now)
        return _answered(store, config, pending, line, now)
    except TrustpointError as exc:
        return CaReply(f"{exc}\n", ok=False)


def _paste_fields(p: Paste) -> tuple[CaOperation, str, bool, str | None]:
    return p.operation, p.trustpoint, p.interactive, p.passphrase


def _read_certificates(lines: Sequence[str]) -> list[x509.Certificate]:
    if not any(lines):
        raise TrustpointError("% No certificate was pasted")
    try:
        return load_certificates("\n".join(lines).encode())
    except CertificateError as exc:
        raise TrustpointError(f"% Invalid certificate: {exc}") from None


def _pasted(store: KeyStore, config: RunningConfig, paste: Paste, now: datetime) -> CaReply:
    tp = _trustpoint(config, paste.trustpoint)
    if paste.operation is CaOperation.IMPORT_PKCS12:
        data = "\n".join(paste.lines).encode()
        if not data.strip():
            raise TrustpointError("% No PKCS12 data was pasted")
        cert = import_pkcs12(store, tp, data, paste.passphrase or "", now)
        return CaReply(
            f"{_summary(cert)}INFO: Import PKCS12 operation completed successfully\n",
            changed=True,
        )
    certs = _read_certificates(paste.lines)
    if paste.operation is CaOperation.IMPORT_CERTIFICATE:
        cert = import_certificate(store, tp, certs, now)
        return CaReply(f"{_summary(cert)}\n% Certificate successfully imported\n", changed=True)
    ca = check_ca_certificates(certs, now)
    # Check against a held identity certificate before asking anything.
    authenticate(_scratch(store, tp.name), tp.name, ca, now)
    attributes = "".join(_fingerprints(c) for c in ca)
    if not paste.interactive:
        authenticate(store, tp.name, ca, now)
        return CaReply(attributes + _ACCEPTED, changed=True)
    question = attributes + "Do you accept this certificate? [yes/no]:"
    return CaReply(question, pending=Confirm(CaOperation.AUTHENTICATE, tp.name, question, ca))


_ACCEPTED = "\nTrustpoint CA certificate accepted.\n"


def _scratch(store: KeyStore, trustpoint: str) -> KeyStore:
    """A store holding only ``trustpoint``'s certificates, to try an operation on."""
    scratch = KeyStore()
    scratch.set_certificates(trustpoint, store.certificates(trustpoint))
    return scratch


def _answered(
    store: KeyStore, config: RunningConfig, confirm: Confirm, line: str, now: datetime
) -> CaReply:
    answer = line.strip().lower()
    if answer not in ("y", "yes", "n", "no"):
        return CaReply(f"% Please answer 'yes' or 'no'.\n{confirm.question}", pending=confirm)
    yes = answer.startswith("y")
    if confirm.operation is CaOperation.ENROLL:
        if not yes:
            return CaReply("% Enrollment request not displayed\n")
        tp = _trustpoint(config, confirm.trustpoint)
        return CaReply(_request_text(tp, config, store))
    if not yes:
        return CaReply(
            "% Error in saving certificate: the certificate was not accepted\n", ok=False
        )
    _trustpoint(config, confirm.trustpoint)
    authenticate(store, confirm.trustpoint, confirm.certificates, now)
    return CaReply(_ACCEPTED, changed=True)


# --------------------------------------------------------------------------- show


def asa_time(when: datetime) -> str:
    """``14:22:43 UTC Jan 1 2024``."""
    when = when.astimezone(UTC)
    return f"{when:%H:%M:%S} UTC {when:%b} {when.day} {when.year}"


def _grouped(digest: bytes) -> str:
    hexed = digest.hex()
    return " ".join(hexed[i : i + 8] for i in range(0, len(hexed), 8))


def _fingerprints(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    md5 = hashlib.md5(der, usedforsecurity=False).digest()
    sha1 = hashlib.sha1(der, usedforsecurity=False).digest()
    return (
        "INFO: Certificate has the following attributes:\n"
        f"Fingerprint MD5: {_grouped(md5)}\n"
        f"Fingerprint SHA1: {_grouped(sha1)}\n"
    )


def _summary(cert: x509.Certificate) -> str:
    return (
        f"Subject: {cert.subject.rfc4514_string()}\n"
        f"Serial: {cert.serial_number:x}\n"
        f"Valid: {asa_time(cert.not_valid_before_utc)} to {asa_time(cert.not_valid_after_utc)}\n"
    )


def _name_lines(name: x509.Name) -> list[str]:
    out = []
    for rdn in reversed(name.rdns):
        for attribute in rdn:
            key, _, value = attribute.rfc4514_string().partition("=")
            out.append(f"    {key.lower()}={value}")
    return out


def _usage(cert: x509.Certificate) -> str:
    try:
        usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    except x509.ExtensionNotFound:
        return "General Purpose"
    if not isinstance(usage, x509.KeyUsage):
        return "General Purpose"
    signs = usage.digital_signature or usage.key_cert_sign or usage.crl_sign
    encrypts = usage.key_encipherment or usage.key_agreement or usage.data_encipherment
    if signs and encrypts:
        return "General Purpose"
    if encrypts:
        return "Encryption"
    return "Signature"


def _key_type(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA ({key.key_size} bits)"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA ({key.curve.key_size} bits)"
    return type(key).__name__


_ECDSA_SIGNATURE_ARC = "1.2.840.10045.4."  # ecdsa-with-SHA*


def _signature_algorithm(cert: x509.Certificate) -> str:
    digest = cert.signature_hash_algorithm
    name = digest.name.upper().replace("-", "") if digest is not None else "NONE"
    ecdsa = cert.signature_algorithm_oid.dotted_string.startswith(_ECDSA_SIGNATURE_ARC)
    scheme = "ECDSA" if ecdsa else "RSA Encryption"
    return f"{name} with {scheme}"


def _status(cert: x509.Certificate, now: datetime | None) -> str:
    if now is not None and now > cert.not_valid_after_utc:
        return "Expired"
    return "Available"


def _block(
    title: str, cert: x509.Certificate, trustpoints: Sequence[str], now: datetime | None
) -> str:
    lines = [
        title,
        f"  Status: {_status(cert, now)}",
        f"  Certificate Serial Number: {cert.serial_number:x}",
        f"  Certificate Usage: {_usage(cert)}",
        f"  Public Key Type: {_key_type(cert)}",
        f"  Signature Algorithm: {_signature_algorithm(cert)}",
        "  Issuer Name:",
        *_name_lines(cert.issuer),
        "  Subject Name:",
        *_name_lines(cert.subject),
        "  Validity Date:",
        f"    start date: {asa_time(cert.not_valid_before_utc)}",
        f"    end   date: {asa_time(cert.not_valid_after_utc)}",
        "  Storage: config",
        f"  Associated Trustpoints: {' '.join(trustpoints)}",
    ]
    return "\n".join(lines) + "\n\n"


def show_certificates(
    store: KeyStore, trustpoint: str | None = None, now: datetime | None = None
) -> str:
    """``show crypto ca certificates [TP]``: identity certificates, then CA certificates (a
    certificate held by several trustpoints once, with all of them)."""
    names = [trustpoint] if trustpoint is not None else store.trustpoints()
    identities: dict[bytes, tuple[str, x509.Certificate, list[str]]] = {}
    for name in names:
        held = store.certificates(name)
        for index, cert in enumerate(held.chain):
            title = "Certificate" if index == 0 else "CA Certificate"
            key = cert.fingerprint(hashes.SHA256())
            identities.setdefault(key, (title, cert, []))[2].append(name)
        for cert in held.ca:
            key = cert.fingerprint(hashes.SHA256())
            identities.setdefault(key, ("CA Certificate", cert, []))[2].append(name)
    ordered = sorted(identities.values(), key=lambda item: item[0] != "Certificate")
    return "".join(_block(title, cert, tps, now) for title, cert, tps in ordered)
