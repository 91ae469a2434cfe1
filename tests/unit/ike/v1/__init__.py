"""IKEv1 / ISAKMP codec tests."""
