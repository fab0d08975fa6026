"""One module per resource of the admin REST API."""
