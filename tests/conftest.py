"""Shared test configuration.

Fixtures that start real servers live in ``tests/_servers.py``; they fail (not skip)
under ``CI=true`` when the Debian package they need is missing.

Property tests draw new examples on every run here, which is how they find bugs; under
``CI=true`` they draw the same examples every time, so that a landing does not
depend on luck. A failure they find locally becomes an explicit test.
"""

import os

from hypothesis import settings

pytest_plugins = ["tests._servers", "tests._mosquitto", "tests._indiserver"]

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
