"""Messaging plumbing: the Kafka broker and topics, the consumer guard, the dead-letter topic, the status publisher and the worker app."""
