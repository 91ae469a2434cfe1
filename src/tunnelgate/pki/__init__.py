"""Public key infrastructure: the device key store (``crypto key``), trustpoint certificates
(``crypto ca``, ``pki/trustpoints.py``) and the credentials built from them
(``pki/loading.py``)."""

from tunnelgate.pki.keystore import (
    ConfirmationRequired,
    KeyCommandError,
    KeyExists,
    KeyKind,
    KeyNotFound,
    KeyPair,
    KeyStore,
    KeyStoreError,
    KeyUsage,
    TrustpointCertificates,
    UnsupportedKeySize,
    execute_key_command,
)

__all__ = [
    "ConfirmationRequired",
    "KeyCommandError",
    "KeyExists",
    "KeyKind",
    "KeyNotFound",
    "KeyPair",
    "KeyStore",
    "KeyStoreError",
    "KeyUsage",
    "TrustpointCertificates",
    "UnsupportedKeySize",
    "execute_key_command",
]
