"""Phase-1 identities (RFC 2407 §4.6.2; spec ``crypto isakmp identity``).

With pre-shared keys the ASA identifies itself by its address (``address``, and ``auto``
for PSK) in main mode; in aggressive mode it sends what ``crypto isakmp identity`` says
(``local_identity``: the FQDN for ``hostname``, ID_KEY_ID for ``key-id``). Phase-1 ID
payloads carry protocol UDP and port 500 (allowed by RFC 2407 §4.6.2, as Cisco sends them)
and may carry 0/0 (as charon sends them). The received identity must be well formed; an
address identity must be the peer's address when ``peer-id-validate req`` (the default) is
configured and no NAT is in the way.
"""

from __future__ import annotations

import ipaddress

from tunnelgate.ike.v1.constants import IdType, NotifyMessageType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.payloads import IdPayload
from tunnelgate.policy.gateway import GatewayPolicy

UDP = 17
IKE_PORT = 500
_TEXT_TYPES = (IdType.ID_FQDN, IdType.ID_USER_FQDN, IdType.ID_KEY_ID)


def own_identity(address: str) -> IdPayload:
    """Our IDii / IDir: ID_IPV4_ADDR of the interface address, UDP/500."""
    return IdPayload(IdType.ID_IPV4_ADDR, ipaddress.IPv4Address(address).packed, UDP, IKE_PORT)


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
    """The identity as text; ``Phase1Error(INVALID-ID-INFORMATION)`` when it is malformed or
    (validated) an address other than the peer's."""
    if (identity.protocol, identity.port) not in ((0, 0), (UDP, IKE_PORT), (UDP, 0)):
        raise _invalid(f"identity protocol {identity.protocol} port {identity.port}")
    if identity.id_type == IdType.ID_IPV4_ADDR:
        if len(identity.data) != 4:
            raise _invalid(f"ID_IPV4_ADDR of {len(identity.data)} octets")
        text = str(ipaddress.IPv4Address(identity.data))
        if validate and not behind_nat and text != peer_address:
            raise _invalid(f"identity {text} is not the peer address {peer_address}")
        return text
    if identity.id_type in _TEXT_TYPES and identity.data:
        try:
            return identity.data.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid("identity is not ASCII text") from None
    raise _invalid(f"identity type {identity.id_type} with pre-shared keys")


def _invalid(reason: str) -> Phase1Error:
    return Phase1Error(NotifyMessageType.INVALID_ID_INFORMATION, reason)


__all__ = ["check_peer_identity", "id_body", "local_identity", "own_identity"]
