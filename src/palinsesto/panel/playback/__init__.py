"""What viewers' apps speak: line authentication, Xtream API, M3U, XMLTV, stream URLs."""
