"""Running the day: the stage cache, the run log and summary, back-fills, the doctor and the demo."""
