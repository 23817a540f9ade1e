"""One module per outbound platform; each exposes its config model, client and factory entry."""
