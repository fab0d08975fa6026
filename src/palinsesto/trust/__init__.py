"""Proof and accountability: the audit log."""
