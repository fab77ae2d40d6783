"""Settings, errors, the object store, the warehouse connection, process setup and failure alerts:
what every stage uses."""
