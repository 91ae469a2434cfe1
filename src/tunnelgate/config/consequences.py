"""Cross-family rules of the spec: removing one thing removes what depended on it.

- "If you delete the only element in an ACL, the ASA also removes the associated crypto map."
- "If you clear or delete the only element in a transform set or proposal, the ASA
  automatically removes the crypto map references to it."
"""

from __future__ import annotations

from tunnelgate.config.model import RunningConfig


def acl_removed(config: RunningConfig, acl: str) -> list[str]:
    """The ACL ``acl`` lost its last entry: drop the map entries that match it."""
    messages: list[str] = []
    for kind, maps in (
        ("crypto map", config.crypto_maps),
        ("crypto dynamic-map", config.dynamic_maps),
    ):
        for name in list(maps):
            entries = maps[name]
            for seq in [s for s, e in entries.items() if e.match_address == acl]:
                del entries[seq]
                messages.append(f"{kind} {name} {seq} removed: access-list {acl} no longer exists")
            if not entries:
                del maps[name]
                for ifname in [i for i, m in config.crypto_map_interfaces.items() if m == name]:
                    if kind == "crypto map":
                        del config.crypto_map_interfaces[ifname]
    return messages


def transform_set_removed(config: RunningConfig, name: str) -> list[str]:
    """Transform set ``name`` is gone: remove the references to it."""
    messages: list[str] = []
    for maps, kind in (
        (config.crypto_maps, "crypto map"),
        (config.dynamic_maps, "crypto dynamic-map"),
    ):
        for map_name, entries in maps.items():
            for seq, entry in entries.items():
                if name in entry.ikev1_transform_sets:
                    entry.ikev1_transform_sets = [
                        t for t in entry.ikev1_transform_sets if t != name
                    ]
                    messages.append(
                        f"{kind} {map_name} {seq}: reference to transform-set {name} removed"
                    )
    return messages


def proposal_removed(config: RunningConfig, name: str) -> list[str]:
    """IPsec proposal ``name`` is gone or empty: remove the references to it."""
    messages: list[str] = []
    for maps, kind in (
        (config.crypto_maps, "crypto map"),
        (config.dynamic_maps, "crypto dynamic-map"),
    ):
        for map_name, entries in maps.items():
            for seq, entry in entries.items():
                if name in entry.ikev2_proposals:
                    entry.ikev2_proposals = [p for p in entry.ikev2_proposals if p != name]
                    messages.append(
                        f"{kind} {map_name} {seq}: reference to ipsec-proposal {name} removed"
                    )
    return messages
