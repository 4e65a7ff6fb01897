"""What the agent reports: metrics every heartbeat, the inventory when it changed."""

import getpass
import hashlib
import json
import platform
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil


def metrics() -> dict:
    disks = [
        {"mount": part.mountpoint, "freePercent": round(100 - usage.percent, 1), "freeBytes": usage.free}
        for part, usage in _disk_usages()
    ]
    users = psutil.users()
    return {
        "cpuPercent": psutil.cpu_percent(interval=0.5),
        "memoryPercent": psutil.virtual_memory().percent,
        "disks": disks,
        "uptimeSeconds": int(time.time() - psutil.boot_time()),
        "loggedUser": users[0].name if users else _current_user(),
    }


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _partitions():
    seen = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in ("", "squashfs", "tmpfs", "overlay") or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        yield part


def _disk_usages():
    """(partition, usage) of each real, readable file system."""
    for part in _partitions():
        try:
            yield part, psutil.disk_usage(part.mountpoint)
        except OSError:
            continue


def os_info() -> dict:
    system = platform.system()
    if system == "Windows":
        release = platform.release()
        edition = platform.win32_edition() if hasattr(platform, "win32_edition") else ""
        build = platform.version().split(".")[-1]
        return {
            "name": f"Windows {release} {edition}".strip(),
            "version": release,
            "build": build,
            "arch": platform.machine(),
        }
    if system == "Linux":
        release = platform.freedesktop_os_release() if hasattr(platform, "freedesktop_os_release") else {}
        return {
            "name": release.get("NAME", "Linux"),
            "version": release.get("VERSION", release.get("VERSION_ID", "")),
            "build": platform.release(),
            "arch": platform.machine(),
        }
    return {
        "name": system,
        "version": platform.release(),
        "build": platform.version(),
        "arch": platform.machine(),
    }


def _dmi(field: str) -> str:
    path = Path("/sys/class/dmi/id") / field
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def serial_numbers() -> list[str]:
    serial = _dmi("product_serial") or _dmi("board_serial")
    if not serial and platform.system() == "Windows":
        serial = _run(["powershell", "-NoProfile", "-Command", "(Get-CimInstance Win32_BIOS).SerialNumber"])
    return [serial] if serial else []


def mac_addresses() -> list[str]:
    macs = []
    for name, addresses in psutil.net_if_addrs().items():
        for address in addresses:
            if address.family == psutil.AF_LINK and address.address and name != "lo":
                macs.append(address.address.replace("-", ":").lower())
    return sorted(set(macs) - {"00:00:00:00:00:00"})


def installed_software(limit: int = 5000) -> list[dict]:
    if shutil.which("dpkg-query"):
        out = _run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Maintainer}\n"])
        rows = [line.split("\t") for line in out.splitlines() if line]
        return [{"name": r[0], "version": r[1], "publisher": r[2] if len(r) > 2 else ""} for r in rows][
            :limit
        ]
    if platform.system() == "Windows":
        return _windows_software()[:limit]
    return []


def _windows_software() -> list[dict]:
    import winreg  # only on Windows

    programs = []
    for hive, path in (
        (winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"),
        (winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"),
    ):
        try:
            key = winreg.OpenKey(hive, path)
        except OSError:
            continue
        for index in range(winreg.QueryInfoKey(key)[0]):
            try:
                sub = winreg.OpenKey(key, winreg.EnumKey(key, index))
                name = winreg.QueryValueEx(sub, "DisplayName")[0]
            except OSError:
                continue
            version = _reg_value(winreg, sub, "DisplayVersion")
            programs.append(
                {"name": name, "version": version, "publisher": _reg_value(winreg, sub, "Publisher")}
            )
    return sorted(programs, key=lambda p: p["name"].lower())


def _reg_value(winreg, key, name) -> str:
    try:
        return str(winreg.QueryValueEx(key, name)[0])
    except OSError:
        return ""


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def inventory() -> dict:
    memory = psutil.virtual_memory()
    disks = [
        {"mount": part.mountpoint, "fs": part.fstype, "totalBytes": usage.total, "freeBytes": usage.free}
        for part, usage in _disk_usages()
    ]
    network = []
    for name, addresses in psutil.net_if_addrs().items():
        if name == "lo":
            continue
        mac = next((a.address for a in addresses if a.family == psutil.AF_LINK), None)
        ipv4 = [a.address for a in addresses if a.family == socket.AF_INET]
        network.append({"name": name, "mac": mac, "ipv4": ipv4})
    return {
        "hardware": {
            "manufacturer": _dmi("sys_vendor"),
            "model": _dmi("product_name"),
            "cpu": platform.processor() or _cpu_model(),
            "cores": psutil.cpu_count(logical=True),
            "memoryBytes": memory.total,
            "serial": (serial_numbers() or [""])[0],
        },
        "os": os_info(),
        "disks": disks,
        "network": sorted(network, key=lambda n: n["name"]),
        "software": installed_software(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def inventory_hash(document: dict) -> str:
    """Hash of what identifies the inventory; free space changes all the time and is left out."""
    disks = [{k: v for k, v in d.items() if k != "freeBytes"} for d in document.get("disks", [])]
    stable = {**document, "disks": disks}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
