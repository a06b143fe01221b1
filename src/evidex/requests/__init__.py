"""Requests: their records (models.py) and their lifecycle as data (lifecycle.py, data/lifecycle.yaml).
The service that works with them is evidex.cases.service."""
