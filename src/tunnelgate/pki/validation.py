"""Validating a peer's certificate chain against the trustpoints (``crypto ca trustpoint``).

``verify_peer`` builds a path from the peer's end-entity certificate through the
certificates it sent (any order, junk ignored) to a CA certificate of a trustpoint, and
returns ``Verified`` or ``Rejected(reason)`` — a value, never an exception, for any input.

Decisions:

- The path logic is ours, on ``verify_directly_issued_by`` (issuer name + signature) — pyca's
  ``x509.verification`` applies web-PKI rules (SAN and EKU required, key sizes, no CRLs)
  that an IPsec gateway must not.
- Every certificate of the path, the trust anchor included, must be valid at ``now``. Every
  issuer must carry basicConstraints CA=true (a self-signed X.509 v1 anchor is exempt),
  respect its pathLenConstraint and, when it has keyUsage, allow keyCertSign. The
  end-entity keyUsage, when present, must allow digitalSignature or nonRepudiation
  (RFC 4945 §5.1.3.2).
- Revocation follows the anchoring trustpoint's ``revocation-check`` methods in order: ``crl``
  needs a CRL from ``crls`` of that issuer, correctly signed and not past its next update,
  for every link below the anchor; a revoked serial rejects at once; with no usable CRL
  the next method is tried, and ``none`` accepts. ``ocsp`` is not implemented and counts
  as unavailable. No methods configured: no revocation check (the ASA default).
- Trustpoints are tried in the order given (``trustpoints``) or of ``credentials.trust``; the
  first one that validates names ``Verified.trustpoint``. When all fail, the most specific
  reason wins over "issuer … is not a trusted CA of any trustpoint".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from tunnelgate.pki.certificates import certificate_info, name_text
from tunnelgate.pki.credentials import Credentials, TrustpointTrust
from tunnelgate.policy.tunnel_group_lookup import CertificateInfo

_E = TypeVar("_E", bound=x509.ExtensionType)

MAX_PATH = 8  # certificates in a path, anchor included


@dataclass(frozen=True, slots=True)
class Verified:
    """The peer's certificate chains to ``trustpoint``; ``info`` feeds tunnel-group-map."""

    certificate: x509.Certificate
    trustpoint: str
    info: CertificateInfo


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


