"""What the panel and its nodes agree on, and nothing else: channel assignments and the
sources and profiles they name, signed play tokens, registrations, heartbeats and session
reports. Pure data and pure functions: both sides import it, it imports neither."""
