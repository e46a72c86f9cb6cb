"""The budget, pacing and frequency ledger (SPEC §14): see store.py for the scripts, rules.py for the arithmetic."""

from campaigns.ledger.rules import CampaignLedger, Claims, LedgerSettings, impression_cost
from campaigns.ledger.store import Ledger, ledger_settings, limited

__all__ = ["CampaignLedger", "Claims", "Ledger", "LedgerSettings", "impression_cost", "ledger_settings", "limited"]
