"""Who may do what: JWT access tokens, roles and their permissions, revocation."""
