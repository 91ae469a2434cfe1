"""What a gateway authenticates with and trusts, as a value the IKE engines read.

``Credentials`` is built once per configuration (from the running configuration's
trustpoints and the key store) and handed to the engines inside ``GatewayPolicy``; the
engines never read files. Certificates are pyca/cryptography objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class LocalCredential:
    """Our identity certificate for one trustpoint: the private key (from the trustpoint's
    ``keypair``) and the chain we send, identity certificate first."""

    trustpoint: str
    private_key: SigningKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


@dataclass(frozen=True, slots=True)
class TrustpointTrust:
    """The CA certificates one trustpoint trusts (``crypto ca authenticate``) and how it
    checks revocation: ``revocation_check`` in the order tried (``crl``, ``none``);
    ``crls`` are the revocation lists already fetched for it."""

    trustpoint: str
    ca_certificates: tuple[x509.Certificate, ...]
    revocation_check: tuple[str, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()


@dataclass(frozen=True, slots=True)
class Credentials:
    """Every trustpoint's local credential and trust, by trustpoint name."""

    local: dict[str, LocalCredential] = field(default_factory=dict)
    trust: dict[str, TrustpointTrust] = field(default_factory=dict)

    def local_for(self, trustpoint: str | None) -> LocalCredential | None:
        return None if trustpoint is None else self.local.get(trustpoint)

    def __bool__(self) -> bool:
        return bool(self.local or self.trust)


NO_CREDENTIALS = Credentials()
