"""Adapters: one module per outside system (HTTP, the state, Telegram, files)."""
