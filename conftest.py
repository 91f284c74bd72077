"""Suite-wide test settings (the Redis fixtures come from cbstreams.pytest_plugin)."""

import os

from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (the machine may be busy), and in CI a fixed seed
# so that a failure is reproducible from the log.
settings.register_profile("default", deadline=None)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")
