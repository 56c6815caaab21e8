"""Run tierd as a service: render, install and ask about its systemd unit or launchd plist."""

from .install import (
    InstallResult,
    ServicePlan,
    ServiceStatus,
    UninstallResult,
    detect_manager,
    install_service,
    plan_service,
    service_status,
    uninstall_service,
)
from .render import ServiceError, ServicePaths

__all__ = [
    "InstallResult", "ServiceError", "ServicePaths", "ServicePlan", "ServiceStatus",
    "UninstallResult", "detect_manager", "install_service", "plan_service", "service_status",
    "uninstall_service",
]
