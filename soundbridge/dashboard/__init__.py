"""The graph-exploration dashboard: ``soundbridge serve`` (see :mod:`soundbridge.dashboard.app`)."""

from soundbridge.dashboard.app import EDGE_TYPES, LOOPBACK_HOSTS, create_app

__all__ = ["EDGE_TYPES", "LOOPBACK_HOSTS", "create_app"]
