"""State shared between processes: change events (in-process or Redis) and the server registry."""
