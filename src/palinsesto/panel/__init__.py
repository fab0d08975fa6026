"""The control plane: the admin API and web panel, the viewers' surfaces (Xtream API,
playlists, guide), admission, and the registry of the nodes it places channels on."""
