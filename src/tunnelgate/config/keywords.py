"""ASA keyword tables: allowed values, defaults and strength order (most secure first).

The same tables drive the grammar, validation, canonical ordering and the docs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# IKEv1 policy (spec: "IKE Policy Keywords and Values")
IKEV1_AUTHENTICATION = ("pre-share", "rsa-sig")
IKEV1_ENCRYPTION = ("aes-256", "aes-192", "aes", "3des", "des")
IKEV1_HASH = ("sha", "md5")
IKEV1_GROUPS = (5, 2, 1)

# IKEv2 policy, strongest first
IKEV2_ENCRYPTION = (
    "aes-gcm-256",
    "aes-gcm-192",
    "aes-gcm",
    "aes-256",
    "aes-192",
    "aes",
    "3des",
    "des",
    "null",
)
IKEV2_AEAD = frozenset({"aes-gcm", "aes-gcm-192", "aes-gcm-256"})
IKEV2_INTEGRITY = ("sha512", "sha384", "sha256", "sha", "md5", "null")
IKEV2_PRF = ("sha512", "sha384", "sha256", "sha", "md5")
IKEV2_GROUPS = (21, 20, 19, 16, 15, 24, 14, 5, 2, 1)

# IKEv1 transform sets
ESP_V1_ENCRYPTION = ("esp-aes-256", "esp-aes-192", "esp-aes", "esp-3des", "esp-des", "esp-null")
ESP_V1_INTEGRITY = ("esp-sha-hmac", "esp-md5-hmac", "esp-none")

# IKEv2 IPsec proposals, strongest first
ESP_V2_ENCRYPTION = (
    "aes-gcm-256",
    "aes-gcm-192",
    "aes-gcm",
    "aes-gmac-256",
    "aes-gmac-192",
    "aes-gmac",
    "aes-256",
    "aes-192",
    "aes",
    "3des",
    "des",
    "null",
)
ESP_V2_AEAD = frozenset(
    {"aes-gcm", "aes-gcm-192", "aes-gcm-256", "aes-gmac", "aes-gmac-192", "aes-gmac-256"}
)
ESP_V2_INTEGRITY = ("sha-512", "sha-384", "sha-256", "sha-1", "md5", "null")

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


def by_strength(values: Iterable[object], order: Sequence[object]) -> list[object]:
    """Deduplicate ``values`` and order them as in ``order`` (most secure first)."""
    rank = {v: i for i, v in enumerate(order)}
    return sorted(set(values), key=lambda v: rank[v])
