"""`state_storage` (Plano): stored Responses so that `previous_response_id` continues a conversation.

A stored record is the user's conversation: it is never logged, never written to the ledger, and carries
the privacy boundaries of the request that created it, which bind every continuation (`RequestGate.confine`).
"""

from __future__ import annotations

from plano_daemon.state_store.base import ResponseStore, StoredResponse, StoreUnavailable
from plano_daemon.state_store.conversations import Conversations, build_conversations

__all__ = ["Conversations", "ResponseStore", "StoreUnavailable", "StoredResponse", "build_conversations"]
