"""Hand-written rules: the configured list, goal-aware candidates, automation, witnesses."""
