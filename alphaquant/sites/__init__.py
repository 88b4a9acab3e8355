"""Open goals in source text: the GoalSite value (site.py), what both locators share (tokens.py),
the Coq locator (coq.py) and the Lean locator (lean.py). Import the module you need; nothing is
re-exported (goals.py dispatches by language)."""
