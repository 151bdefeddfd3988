"""The embedding model: one interface, the packaged MiniLM behind it, loaded offline."""
