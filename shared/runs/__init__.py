"""Runs as a concept: their statuses, and (next) the one place that changes their state."""
