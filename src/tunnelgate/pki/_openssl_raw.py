"""The one operation pyca/cryptography does not expose: RSA PKCS#1 v1.5 signing *without* a
DigestInfo (IKEv1 RSA signatures, RFC 2409 §5.1; strongSwan ``SIGN_RSA_EMSA_PKCS1_NULL``).

pyca refuses ``sign(data, PKCS1v15(), None)``, so this calls the system OpenSSL libcrypto
through ctypes: ``EVP_PKEY_sign`` with ``RSA_PKCS1_PADDING`` and no digest set, which pads
the input with block type 1 and applies the private key. pyca's wheel links OpenSSL
statically, so the shared ``libcrypto.so.3`` is a separate copy of the same code; nothing
here implements any part of RSA itself. Verification needs no helper:
``recover_data_from_signature(sig, PKCS1v15(), None)`` does it in pyca.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_PKCS1_PADDING = 1


class RawRsaUnavailable(Exception):
    """libcrypto could not be loaded or refused the operation."""


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    names = [ctypes.util.find_library("crypto"), "libcrypto.so.3", "libcrypto.3.dylib"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            _declare(lib)
        except AttributeError:
            continue  # an OpenSSL 1.x libcrypto lacks EVP_PKEY_CTX_set_rsa_padding
        return lib
    raise RawRsaUnavailable(
        "IKEv1 RSA signatures need OpenSSL 3 libcrypto (libcrypto.so.3), which was not found"
    )


def _declare(lib: ctypes.CDLL) -> None:
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.d2i_AutoPrivateKey.restype = vp
    lib.d2i_AutoPrivateKey.argtypes = [vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
    lib.EVP_PKEY_free.restype = None
    lib.EVP_PKEY_free.argtypes = [vp]
    lib.EVP_PKEY_CTX_new.restype = vp
    lib.EVP_PKEY_CTX_new.argtypes = [vp, vp]
    lib.EVP_PKEY_CTX_free.restype = None
    lib.EVP_PKEY_CTX_free.argtypes = [vp]
    lib.EVP_PKEY_sign_init.restype = ctypes.c_int
    lib.EVP_PKEY_sign_init.argtypes = [vp]
    lib.EVP_PKEY_CTX_set_rsa_padding.restype = ctypes.c_int
    lib.EVP_PKEY_CTX_set_rsa_padding.argtypes = [vp, ctypes.c_int]
    lib.EVP_PKEY_sign.restype = ctypes.c_int
    lib.EVP_PKEY_sign.argtypes = [vp, vp, ctypes.POINTER(sz), ctypes.c_char_p, sz]


def rsa_sign_pkcs1_no_digest(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """PKCS#1 v1.5 type-1 signature of ``data`` as is (no hash, no DigestInfo)."""
    if len(data) > key.key_size // 8 - 11:
        raise RawRsaUnavailable(
            f"{len(data)} octets are too long to sign with a {key.key_size}-bit RSA key"
        )
    lib = _libcrypto()
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pointer = ctypes.c_char_p(der)
    pkey = lib.d2i_AutoPrivateKey(None, ctypes.byref(pointer), len(der))
    if not pkey:
        raise RawRsaUnavailable("libcrypto could not read the RSA private key")
    ctx = None
    try:
        ctx = lib.EVP_PKEY_CTX_new(pkey, None)
        if not ctx:
            raise RawRsaUnavailable("libcrypto could not create a signing context")
        if lib.EVP_PKEY_sign_init(ctx) != 1:
            raise RawRsaUnavailable("libcrypto refused to initialise RSA signing")
        if lib.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0:
            raise RawRsaUnavailable("libcrypto refused PKCS#1 v1.5 padding")
        length = ctypes.c_size_t(0)
        if lib.EVP_PKEY_sign(ctx, None, ctypes.byref(length), data, len(data)) != 1:
            raise RawRsaUnavailable("libcrypto could not size the RSA signature")
        out = ctypes.create_string_buffer(length.value)
        if lib.EVP_PKEY_sign(ctx, out, ctypes.byref(length), data, len(data)) != 1:
            raise RawRsaUnavailable("libcrypto failed to sign with the RSA key")
        return out.raw[: length.value]
    finally:
        if ctx:
            lib.EVP_PKEY_CTX_free(ctx)
        lib.EVP_PKEY_free(pkey)
