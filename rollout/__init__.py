"""Tenant-aware blue/green rollouts for SaaS providers on AWS."""

__version__ = "0.1.0"
