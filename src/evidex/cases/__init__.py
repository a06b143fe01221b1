"""Cases (the specific investigation or proceeding a request serves, ETS185 Art 25(1)) and the
service that opens them and drafts, checks, moves and reads their requests (service.py)."""
