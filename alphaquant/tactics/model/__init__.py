"""Tactic candidates from a language model: the SDK sources, prompt, answer cache, priors."""
