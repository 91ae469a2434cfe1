"""strongSwan proposal strings (``aes256-sha256-modp2048``, ``aes256gcm16``) as ASA keywords.

A small table per algorithm kind; ``ike_proposal`` and ``esp_proposal`` parse one proposal
(tokens joined by ``-``, as in swanctl.conf) and return what the ASA configuration needs.
Unknown tokens, and algorithms the chosen IKE version cannot configure, raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.crypto.registry import Kind, keywords

#: IKE encryption: strongSwan token -> ASA ``crypto ikev2 policy`` keyword.
IKE_ENCRYPTION = {
    "aes128": "aes",
    "aes": "aes",
    "aes192": "aes-192",
    "aes256": "aes-256",
    "aes128gcm16": "aes-gcm",
    "aes192gcm16": "aes-gcm-192",
    "aes256gcm16": "aes-gcm-256",
    "3des": "3des",
    "des": "des",
}
#: The AEAD ciphers (no integrity transform; the PRF must be named or is sha256).
IKE_AEAD = frozenset({"aes-gcm", "aes-gcm-192", "aes-gcm-256"})
#: IKE integrity (and PRF, with a ``prf`` prefix) -> ASA keyword.
IKE_INTEGRITY = {
    "sha1": "sha",
    "sha": "sha",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "md5": "md5",
}
#: Key exchange methods -> IANA group numbers.
GROUP_NUMBERS = {
    "modp768": 1,
    "modp1024": 2,
    "modp1536": 5,
    "modp2048": 14,
    "modp3072": 15,
    "modp4096": 16,
    "modp2048s256": 24,
    "ecp256": 19,
    "ecp384": 20,
    "ecp521": 21,
    "curve25519": 31,
    "x25519": 31,
}
#: Groups the crypto registry offers for IKEv2 (``crypto ikev2 policy`` / ``set pfs``).
ASA_IKEV2_GROUPS = frozenset(int(k) for k in keywords(Kind.IKEV2_GROUP))
#: ESP encryption -> ASA ``protocol esp encryption`` keyword (IKEv2 proposals).
ESP_ENCRYPTION = {
    "aes128": "aes",
    "aes": "aes",
    "aes192": "aes-192",
    "aes256": "aes-256",
    "aes128gcm16": "aes-gcm",
    "aes192gcm16": "aes-gcm-192",
    "aes256gcm16": "aes-gcm-256",
    "aes128gmac": "aes-gmac",
    "aes192gmac": "aes-gmac-192",
    "aes256gmac": "aes-gmac-256",
    "3des": "3des",
    "des": "des",
    "null": "null",
}
ESP_AEAD = frozenset(
    {"aes-gcm", "aes-gcm-192", "aes-gcm-256", "aes-gmac", "aes-gmac-192", "aes-gmac-256"}
)
#: ESP integrity -> ASA ``protocol esp integrity`` keyword.
ESP_INTEGRITY = {
    "sha1": "sha-1",
    "sha": "sha-1",
    "sha256": "sha-256",
    "sha384": "sha-384",
    "sha512": "sha-512",
    "md5": "md5",
}
#: IKEv1 (``crypto ikev1 policy``, transform sets) has fewer choices.
IKEV1_ENCRYPTION = {"aes-256", "aes-192", "aes", "3des", "des"}
IKEV1_HASH = {"sha", "md5"}
IKEV1_GROUPS = {1, 2, 5}
ESP_V1_ENCRYPTION = {
    "aes-256": "esp-aes-256",
    "aes-192": "esp-aes-192",
    "aes": "esp-aes",
    "3des": "esp-3des",
    "des": "esp-des",
    "null": "esp-null",
}
ESP_V1_INTEGRITY = {"sha-1": "esp-sha-hmac", "md5": "esp-md5-hmac"}
#: Tokens that change nothing here (extended sequence numbers are not negotiated).
IGNORED = frozenset({"noesn"})


@dataclass(frozen=True, slots=True)
class IkeProposal:
    """One IKE proposal in ASA keywords (lists in the order written)."""

    text: str
    encryption: tuple[str, ...]
    integrity: tuple[str, ...]
    prf: tuple[str, ...]
    groups: tuple[int, ...]

    def ikev2_policy(self, priority: int = 10) -> str:
        """The ``crypto ikev2 policy`` block."""
        lines = [f"crypto ikev2 policy {priority}"]
        lines.append(" encryption " + " ".join(self.encryption))
        lines.append(" integrity " + " ".join(self.integrity or ("null",)))
        lines.append(" group " + " ".join(str(g) for g in self.groups))
        lines.append(" prf " + " ".join(self.prf))
        return "\n".join(lines) + "\n"

    def ikev1_policies(self, first_priority: int = 10, authentication: str = "pre-share") -> str:
        """One ``crypto ikev1 policy`` per combination (IKEv1 policies hold one of each),
        authenticating with ``authentication`` (``pre-share`` or ``rsa-sig``)."""
        problems = [e for e in self.encryption if e not in IKEV1_ENCRYPTION]
        problems += [i for i in self.integrity if i not in IKEV1_HASH]
        problems += [f"group {g}" for g in self.groups if g not in IKEV1_GROUPS]
        if problems:
            raise ValueError(
                f"{self.text}: IKEv1 cannot use {', '.join(problems)} "
                "(IKEv1 policies: aes/aes-192/aes-256/3des/des, sha1/md5, modp768/1024/1536)"
            )
        blocks, priority = [], first_priority
        for encryption in self.encryption:
            for hash_ in self.integrity:
                for group in self.groups:
                    blocks.append(
                        f"crypto ikev1 policy {priority}\n authentication {authentication}\n"
                        f" encryption {encryption}\n hash {hash_}\n group {group}\n"
                    )
                    priority += 10
        return "".join(blocks)


@dataclass(frozen=True, slots=True)
class EspProposal:
    """One ESP proposal in ASA keywords; ``pfs_group`` when a group is named."""

    text: str
    encryption: tuple[str, ...]
    integrity: tuple[str, ...]
    pfs_group: int | None

    def ikev2_proposal(self, name: str) -> str:
        """The ``crypto ipsec ikev2 ipsec-proposal`` block."""
        return (
            f"crypto ipsec ikev2 ipsec-proposal {name}\n"
            f" protocol esp encryption {' '.join(self.encryption)}\n"
            f" protocol esp integrity {' '.join(self.integrity or ('null',))}\n"
        )

    def ikev1_transform_set(self, name: str) -> str:
        """The ``crypto ipsec ikev1 transform-set`` line (one cipher, one integrity)."""
        enc = [ESP_V1_ENCRYPTION.get(e) for e in self.encryption]
        integ = [ESP_V1_INTEGRITY.get(i) for i in self.integrity] or ["esp-none"]
        if len(enc) != 1 or len(integ) != 1 or enc[0] is None or integ[0] is None:
            raise ValueError(
                f"{self.text}: an IKEv1 transform set takes one non-AEAD cipher and one of "
                "sha1/md5 (e.g. aes256-sha1)"
            )
        return f"crypto ipsec ikev1 transform-set {name} {enc[0]} {integ[0]}\n"


def _tokens(text: str) -> list[str]:
    tokens = [t for t in text.strip().lower().split("-") if t and t not in IGNORED]
    if not tokens:
        raise ValueError("empty proposal")
    return tokens


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def ike_proposal(text: str) -> IkeProposal:
    """Parse an IKE proposal: ``aes256-sha256-modp2048``, ``aes256gcm16-prfsha384-ecp384``."""
    encryption: list[str] = []
    integrity: list[str] = []
    prf: list[str] = []
    groups: list[int] = []
    for token in _tokens(text):
        if token in IKE_ENCRYPTION:
            encryption.append(IKE_ENCRYPTION[token])
        elif token in IKE_INTEGRITY:
            integrity.append(IKE_INTEGRITY[token])
        elif token.startswith("prf") and token[3:] in IKE_INTEGRITY:
            prf.append(IKE_INTEGRITY[token[3:]])
        elif token in GROUP_NUMBERS:
            number = GROUP_NUMBERS[token]
            if number not in ASA_IKEV2_GROUPS:
                raise ValueError(
                    f"{text}: the crypto registry has no IKE group {number} ({token}) yet"
                )
            groups.append(number)
        else:
            raise ValueError(f"{text}: unknown IKE algorithm {token!r}")
    if not encryption or not groups:
        raise ValueError(f"{text}: an IKE proposal needs an encryption and a group")
    aead = [e for e in encryption if e in IKE_AEAD]
    if aead and len(aead) != len(encryption):
        raise ValueError(f"{text}: AEAD and non-AEAD ciphers cannot share one proposal")
    if aead and integrity:
        raise ValueError(f"{text}: an AEAD cipher takes no integrity algorithm (use prfXXX)")
    if not aead and not integrity:
        raise ValueError(f"{text}: a non-AEAD cipher needs an integrity algorithm")
    prf = prf or integrity or ["sha256"]  # strongSwan: the PRF follows the integrity algorithm
    return IkeProposal(text, _unique(encryption), _unique(integrity), _unique(prf), tuple(groups))


def esp_proposal(text: str) -> EspProposal:
    """Parse an ESP proposal such as ``aes256gcm16`` or ``aes256-sha256`` (``-modp2048``: PFS)."""
    encryption: list[str] = []
    integrity: list[str] = []
    groups: list[int] = []
    for token in _tokens(text):
        if token in ESP_ENCRYPTION:
            encryption.append(ESP_ENCRYPTION[token])
        elif token in ESP_INTEGRITY:
            integrity.append(ESP_INTEGRITY[token])
        elif token in GROUP_NUMBERS:
            groups.append(GROUP_NUMBERS[token])
        elif token == "esn":
            raise ValueError(f"{text}: extended sequence numbers are not supported")
        else:
            raise ValueError(f"{text}: unknown ESP algorithm {token!r}")
    if not encryption:
        raise ValueError(f"{text}: an ESP proposal needs an encryption algorithm")
    aead = [e for e in encryption if e in ESP_AEAD]
    if aead and len(aead) != len(encryption):
        raise ValueError(f"{text}: AEAD and non-AEAD ciphers cannot share one proposal")
    if aead and integrity:
        raise ValueError(f"{text}: an AEAD cipher takes no integrity algorithm")
    if not aead and not integrity:
        raise ValueError(f"{text}: a non-AEAD cipher needs an integrity algorithm")
    if len(groups) > 1:
        raise ValueError(f"{text}: one PFS group at most")
    if groups and groups[0] not in ASA_IKEV2_GROUPS:
        raise ValueError(f"{text}: group {groups[0]} cannot be set as PFS group")
    return EspProposal(text, _unique(encryption), _unique(integrity), groups[0] if groups else None)
