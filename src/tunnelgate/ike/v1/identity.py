"""Phase-1 identities (RFC 2407 §4.6.2; spec ``crypto isakmp identity``).

With pre-shared keys the ASA identifies itself by its address (``address``, and ``auto``
for PSK) in main mode; in aggressive mode it sends what ``crypto isakmp identity`` says
(``local_identity``: the FQDN for ``hostname``, ID_KEY_ID for ``key-id``). Phase-1 ID
payloads carry protocol UDP and port 500 (allowed by RFC 2407 §4.6.2, as Cisco sends them)
and may carry 0/0 (as charon sends them). The received identity must be well formed; an
address identity must be the peer's address when ``peer-id-validate req`` (the default) is
configured and no NAT is in the way.

With certificates (``rsa-sig``) our identity comes from the identity certificate per
``crypto isakmp identity`` (``auto``: the subject DN as ID_DER_ASN1_DN; the decision is
``pki.certificates.ike_identity``) and the peer's is checked against its certificate per the
tunnel group's ``peer-id-validate``: ``req`` — the ID must be one the certificate holds;
``cert`` — only when the certificate holds an identity of that kind; ``nocheck`` — never.
A failed check is INVALID-ID-INFORMATION.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509

from tunnelgate.ike.v1.constants import IdType, NotifyMessageType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.payloads import IdPayload
from tunnelgate.pki.certificates import carries_identity_kind, ike_identity, matches_identity
from tunnelgate.policy.gateway import GatewayPolicy

UDP = 17
IKE_PORT = 500
_TEXT_TYPES = (IdType.ID_FQDN, IdType.ID_USER_FQDN, IdType.ID_KEY_ID)
_ADDRESS_OCTETS: dict[int, int] = {IdType.ID_IPV4_ADDR: 4, IdType.ID_IPV6_ADDR: 16}


def own_identity(address: str) -> IdPayload:
    """Our IDii / IDir: ID_IPV4_ADDR or ID_IPV6_ADDR (RFC 2407 §4.6.2.1, types 1 and 5) of
    the SA's local address, UDP/500."""
    packed = ipaddress.ip_address(address).packed
    id_type = IdType.ID_IPV6_ADDR if len(packed) == 16 else IdType.ID_IPV4_ADDR
    return IdPayload(id_type, packed, UDP, IKE_PORT)


def local_identity(gateway: GatewayPolicy, address: str) -> IdPayload:
    """Our aggressive-mode IDii / IDir per ``crypto isakmp identity`` (``auto``: the address
    with pre-shared keys)."""
    if gateway.identity == "hostname":
        fqdn = gateway.hostname
        if gateway.domain_name:
            fqdn = f"{fqdn}.{gateway.domain_name}"
        return IdPayload(IdType.ID_FQDN, fqdn.encode("ascii"), UDP, IKE_PORT)
    if gateway.identity == "key-id" and gateway.identity_key_id:
        return IdPayload(IdType.ID_KEY_ID, gateway.identity_key_id.encode("ascii"), UDP, IKE_PORT)
    return own_identity(address)


def id_body(identity: IdPayload) -> bytes:
    """IDii_b / IDir_b: the ID payload less its generic header (RFC 2409 §5)."""
    return bytes([int(identity.id_type), identity.protocol]) + (
        identity.port.to_bytes(2, "big") + identity.data
    )


def check_peer_identity(
    identity: IdPayload, peer_address: str, *, validate: bool, behind_nat: bool
) -> str:
    """The identity as text (an IPv6 address in RFC 5952 form);
    ``Phase1Error(INVALID-ID-INFORMATION)`` when it is malformed or (validated) an address
    other than the peer's (of either family: an IPv4 ID from an IPv6 peer is another address)."""
    if (identity.protocol, identity.port) not in ((0, 0), (UDP, IKE_PORT), (UDP, 0)):
        raise _invalid(f"identity protocol {identity.protocol} port {identity.port}")
    size = _ADDRESS_OCTETS.get(int(identity.id_type))
    if size is not None:
        if len(identity.data) != size:
            name = IdType(identity.id_type).name
            raise _invalid(f"{name} of {len(identity.data)} octets")
        address = ipaddress.ip_address(identity.data)
        text = str(address)
        if validate and not behind_nat and not _same_address(address, peer_address):
            raise _invalid(f"identity {text} is not the peer address {peer_address}")
        return text
    if identity.id_type in _TEXT_TYPES and identity.data:
        try:
            return identity.data.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid("identity is not ASCII text") from None
    raise _invalid(f"identity type {identity.id_type} with pre-shared keys")


