"""The data plane: ffmpeg supervision, TS/HLS packaging in RAM, ingest, delivery, VOD files
and the catch-up archive. It imports only ``protocol``, ``config`` and the outbound policy:
never the database, the admin API or the viewers' surfaces (an import-linter contract)."""
