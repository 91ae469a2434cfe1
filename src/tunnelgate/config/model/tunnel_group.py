"""Tunnel groups, the tunnel-group map, certificate maps and trustpoints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Secret:
    """A pre-shared key as configured. Its value never appears in ``repr`` or logs.

    ``encoding``: None for a plain key (``0`` is read as plain), ``"hex"`` for a key
    given in hexadecimal (kept as lower-case digits without ``0x``), ``"8"`` for a key
    encrypted with the master passphrase (kept verbatim, unusable without it).
    """

    value: str = field(repr=False)
    encoding: str | None = None

    def __str__(self) -> str:
        return repr(self)

    def material(self) -> bytes | None:
        """The key bytes IKE uses; None for an encrypted (``8``) key."""
        if self.encoding == "hex":
            return bytes.fromhex(self.value)
        if self.encoding == "8":
            return None
        return self.value.encode()


@dataclass(slots=True)
class Keepalive:
    """``isakmp keepalive [threshold N retry M | disable]`` (DPD)."""

    enabled: bool = True
    threshold_seconds: int = 10
    retry_seconds: int = 2


@dataclass(slots=True)
class IpsecAttributes:
    """``tunnel-group NAME ipsec-attributes`` sub-mode."""

    ikev1_pre_shared_key: Secret | None = None
    ikev1_trust_point: str | None = None
    ikev2_local_pre_shared_key: Secret | None = None
    ikev2_local_certificate: str | None = None  # trustpoint name
    ikev2_remote_pre_shared_key: Secret | None = None
    ikev2_remote_certificate: bool = False
    peer_id_validate: str = "req"  # req | cert | nocheck
    keepalive: Keepalive = field(default_factory=Keepalive)


@dataclass(slots=True)
class TunnelGroup:
    """``tunnel-group NAME type …`` and its attribute sub-modes."""

    name: str
    type: str  # ipsec-l2l | remote-access
    default_group_policy: str | None = None  # general-attributes
    ipsec: IpsecAttributes = field(default_factory=IpsecAttributes)


@dataclass(slots=True)
class CertificateMatch:
    """One rule line of ``crypto ca certificate map NAME SEQ``."""

    field_name: str  # subject-name | issuer-name
    attribute: str | None  # e.g. cn, ou, o; None: the whole DN
    operator: str  # eq | ne | co | nc
    value: str


@dataclass(slots=True)
class TunnelGroupMap:
    """``tunnel-group-map`` policies, default group and rule associations.

    ``enabled`` is kept in the canonical order rules, ou, ike-id, peer-ip.
    """

    enabled: list[str] = field(default_factory=lambda: ["ou", "ike-id", "peer-ip"])
    default_group: str | None = None
    default_group_rule_index: int | None = None  # ``tunnel-group-map N default-group G``
    rules: dict[tuple[str, int], str] = field(default_factory=dict)  # (map, index) -> group


@dataclass(slots=True)
class Trustpoint:
    """``crypto ca trustpoint NAME`` (the PKI itself is a later layer)."""

    name: str
    enrollment: str | None = None  # terminal | self | url
    enrollment_url: str | None = None  # when enrollment == "url"
    keypair: str | None = None
    subject_name: str | None = None
    fqdn: str | None = None
    revocation_check: list[str] = field(default_factory=list)  # in the order given
    # ``crl configure`` sub-mode: where CRLs come from (static | cdp | both; ASA default cdp)
    # and the static URLs by index 1-5 (kept in index order)
    crl_policy: str = "cdp"
    crl_urls: dict[int, str] = field(default_factory=dict)
