"""Tactic sources in three families (model/, rules/, learned/), mixed as one; one sanitizer."""
