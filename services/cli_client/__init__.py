"""`activator` commands for users of a running system: they talk to the gateway over HTTP."""
