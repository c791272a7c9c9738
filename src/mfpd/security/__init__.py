"""Security: TLS material (and, later, the IP gate, users and the audit log)."""
