"""Operator commands that work on Postgres and Kafka directly (orgs, dead letters, key rotation);
the commands that talk to a running gateway are in services/cli_client/."""
