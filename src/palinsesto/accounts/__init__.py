"""Tenants, admin users, resellers and their credits, lines, sign-in throttling."""
