"""Evidence: streamed productions, hashes, encryption at rest, storage (later: custody, CASE/UCO)."""
