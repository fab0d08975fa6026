"""The all-in-one server's own node: a :class:`~palinsesto.node.host.ChannelHost` whose
viewers are admitted by this process's database (line credentials in stream URLs), as
``palinsesto serve`` has always done. Remote nodes (``palinsesto node``) check signed play
tokens instead and never see the database."""
