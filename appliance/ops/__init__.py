"""Operator tools: dev, the local broker, diagnose, verify, test patterns."""
