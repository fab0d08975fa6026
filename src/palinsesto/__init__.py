"""Palinsesto: an open-source, multi-tenant IPTV platform."""

__version__ = "0.1.0"
