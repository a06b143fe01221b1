"""evidex: cross-border co-operation on cybercrime and electronic evidence."""

__version__ = "0.1.0"
