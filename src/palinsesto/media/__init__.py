"""The live engine: ffmpeg supervision, TS/HLS packaging in RAM, ingest and delivery."""
