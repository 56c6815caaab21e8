"""Costs: the ledger of every call, budgets over it, and the price table."""
