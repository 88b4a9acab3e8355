"""Tactic sources: offline heuristics, language models, learned priors; one sanitizer for all."""
