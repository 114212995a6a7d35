"""Contracts shared by the web front door and the workers: requests, records, job payloads."""
