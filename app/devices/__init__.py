"""Devices: every rule about the computers that report to Chamados, one concern per module.

tokens          the device token: issue, revoke, the one check (AgentContext)
identity        what identifies a computer; the one find-or-create (upsert_device)
people          who uses a device
registration    the agent's registration (provisioning secret, company code, e-mail)
heartbeats      the hot path: metrics, the inventory as sent, alerts, commands
inventory       inventory snapshots from any source: change detection, diff
alerts          posture alerts and the tickets they open
usb             the USB storage policy
admin           what the Dispositivos pages do: reset, access, links, removal
presence        last-seen times, written behind in batches
online          "online", in Python and in SQL
read_models     what the Dispositivos pages read
sessions        device sessions in a browser (the portal)
serializers     every JSON payload a device receives
external_inventory  FusionInventory and GLPI Agent
openapi, openapi_schemas  the agent API's OpenAPI document

Nothing is imported here: importing one module never loads the others.
"""
