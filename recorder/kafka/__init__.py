"""Kafka plumbing shared by the services: client factories and the dead-letter topic."""
