"""The REST API (FastAPI) under /api/v1. It calls the services; never the other way round."""
