"""The dunning ladder, the ledger of intended messages and the outbox they are sent to."""
