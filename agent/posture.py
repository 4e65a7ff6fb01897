"""Simple posture checks. Each problem seen now is reported; a fixed one simply stops appearing."""

import shutil
import subprocess

import psutil

CPU_HIGH_PERCENT = 90
DISK_LOW_PERCENT = 10


def checks(current_metrics: dict, services: list[str] = ()) -> list[dict]:
    alerts = []
    if current_metrics.get("cpuPercent", 0) >= CPU_HIGH_PERCENT:
        alerts.append(
            {"kind": "cpu_high", "severity": "warning", "details": {"cpu": current_metrics["cpuPercent"]}}
        )
    for disk in current_metrics.get("disks", []):
        if disk.get("freePercent", 100) < DISK_LOW_PERCENT:
            alerts.append(
                {
                    "kind": "disk_low",
                    "severity": "warning",
                    "details": {"mount": disk["mount"], "free": disk["freePercent"]},
                }
            )
            break
    for name in services:
        if not _service_running(name):
            alerts.append({"kind": "service_stopped", "severity": "critical", "details": {"service": name}})
            break
    if _smart_failing():
        alerts.append({"kind": "smart_failing", "severity": "critical", "details": {}})
    return alerts


def _service_running(name: str) -> bool:
    return any(p.info["name"] == name for p in psutil.process_iter(["name"]))


def _smart_failing() -> bool:
    """smartctl, where installed and permitted; anything else means "unknown", not failing."""
    if not shutil.which("smartctl"):
        return False
    try:
        result = subprocess.run(["smartctl", "-H", "/dev/sda"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return "FAILED" in result.stdout
