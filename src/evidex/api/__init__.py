"""The REST API (FastAPI) under /api/v1. It calls the domain services; never the other way round."""
