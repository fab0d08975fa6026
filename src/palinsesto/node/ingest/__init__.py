"""Push ingest: RTMP (one port, per-channel keys) and SRT (per-channel passphrase)."""
