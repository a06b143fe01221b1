"""Privacy of personal data in evidence (CETS224 Art 14): retention and onward transfer."""
