"""cbruntime: settings, JSON logs, metrics, the health endpoint, signals. No business logic."""

from .exceptions import RuntimeSetupError, SettingsError
from .http import HealthServer, health_app
from .logs import JsonFormatter, RedactSecrets, redact, setup_logging
from .metrics import CollectorRegistry, counter, gauge, histogram, new_registry, render
from .net import listen_socket
from .settings import ENV_PREFIX, Secret, env_tree, load_settings, merge
from .signals import run_until_signal, stop_on_signals
from .tasks import Service, running

__all__ = [
    "ENV_PREFIX",
    "CollectorRegistry",
    "HealthServer",
    "JsonFormatter",
    "RedactSecrets",
    "RuntimeSetupError",
    "Secret",
    "Service",
    "SettingsError",
    "counter",
    "env_tree",
    "gauge",
    "health_app",
    "histogram",
    "listen_socket",
    "load_settings",
    "merge",
    "new_registry",
    "redact",
    "render",
    "run_until_signal",
    "running",
    "setup_logging",
    "stop_on_signals",
]
