"""The end-to-end tier with a real Home Assistant (scripts/test-ha-e2e)."""
