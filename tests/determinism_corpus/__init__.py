"""Buggy/fixed workflow pairs, one per class of nondeterminism the kit must catch."""
