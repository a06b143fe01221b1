"""Users, roles, the node's own Party and the principal acting in every service call."""
