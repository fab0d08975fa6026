"""The control plane's admin surfaces: the REST API, live figures and the web panel mount."""
