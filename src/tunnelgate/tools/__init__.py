"""Offline tools over compiled configurations: packet-tracer and the peer analyzer."""
