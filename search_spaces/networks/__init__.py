"""Torch modules of the search spaces (the only place ``search_spaces`` imports torch)."""
