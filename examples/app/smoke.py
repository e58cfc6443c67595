"""The example app's smoke test, written to run as an ``after_test_traffic`` hook.

It sends ``--requests`` GETs for one tenant through the cohort's test route: to the URL in
the environment variable ``--url-from`` names (opt it in with the hook's ``env``), with the
header and token rollout hands every hook while the route is open (``ROLLOUT_TEST_HEADER``,
``ROLLOUT_TEST_TOKEN``). Every answer must be a 200 from the release being rolled out
(``ROLLOUT_RELEASE``): the app says its version in each answer. Exit 0 passes, 1 fails;
the one line it prints ends up (redacted) in the ledger. Standard library only, so it
runs with any Python 3.11.

    hooks:
      after_test_traffic:
        - name: smoke
          command: "python examples/app/smoke.py --tenant aurora --url-from SMOKE_URL"
          env: [SMOKE_URL]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

TENANT_HEADER = "X-Tenant-Id"


def answer_version(url: str, headers: dict[str, str], timeout: float) -> str:
    """The version the app answered with, or why there is none."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(json.loads(response.read()).get("version"))
    except urllib.error.HTTPError as failed:
        return f"HTTP {failed.code}"
    except (OSError, ValueError) as failed:
        return type(failed).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="smoke-test the example app through the "
                                                 "test route")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--url-from", required=True, help="the variable holding the URL")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    url = os.environ.get(args.url_from)
    header, token = os.environ.get("ROLLOUT_TEST_HEADER"), os.environ.get("ROLLOUT_TEST_TOKEN")
    release = os.environ.get("ROLLOUT_RELEASE")
    if not url or not header or not token or not release:
        print(f"smoke: needs {args.url_from} and a rollout's test route (run it as an "
              "after_test_traffic hook)")
        return 1
    headers = {TENANT_HEADER: args.tenant, header: token}
    versions = [answer_version(url, headers, args.timeout) for _ in range(args.requests)]
    right = versions.count(release)
    print(f"smoke: {right}/{len(versions)} answers for {args.tenant} through the test route "
          f"came from {release}" + ("" if right == len(versions) else
                                    f"; the others: {sorted(set(versions) - {release})}"))
    return 0 if right == len(versions) else 1


if __name__ == "__main__":
    sys.exit(main())
