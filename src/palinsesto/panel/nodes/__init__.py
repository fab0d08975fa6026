"""The panel's side of streaming nodes: their API, placement of channels, admission by 302."""