# the identity kinds of ``pki.certificates`` and their ID types (RFC 2407 §4.6.2.1)
ID_TYPE_OF_KIND: dict[str, IdType] = {
    "ipv4": IdType.ID_IPV4_ADDR,
    "ipv6": IdType.ID_IPV6_ADDR,
    "fqdn": IdType.ID_FQDN,
    "user-fqdn": IdType.ID_USER_FQDN,
    "der-asn1-dn": IdType.ID_DER_ASN1_DN,
    "key-id": IdType.ID_KEY_ID,
}
KIND_OF_ID_TYPE = {v: k for k, v in ID_TYPE_OF_KIND.items()}
_ADDRESS_SIZES = {IdType.ID_IPV4_ADDR: 4, IdType.ID_IPV6_ADDR: 16}


def certificate_identity(
    gateway: GatewayPolicy, certificate: x509.Certificate, address: str
) -> IdPayload:
    """Our IDii / IDir when we sign with ``certificate`` (``crypto isakmp identity``)."""
    kind, data = ike_identity(certificate, gateway.identity, address)
    raw = data.encode("ascii") if isinstance(data, str) else bytes(data)
    return IdPayload(ID_TYPE_OF_KIND[kind], raw, UDP, IKE_PORT)


def identity_text(identity: IdPayload, certificate: x509.Certificate | None = None) -> str:
    """A received identity as text for logs and group lookup (a DN as the certificate's
    subject when it is that DN)."""
    kind = KIND_OF_ID_TYPE.get(IdType(identity.id_type)) if _registered(identity) else None
    if kind in ("ipv4", "ipv6"):
        return str(ipaddress.ip_address(identity.data))
    if kind == "der-asn1-dn":
        if certificate is not None and identity.data == certificate.subject.public_bytes():
            return certificate.subject.rfc4514_string()
        return f"a DN of {len(identity.data)} octets"
    return identity.data.decode("ascii", errors="replace")


def _registered(identity: IdPayload) -> bool:
    return identity.id_type in IdType._value2member_map_


def check_certificate_identity(
    identity: IdPayload, certificate: x509.Certificate, peer_id_validate: str
) -> str:
    """The peer's identity as text; ``Phase1Error(INVALID-ID-INFORMATION)`` when it is
    malformed, a kind we do not read, or (per ``peer-id-validate``) not the certificate's."""
    if (identity.protocol, identity.port) not in ((0, 0), (UDP, IKE_PORT), (UDP, 0)):
        raise _invalid(f"identity protocol {identity.protocol} port {identity.port}")
    kind = KIND_OF_ID_TYPE.get(IdType(identity.id_type)) if _registered(identity) else None
    if kind is None:
        raise _invalid(f"identity type {identity.id_type} with certificates")
    size = _ADDRESS_SIZES.get(IdType(identity.id_type))
    if (size is not None and len(identity.data) != size) or not identity.data:
        raise _invalid(f"{IdType(identity.id_type).name} of {len(identity.data)} octets")
    if kind not in ("ipv4", "ipv6", "der-asn1-dn"):
        try:
            identity.data.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid("identity is not ASCII text") from None
    text = identity_text(identity, certificate)
    check = peer_id_validate == "req" or (
        peer_id_validate == "cert" and carries_identity_kind(certificate, kind)
    )
    if check and not matches_identity(certificate, kind, identity.data):
        raise _invalid(
            f"identity {text} is not in the certificate of "
            f"{certificate.subject.rfc4514_string()} (peer-id-validate {peer_id_validate})"
        )
    return text


def _same_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, peer: str) -> bool:
    try:
        return address == ipaddress.ip_address(peer)
    except ValueError:
        return False


def _invalid(reason: str) -> Phase1Error:
    return Phase1Error(NotifyMessageType.INVALID_ID_INFORMATION, reason)


__all__ = [
    "ID_TYPE_OF_KIND",
    "KIND_OF_ID_TYPE",
    "certificate_identity",
    "check_certificate_identity",
    "check_peer_identity",
    "id_body",
    "identity_text",
    "local_identity",
    "own_identity",
]
