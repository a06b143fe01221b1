"""Federation between Party nodes: identities, trust list, envelopes (later: outbox, receipts)."""
