"""Notices to tenants (SNS, webhook), rendered from the release notes and the plan."""
