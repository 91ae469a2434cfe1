"""ASA keyword tables: allowed values, defaults and strength order (most secure first).

The same tables drive the grammar, validation, canonical ordering and the docs.
"""

from __future__ import annotations

from collections.abc import Iterable

from tunnelgate.policy.strength import (
    ESP_V1_ENCRYPTION,
    ESP_V1_INTEGRITY,
    ESP_V2_AEAD,
    ESP_V2_ENCRYPTION,
    ESP_V2_INTEGRITY,
    IKEV1_ENCRYPTION,
    IKEV1_GROUPS,
    IKEV1_HASH,
    IKEV2_AEAD,
    IKEV2_ENCRYPTION,
    IKEV2_GROUPS,
    IKEV2_INTEGRITY,
    IKEV2_PRF,
    by_strength,
)

# IKEv1 policy (spec: "IKE Policy Keywords and Values"); the strength-order tables above
# live in ``policy/strength.py`` so that negotiation uses the same data.
IKEV1_AUTHENTICATION = ("pre-share", "rsa-sig")

# set pfs: every group the spec names for crypto maps (group7 is gone from current ASAs)
PFS_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)
PFS_GROUPS_IKEV1 = (1, 2, 5)
PFS_DEFAULT_GROUP = 2
# Spec, "Define Crypto Maps": set pfs "prevents you from configuring group14 and group24
# options for a cryptography map (when using an IKEv1 policy)"; its own example then sets
# group15 on a map with IKEv1 transform sets, so only these two are refused.
PFS_GROUPS_REFUSED_WITH_IKEV1 = (14, 24)


def alternatives(words: Iterable[object]) -> str:
    """``{a|b|c}`` for a grammar string."""
    return "{" + "|".join(str(w) for w in words) + "}"


__all__ = [
    "ESP_V1_ENCRYPTION",
    "ESP_V1_INTEGRITY",
    "ESP_V2_AEAD",
    "ESP_V2_ENCRYPTION",
    "ESP_V2_INTEGRITY",
    "IKEV1_AUTHENTICATION",
    "IKEV1_ENCRYPTION",
    "IKEV1_GROUPS",
    "IKEV1_HASH",
    "IKEV2_AEAD",
    "IKEV2_ENCRYPTION",
    "IKEV2_GROUPS",
    "IKEV2_INTEGRITY",
    "IKEV2_PRF",
    "PFS_DEFAULT_GROUP",
    "PFS_GROUPS",
    "PFS_GROUPS_IKEV1",
    "PFS_GROUPS_REFUSED_WITH_IKEV1",
    "alternatives",
    "by_strength",
]
