"""Applying the USB storage policy: on Windows through the registry, log-only elsewhere."""

import logging
import platform

log = logging.getLogger("chamados.agent")

# USBSTOR service start type: 3 = enabled, 4 = disabled.
WINDOWS_START = {"ALLOW": 3, "READ_ONLY": 3, "BLOCK": 4}


def apply(mode: str) -> tuple[str, str | None]:
    """Return ("APPLIED", None) or ("FAILED", reason)."""
    if platform.system() != "Windows":
        log.warning("Política USB %s recebida: este sistema não é suportado, nada foi alterado.", mode)
        return "FAILED", f"Sistema {platform.system()} sem suporte a política USB; registrada apenas no log."
    try:
        import winreg

        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Services\USBSTOR", 0, winreg.KEY_SET_VALUE
        ) as key:
            winreg.SetValueEx(key, "Start", 0, winreg.REG_DWORD, WINDOWS_START[mode])
        with winreg.CreateKey(
            winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\StorageDevicePolicies"
        ) as key:
            winreg.SetValueEx(key, "WriteProtect", 0, winreg.REG_DWORD, 1 if mode == "READ_ONLY" else 0)
    except OSError as error:
        return "FAILED", f"Não foi possível alterar o registro: {error}"
    return "APPLIED", None
