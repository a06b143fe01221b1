"""Cases' requests and their lifecycle."""
