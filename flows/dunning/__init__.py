"""The dunning ladder, the ledger of intended messages and the outbox they are sent to, and what
each message says (messages, wording) as e-mail, SMS or letter (mail, sms, letter)."""
