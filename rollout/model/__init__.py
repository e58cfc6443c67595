"""Pydantic models for every file a user writes and every record the ledger keeps."""
