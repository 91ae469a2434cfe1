"""From the running configuration and the key store to the ``Credentials`` the engines read.

``credentials_for`` is pure: the caller passes the key store, the CRLs it fetched (bytes, by
trustpoint) and the time. ``CrlCache`` decides which CRL distribution points to fetch, with
the fetching itself injected (the daemon passes ``pki.crl.read_crl``).

Decisions:

- A configured trustpoint without any certificate is skipped silently (ASA configurations
  carry unused trustpoints); certificates stored for a trustpoint that is no longer
  configured are ignored with a warning.
- An identity certificate whose key pair is missing or different gives no local credential;
  an expired one is still offered (the peer decides) with a warning.
- CRLs: with ``revocation-check crl`` the trustpoint's ``crl configure`` policy picks the
  URLs: ``static`` the configured ``url``s in index order; ``cdp`` (the default) the CRL
  distribution points of the trustpoint's CA certificates and of its own identity chain
  (the identity certificate's points name the CA's CRL, which is what a root rarely
  carries); ``both`` the static URLs first, then the distribution points. Duplicates are
  fetched once. A fetched CRL is kept until its ``nextUpdate`` passes, so a
  reconfiguration only fetches what is new or stale; a failed fetch is retried at the next
  reconfiguration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from cryptography import x509

from tunnelgate.config.model import RunningConfig, Trustpoint
from tunnelgate.pki.certificates import CertificateError, key_matches
from tunnelgate.pki.credentials import Credentials, LocalCredential, TrustpointTrust
from tunnelgate.pki.crl import crl_urls, load_crl
from tunnelgate.pki.keystore import KeyStore, TrustpointCertificates
from tunnelgate.pki.trustpoints import key_label

__all__ = ["CrlCache", "credentials_for", "crl_sources"]

NO_CRLS: Mapping[str, Sequence[bytes]] = MappingProxyType({})


def credentials_for(
    config: RunningConfig,
    store: KeyStore,
    crls: Mapping[str, Sequence[bytes]] = NO_CRLS,
    *,
    now: datetime | None = None,
) -> tuple[Credentials, list[str]]:
    """Every configured trustpoint's trust and local credential, and warnings about the
    trustpoints that are incomplete. ``crls``: CRL bytes (DER or PEM) by trustpoint name."""
    now = now or datetime.now(UTC)
    local: dict[str, LocalCredential] = {}
    trust: dict[str, TrustpointTrust] = {}
    warnings: list[str] = []
    for name in store.trustpoints():
        if name not in config.trustpoints:
            warnings.append(f"trustpoint {name}: certificates stored but it is not configured")
    for name, tp in config.trustpoints.items():
        held = store.certificates(name)
        if not held:
            continue
        found = _trust(tp, held, crls.get(name, ()), now, warnings)
        if found is not None:
            trust[name] = found
        credential = _local(tp, held, store, now, warnings)
        if credential is not None:
            local[name] = credential
    return Credentials(local, trust), warnings


def _trust(
    tp: Trustpoint,
    held: TrustpointCertificates,
    crl_data: Sequence[bytes],
    now: datetime,
    warnings: list[str],
) -> TrustpointTrust | None:
    if not held.ca:
        if tp.enrollment != "self":
            warnings.append(
                f"trustpoint {tp.name}: no CA certificate (crypto ca authenticate {tp.name})"
            )
        return None
    for cert in held.ca:
        if now > cert.not_valid_after_utc:
            warnings.append(
                f"trustpoint {tp.name}: CA certificate {cert.subject.rfc4514_string()} has expired"
            )
    parsed: list[x509.CertificateRevocationList] = []
    for data in crl_data:
        try:
            parsed.append(load_crl(data))
        except (CertificateError, ValueError) as exc:
            warnings.append(f"trustpoint {tp.name}: unreadable CRL ignored: {exc}")
    if "crl" in tp.revocation_check and not parsed:
        warnings.append(f"trustpoint {tp.name}: revocation-check crl but no CRL is available")
    return TrustpointTrust(tp.name, held.ca, tuple(tp.revocation_check), tuple(parsed))


def _local(
    tp: Trustpoint,
    held: TrustpointCertificates,
    store: KeyStore,
    now: datetime,
    warnings: list[str],
) -> LocalCredential | None:
    identity = held.identity
    if identity is None:
        return None
    label = key_label(tp, store)
    key = store.signing_key(label)
    if key is None:
        warnings.append(f"trustpoint {tp.name}: key pair {label} is missing")
        return None
    if not key_matches(identity, key):
        warnings.append(
            f"trustpoint {tp.name}: the identity certificate does not match key pair {label}"
        )
        return None
    if now > identity.not_valid_after_utc:
        warnings.append(f"trustpoint {tp.name}: the identity certificate has expired")
    elif now < identity.not_valid_before_utc:
        warnings.append(f"trustpoint {tp.name}: the identity certificate is not yet valid")
    return LocalCredential(tp.name, key, held.chain)


# --------------------------------------------------------------------------- CRLs


# ``crl configure`` / ``policy``: whether the static URLs and the certificates' distribution
# points are used, in that order
_POLICY_SOURCES: Mapping[str, tuple[bool, bool]] = MappingProxyType(
    {"static": (True, False), "cdp": (False, True), "both": (True, True)}
)


def crl_sources(config: RunningConfig, store: KeyStore) -> dict[str, list[str]]:
    """The CRL URLs to fetch, by trustpoint (``revocation-check crl`` only), in the order
    of the trustpoint's CRL policy; trustpoints with none are left out."""
    sources: dict[str, list[str]] = {}
    for name, tp in config.trustpoints.items():
        if "crl" not in tp.revocation_check:
            continue
        static, cdp = _POLICY_SOURCES[tp.crl_policy]
        urls = [url for _, url in sorted(tp.crl_urls.items())] if static else []
        if cdp:
            held = store.certificates(name)
            urls.extend(url for cert in (*held.ca, *held.chain) for url in crl_urls(cert))
        if urls:
            sources[name] = list(dict.fromkeys(urls))
    return sources


@dataclass(frozen=True, slots=True)
class _Fetched:
    data: bytes
    next_update: datetime | None


class CrlCache:
    """The CRLs fetched so far, by URL; ``fetch(url)`` returns the bytes or raises."""

    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self._fetch = fetch
        self._fetched: dict[str, _Fetched] = {}

    def refresh(
        self, config: RunningConfig, store: KeyStore, now: datetime
    ) -> tuple[dict[str, list[bytes]], list[str]]:
        """CRL bytes by trustpoint, fetching what is missing or stale; failure messages."""
        errors: list[str] = []
        crls: dict[str, list[bytes]] = {}
        for name, urls in crl_sources(config, store).items():
            for url in urls:
                fetched = self._fetched.get(url)
                if fetched is None or (
                    fetched.next_update is not None and now > fetched.next_update
                ):
                    try:
                        fetched = self._get(url)
                    except Exception as exc:  # any fetch failure is reported, never fatal
                        errors.append(f"trustpoint {name}: CRL {url} not fetched: {exc}")
                if fetched is not None:
                    crls.setdefault(name, []).append(fetched.data)
        return crls, errors

    def _get(self, url: str) -> _Fetched:
        data = self._fetch(url)
        crl = load_crl(data)
        fetched = _Fetched(data, crl.next_update_utc)
        self._fetched[url] = fetched
        return fetched
