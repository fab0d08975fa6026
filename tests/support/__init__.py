"""Test support: real databases and real servers on ephemeral ports."""
