"""Running searches: one goal, one file, a whole project; stores and reports."""
