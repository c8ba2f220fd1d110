"""Hosted backends: the shared job protocol (submit, poll, download) and one module per API."""
