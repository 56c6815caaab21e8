"""`tierd hosts`: each device's memory and the budget tierd may give to models."""

from __future__ import annotations

import argparse
import dataclasses

from tierd.cli.output import print_json, print_table
from tierd.config import load_config
from tierd.hosts.probe import Device, HostMemory, probe_hosts
from tierd.sizes import format_size


def register(sub: argparse._SubParsersAction) -> None:
    hosts = sub.add_parser("hosts", help="show each host's devices, memory and model budget")
    hosts.add_argument("--json", action="store_true", help="print JSON (bytes, with sources)")
    hosts.set_defaults(handler=_hosts)


def hosts_as_dicts(hosts: list[HostMemory]) -> list[dict]:
    return [
        {
            "host": h.host,
            "runtime": h.runtime,
            "budget": h.budget,
            "ram_budget": h.ram_budget,
            "override": h.override,
            "devices": [dataclasses.asdict(d) for d in h.devices],
            "ram": None if h.ram is None else dataclasses.asdict(h.ram),
        }
        for h in hosts
    ]


def _hosts(args: argparse.Namespace) -> int:
    hosts = probe_hosts(load_config(args.config))
    if args.json:
        print_json(hosts_as_dicts(hosts))
        return 0
    size = lambda n: "-" if n is None else format_size(n)  # noqa: E731
    rows = [
        [h.host, _label(h, d), d.name, size(d.total), size(d.used), size(d.free),
         size(d.budget) + (" (config)" if "config" in d.sources.get("budget", "") else "")]
        for h in hosts for d in _devices(h)
    ]
    print_table(["HOST", "DEVICE", "NAME", "TOTAL", "USED", "FREE", "BUDGET"], rows)
    for h in hosts:
        for d in _devices(h):
            print(f"\n{h.host} {_label(h, d)} budget: {d.sources.get('budget', '')}")
    return 0


def _devices(host: HostMemory) -> list[Device]:
    return [*host.devices, *([host.ram] if host.ram is not None else [])]


def _label(host: HostMemory, device: Device) -> str:
    """"nvidia:0", "cpu:0", or "ram" for the RAM beside a host's GPUs (its second budget)."""
    return "ram" if device is host.ram else f"{device.kind}:{device.index}"
