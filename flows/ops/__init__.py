"""Running the day: the stage cache, the run log and summary, the daily report, back-fills, the
doctor and the demo."""
