"""Realtime input (contract section 9): DDP, E1.31 and Art-Net receivers feeding the live layer."""
