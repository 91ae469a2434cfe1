"""The userspace ESP data plane (RFC 4303): packet transform, SAs, replay window.

Sans-IO: functions take bytes, keys and IVs from the caller and return bytes; no socket,
clock or random source is used here.
"""
