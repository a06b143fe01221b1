"""Demo data and the demo partner node, for `evidex demo` (data.py: users of every role and requests in
every state; evidence.py: an evidence package arrived from a partner node; federation.py: two real
nodes exchanging requests, `evidex demo --federation`). No domain package imports this package."""
