"""State shared between processes, in process (all-in-one) or in Redis (several panel
replicas): change events, session slots (cluster-wide connection limits), node leases and
channel placement, and the server registry."""
