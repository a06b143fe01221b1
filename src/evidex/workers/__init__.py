"""Background work: the deadline watcher (in the server process by default, or `evidex worker`)."""
