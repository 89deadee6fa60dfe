"""Shared loading machinery: raw schema bookkeeping, locks, COPY helpers."""
