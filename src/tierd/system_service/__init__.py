"""Run tierd as a service: render, install and ask about its systemd unit or launchd plist."""

from tierd.system_service.install import (
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
from tierd.system_service.render import ServiceError, ServicePaths

__all__ = [
    "InstallResult", "ServiceError", "ServicePaths", "ServicePlan", "ServiceStatus",
    "UninstallResult", "detect_manager", "install_service", "plan_service", "service_status",
    "uninstall_service",
]
