"""CLI configuration modes and their prompts, as on the ASA.

A mode nested in a sub-mode (``crl configure`` inside ``crypto ca trustpoint``) names its
``parent``: ``exit`` returns there, and a line that is no command of the nested mode is tried
in the parent before global configuration. A nested mode's key is its parent's key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mode:
    """A configuration mode; ``prompt`` is what the ASA shows in parentheses."""

    name: str
    prompt: str
    parent: Mode | None = None  # the sub-mode this one is nested in; None: global config

    def prompt_for(self, hostname: str) -> str:
        return f"{hostname}({self.prompt})#"


CONFIG = Mode("config", "config")
IKEV1_POLICY = Mode("ikev1-policy", "config-ikev1-policy")
IKEV2_POLICY = Mode("ikev2-policy", "config-ikev2-policy")
IPSEC_PROPOSAL = Mode("ipsec-proposal", "config-ipsec-proposal")
TUNNEL_GENERAL = Mode("tunnel-general", "config-tunnel-general")
TUNNEL_IPSEC = Mode("tunnel-ipsec", "config-tunnel-ipsec")
INTERFACE = Mode("interface", "config-if")
NETWORK_OBJECT = Mode("network-object", "config-network-object")
NETWORK_OBJECT_GROUP = Mode("network-object-group", "config-network-object-group")
CA_CERT_MAP = Mode("ca-cert-map", "config-ca-cert-map")
CA_TRUSTPOINT = Mode("ca-trustpoint", "config-ca-trustpoint")
CA_CRL = Mode("ca-crl", "config-ca-crl", parent=CA_TRUSTPOINT)

ALL_MODES: tuple[Mode, ...] = (
    CONFIG,
    IKEV1_POLICY,
    IKEV2_POLICY,
    IPSEC_PROPOSAL,
    TUNNEL_GENERAL,
    TUNNEL_IPSEC,
    INTERFACE,
    NETWORK_OBJECT,
    NETWORK_OBJECT_GROUP,
    CA_CERT_MAP,
    CA_TRUSTPOINT,
    CA_CRL,
)
