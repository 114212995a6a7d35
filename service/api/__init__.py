"""The HTTP API, one module per API family."""
