"""Public key infrastructure: the device key store (``crypto key``)."""

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
    "UnsupportedKeySize",
    "execute_key_command",
]
