"""Shared test configuration.

Fixtures that start real servers live in ``tests/_servers.py``; they fail (not skip)
under ``CI=true`` when the Debian package they need is missing.
"""

pytest_plugins = ["tests._servers", "tests._mosquitto", "tests._indiserver"]
