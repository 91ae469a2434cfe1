"""Strength order of every negotiable algorithm, most secure first (ASA keywords).

The ASA stores and shows IKEv2 policy and IPsec-proposal lists in this order and offers
them in it (spec: "The ASA orders the settings from the most secure to the least secure
and negotiates with the peer using that order"). ``config`` validates and orders
configuration with these tables; ``policy`` negotiates with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# IKEv1 policy (spec: "IKE Policy Keywords and Values")
IKEV1_ENCRYPTION = ("aes-256", "aes-192", "aes", "3des", "des")
IKEV1_HASH = ("sha", "md5")
IKEV1_GROUPS = (5, 2, 1)

# IKEv2 policy
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

# IKEv2 IPsec proposals
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

# The integrity keyword that means "no integrity transform" (AEAD ciphers carry their own)
NULL_INTEGRITY = "null"


def by_strength(values: Iterable[object], order: Sequence[object]) -> list[object]:
    """Deduplicate ``values`` and order them as in ``order`` (most secure first)."""
    rank = {v: i for i, v in enumerate(order)}
    return sorted(set(values), key=lambda v: rank[v])


def select_cipher(
    offered_encryption: Sequence[str],
    offered_integrity: Sequence[str],
    own_encryption: Sequence[str],
    own_integrity: Sequence[str],
    aead: frozenset[str],
) -> tuple[str, str] | None:
    """The (encryption, integrity) pair taken from one offer, in the offer's order.

    The first offered encryption we also allow wins if an integrity goes with it: an AEAD
    cipher takes no integrity transform (``null``); any other takes the first offered
    integrity we also allow, ``null`` only when neither side lists another one.
    """
    for encryption in offered_encryption:
        if encryption not in own_encryption:
            continue
        if encryption in aead:
            return encryption, NULL_INTEGRITY
        own = _integrity_for_cipher(own_integrity)
        for integrity in _integrity_for_cipher(offered_integrity):
            if integrity in own:
                return encryption, integrity
    return None


def _integrity_for_cipher(values: Sequence[str]) -> tuple[str, ...]:
    """The integrity values that can go with a non-AEAD cipher."""
    real = tuple(v for v in values if v != NULL_INTEGRITY)
    return real or (NULL_INTEGRITY,)
