"""Cross-family rules of the spec: removing one thing removes what depended on it.

- "If you delete the only element in an ACL, the ASA also removes the associated crypto map."
- "If you clear or delete the only element in a transform set or proposal, the ASA
  automatically removes the crypto map references to it."
- ``set tfc-packets`` needs an IKEv2 proposal: it goes with an entry's last proposal.
"""

from __future__ import annotations

from tunnelgate.config.model import CryptoMapEntry, RunningConfig


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
                if kind != "crypto map":
                    continue
                for ifname in [i for i, m in config.crypto_map_interfaces.items() if m == name]:
                    del config.crypto_map_interfaces[ifname]
                    messages.append(
                        f"crypto map {name} has no entries left and is removed from "
                        f"interface {ifname}"
                    )
    return messages


TFC_REMOVED = "set tfc-packets removed: it needs an IKEv2 ipsec-proposal"


def drop_tfc_without_proposals(entry: CryptoMapEntry) -> bool:
    """Remove ``set tfc-packets`` from an entry left without IKEv2 proposals.

    The command is refused without a proposal, so the line could not load back either.
    """
    if entry.tfc_packets is None or entry.ikev2_proposals:
        return False
    entry.tfc_packets = None
    return True


def _remove_references(config: RunningConfig, attr: str, name: str, what: str) -> list[str]:
    """Drop ``name`` from the ``attr`` list of every crypto map and dynamic-map entry."""
    messages: list[str] = []
    for maps, kind in (
        (config.crypto_maps, "crypto map"),
        (config.dynamic_maps, "crypto dynamic-map"),
    ):
        for map_name, entries in maps.items():
            for seq, entry in entries.items():
                names: list[str] = getattr(entry, attr)
                if name in names:
                    setattr(entry, attr, [n for n in names if n != name])
                    messages.append(f"{kind} {map_name} {seq}: reference to {what} {name} removed")
                    if drop_tfc_without_proposals(entry):
                        messages.append(f"{kind} {map_name} {seq}: {TFC_REMOVED}")
    return messages


def transform_set_removed(config: RunningConfig, name: str) -> list[str]:
    """Transform set ``name`` is gone: remove the references to it."""
    return _remove_references(config, "ikev1_transform_sets", name, "transform-set")


def proposal_removed(config: RunningConfig, name: str) -> list[str]:
    """IPsec proposal ``name`` is gone or empty: remove the references to it."""
    return _remove_references(config, "ikev2_proposals", name, "ipsec-proposal")
