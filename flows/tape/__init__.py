"""The debt-sale data tape and its manifest."""