class _PathError(Exception):
    """One candidate path failed; ``specific`` ranks it above 'no trusted issuer'."""

    def __init__(self, reason: str, *, specific: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.specific = specific


def verify_peer(
    chain: Sequence[x509.Certificate],
    credentials: Credentials,
    now: datetime,
    trustpoints: Sequence[str] | None = None,
) -> Verified | Rejected:
    """Validate ``chain`` (end-entity certificate first) against the trustpoints."""
    if not chain:
        return Rejected("the peer sent no certificate")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    leaf = chain[0]
    try:
        _check_validity(leaf, now)
        _check_leaf_key_usage(leaf)
    except _PathError as exc:
        return Rejected(exc.reason)
    names = list(trustpoints) if trustpoints is not None else list(credentials.trust)
    trusts = [credentials.trust[n] for n in names if n in credentials.trust]
    if not any(t.ca_certificates for t in trusts):
        return Rejected("no trustpoint has a CA certificate to validate the peer with")
    intermediates = [c for c in chain[1:] if c != leaf]
    failures: list[_PathError] = []
    for trust in trusts:
        try:
            _validate(leaf, intermediates, trust, now)
        except _PathError as exc:
            failures.append(exc)
            continue
        return Verified(leaf, trust.trustpoint, certificate_info(leaf))
    specific = [f for f in failures if f.specific]
    return Rejected((specific or failures)[0].reason)


# --------------------------------------------------------------------------- path building


def _validate(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    trust: TrustpointTrust,
    now: datetime,
) -> None:
    failures: list[_PathError] = []
    for path in _paths(leaf, intermediates, trust.ca_certificates, failures):
        try:
            _check_path(path, now)
            _check_revocation(path, trust, now)
        except _PathError as exc:
            failures.append(exc)
            continue
        return
    specific = [f for f in failures if f.specific]
    if specific:
        raise specific[0]
    top = failures[0].reason if failures else ""
    raise _PathError(top or "no path to a trusted CA", specific=False)


def _paths(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    failures: list[_PathError],
) -> list[list[x509.Certificate]]:
    """Every candidate path leaf → … → anchor whose links verify (signature and names);
    link failures are appended to ``failures``."""
    found: list[list[x509.Certificate]] = []

    def extend(path: list[x509.Certificate]) -> None:
        current = path[-1]
        for anchor in anchors:
            if anchor.subject == current.issuer and _link(current, anchor, failures):
                found.append([*path, anchor])
        if len(path) + 1 >= MAX_PATH:
            return
        for candidate in intermediates:
            if candidate in path or candidate in anchors:
                continue
            if candidate.subject == current.issuer and _link(current, candidate, failures):
                extend([*path, candidate])

    extend([leaf])
    if not found and not failures:
        # report the issuer of the deepest certificate we could chain to
        top = leaf
        seen = [leaf]
        while True:
            parents = [c for c in intermediates if c.subject == top.issuer and c not in seen]
            if not parents:
                break
            top = parents[0]
            seen.append(top)
        failures.append(
            _PathError(
                f"issuer {name_text(top.issuer)} is not a trusted CA of any trustpoint",
                specific=False,
            )
        )
    return found


def _link(child: x509.Certificate, issuer: x509.Certificate, failures: list[_PathError]) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        failures.append(
            _PathError(
                f"signature of {name_text(child.subject)} does not verify with "
                f"{name_text(issuer.subject)}"
            )
        )
        return False
    return True


def _check_path(path: list[x509.Certificate], now: datetime) -> None:
    for position, cert in enumerate(path):
        _check_validity(cert, now)
        if position == 0:
            continue
        anchor_v1 = (
            position == len(path) - 1
            and cert.version == x509.Version.v1
            and cert.subject == cert.issuer
        )
        if anchor_v1:
            continue
        constraints = _extension(cert, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise _PathError(f"issuer {name_text(cert.subject)} is not a CA (basicConstraints)")
        below = position - 1  # CA certificates between this one and the end entity
        if constraints.path_length is not None and below > constraints.path_length:
            raise _PathError(
                f"path length constraint of {name_text(cert.subject)} "
                f"({constraints.path_length}) is exceeded"
            )
        usage = _extension(cert, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            raise _PathError(
                f"key usage of {name_text(cert.subject)} does not allow certificate signing"
            )


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise _PathError(
            f"certificate {name_text(cert.subject)} is not yet valid until "
            f"{_time(cert.not_valid_before_utc)}"
        )
    if now > cert.not_valid_after_utc:
        raise _PathError(
            f"certificate {name_text(cert.subject)} expired on {_time(cert.not_valid_after_utc)}"
        )


def _check_leaf_key_usage(leaf: x509.Certificate) -> None:
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise _PathError(
            f"certificate {name_text(leaf.subject)}: key usage does not allow digital signatures"
        )


# --------------------------------------------------------------------------- revocation


def _check_revocation(path: list[x509.Certificate], trust: TrustpointTrust, now: datetime) -> None:
    methods = trust.revocation_check
    if not methods:
        return
    for child, issuer in itertools.pairwise(path):
        unavailable = ""
        for method in methods:
            if method == "none":
                unavailable = ""
                break
            if method == "crl":
                status = _crl_status(child, issuer, trust.crls, now)
                if status is None:
                    unavailable = ""
                    break
                unavailable = status
            else:
                unavailable = f"revocation check {method} is not supported"
        if unavailable:
            raise _PathError(unavailable)


def _crl_status(
    child: x509.Certificate,
    issuer: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime,
) -> str | None:
    """None when a current CRL of ``issuer`` does not list ``child``; raises when it does;
    otherwise why no CRL could be used."""
    for crl in crls:
        if crl.issuer != issuer.subject:
            continue
        try:
            if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
        except (TypeError, ValueError, UnsupportedAlgorithm):
            continue
        next_update = crl.next_update_utc
        if next_update is not None and now > next_update:
            continue
        if crl.last_update_utc > now:
            continue
        if crl.get_revoked_certificate_by_serial_number(child.serial_number) is not None:
            raise _PathError(
                f"certificate serial 0x{child.serial_number:X} is revoked "
                f"(CRL of {name_text(issuer.subject)})"
            )
        return None
    return f"no current CRL for {name_text(issuer.subject)}"


# --------------------------------------------------------------------------- helpers


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return None


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
