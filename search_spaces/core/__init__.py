"""The bottom floor's shared vocabulary: errors, statuses, trial records, atomic writers, the
space and benchmark protocols, the space registry and the cell helper every study uses.

Nothing here imports torch, Ray or any space: each space folder builds on it.
"""
