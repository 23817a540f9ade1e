"""Connections as a use case: the config a connection may be saved with, and the clients built from it."""
