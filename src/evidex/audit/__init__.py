"""Append-only, hash-chained audit log (CETS224 Art 14(8): records of processing and access)."""
