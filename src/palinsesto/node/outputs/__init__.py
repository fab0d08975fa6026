"""What a running channel offers viewers: continuous MPEG-TS and HLS, both from RAM."""
