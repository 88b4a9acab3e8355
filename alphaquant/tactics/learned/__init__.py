"""Tactics learned from finished proofs: the corpus, its features, the nearest-state index,
and the source that suggests what was done at the most similar recorded states."""
