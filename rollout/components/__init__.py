"""Reusable Pulumi ComponentResources, the program that composes them, and its policy pack.

A user's own Pulumi program imports these; ``infra/`` is only the folder ``pulumi up`` runs.
"""
