"""What memory each device of a host has, and how much of it tierd may give to models."""

from tierd.hosts.probe import Device, HostMemory, probe_host, probe_hosts

__all__ = ["Device", "HostMemory", "probe_host", "probe_hosts"]
