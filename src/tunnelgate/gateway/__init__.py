"""The gateway: the sans-IO composition of policy, IKE and ESP, and what it shows."""
