"""Dunning: the policy (policy.yml, policy.py) and the law it keeps (statutes.yml, law.py,
hours.py); the planner that turns marts.dunning_candidates into actions in dunning.ledger
(plan.py) with its payment-plan offers and their acceptance by reply file (plan_offers.py); what
each message says (messages, wording, compose) as e-mail, SMS or letter (mail, sms, letter); and
the sender that delivers each action exactly once (send.py, channels.py)."""
