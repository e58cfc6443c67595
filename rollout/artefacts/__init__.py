"""The artefact store: publish, verify, retain and restore releases.

A release lives under ``s3://<artefact bucket>/releases/<app>/<version>/``: its
files and a ``manifest.json`` (sha256, size and S3 version id of each file, the
release notes and who published it). Rollback later means redeploying a version
from here, so nothing in this package ever deletes a version still in use.
"""
