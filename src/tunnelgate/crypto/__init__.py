"""Cryptographic algorithms for IKE and ESP: the registry and its implementations.

Everything runs on pyca/cryptography (gmpy2, when present, only speeds up MODP
exponentiation). Nothing here reads the clock or a random source: keys, IVs and nonces
come from the caller.
"""
