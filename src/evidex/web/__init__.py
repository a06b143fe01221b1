"""The officers' web application: server-rendered pages (Jinja2 + HTMX) beside /api/v1, calling the
same domain services as the API. Mounted by `evidex serve` (web/site.py)."""
