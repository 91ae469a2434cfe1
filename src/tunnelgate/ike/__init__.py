"""IKE: the key-exchange protocols (``v2``: RFC 7296)."""
