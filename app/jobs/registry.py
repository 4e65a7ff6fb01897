"""The background jobs: what each does, when it runs, how long it may take.

Every job body calls a function of app.services that holds the rule, is
idempotent (running it twice changes nothing more) and bounded (a batch per
run; a job that leaves work behind says so with `has_more`). Schedules are cron
expressions in DEFAULT_TIMEZONE; the RQ cron scheduler (`python -m workers cron`),
the in-process scheduler of `make run` and `POST /api/cron/<job>` all read them here.

A job starts in no tenant's scope (jobs/runner.py): its body goes tenant by tenant
(`tenancy.for_each_tenant`, or `tenancy.scope` per row), says why it works across
tenants (`tenancy.all_tenants("why")`), or reads no tenant's rows at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from app.chat.sessions import auto_end_inactive_sessions
from app.devices.online import note_online_changes
from app.devices.usb import expire_stale_usb_policies
from app.services import notifications, reports, retention, tenancy, tickets
from app.services.job_runs import JobOutcome


@dataclass(frozen=True)
class JobSpec:
    name: str
    label: str
    description: str
    cron: str | Callable[[dict], str]
    timeout: int  # seconds, enforced by the RQ worker
    run: Callable[..., JobOutcome]
    flag: str | None = None  # config switch; off = not scheduled, and refused if called
    requeue_while_more: bool = False
    retry_intervals: tuple[int, ...] = (30, 120)  # seconds before the 2nd and 3rd attempts

    def cron_expression(self, config: dict) -> str:
        return self.cron(config) if callable(self.cron) else self.cron

    def enabled(self, config: dict) -> bool:
        return not self.flag or bool(config.get(self.flag))


def chat_cleanup() -> JobOutcome:
    with tenancy.all_tenants("one inactivity rule ends the chats of every tenant"):
        result = auto_end_inactive_sessions()
    return JobOutcome(changed=result.ended, summary=result.summary(), has_more=result.has_more)


def device_presence() -> JobOutcome:
    with tenancy.all_tenants("one online rule for every tenant's devices; each event is its tenant's"):
        changed, more = note_online_changes()
    return JobOutcome(
        changed=changed, summary=f"dispositivos que mudaram de estado: {changed}", has_more=more
    )


def usb_policy_cleanup() -> JobOutcome:
    batch = 500
    expired = expire_stale_usb_policies(batch=batch)  # USB policies are no tenant's rows
    return JobOutcome(
        changed=expired, summary=f"políticas USB expiradas: {expired}", has_more=expired == batch
    )


def report_export_runner() -> JobOutcome:
    return reports.run_pending_exports()  # each export is built in its own tenant's scope


def auto_pause_internal_lunch() -> JobOutcome:
    queue_name = current_app.config["AUTO_PAUSE_LUNCH_QUEUE"]
    per_tenant = tenancy.for_each_tenant(lambda _tenant: tickets.auto_pause_queue(queue_name))
    paused = sum(count for count, _more in per_tenant)
    more = any(more for _count, more in per_tenant)
    return JobOutcome(changed=paused, summary=f"fila {queue_name}: {paused} chamados pausados", has_more=more)


def retention_sweep(dry_run: bool = False) -> JobOutcome:
    with tenancy.all_tenants("retention goes by age, the same for every tenant"):
        return retention.sweep(dry_run=dry_run).outcome()


def email_sender() -> JobOutcome:
    with tenancy.all_tenants("the outbox is one queue for the whole install"):
        result = notifications.send_due()
    if result.deferred or result.failed:
        # Every message's state is saved; failing the run is what makes it visible on Tarefas.
        raise notifications.EmailDeliveryError(
            f"{result.outcome().summary}; último erro: {result.last_error}"
        )
    return result.outcome()


def daily_digest() -> JobOutcome:
    return notifications.queue_daily_digests()  # tenant by tenant, each at its own local hour


def _lunch_cron(config: dict) -> str:
    hours, minutes = config["AUTO_PAUSE_LUNCH_TIME"].split(":")
    return f"{int(minutes)} {int(hours)} * * *"


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "chat_cleanup",
            "Encerrar chats inativos",
            "Encerra sessões de chat com dispositivo offline, sem atividade há 12 h ou sem dispositivo.",
            "* * * * *",
            timeout=60,
            run=chat_cleanup,
            requeue_while_more=True,
        ),
        JobSpec(
            "device_presence",
            "Avisar telas: online/offline",
            "Avisa as telas abertas (lista e página de dispositivos) quando um dispositivo fica online ou "
            "offline.",
            "* * * * *",
            timeout=60,
            run=device_presence,
            requeue_while_more=True,
        ),
        JobSpec(
            "usb_policy_cleanup",
            "Expirar políticas USB pendentes",
            "Marca como expiradas as políticas USB que o agente não confirmou no prazo.",
            "*/30 * * * *",
            timeout=120,
            run=usb_policy_cleanup,
            requeue_while_more=True,
        ),
        JobSpec(
            "report_export_runner",
            "Gerar relatórios (CSV)",
            "Gera os arquivos CSV pedidos em Relatórios.",
            "*/15 * * * *",
            timeout=900,
            run=report_export_runner,
            flag="REPORT_EXPORTS_ENABLED",
            requeue_while_more=True,
        ),
        JobSpec(
            "auto_pause_internal_lunch",
            "Pausa automática do almoço",
            "Pausa os chamados Em andamento da fila interna no horário do almoço (não retoma sozinho).",
            _lunch_cron,
            timeout=300,
            run=auto_pause_internal_lunch,
            flag="AUTO_PAUSE_LUNCH_ENABLED",
            requeue_while_more=True,
        ),
        JobSpec(
            "email_sender",
            "Enviar e-mails",
            "Envia as notificações por e-mail na fila; um envio que falha é tentado de novo "
            "(1, 5, 15 e 60 min) e, depois de 5 tentativas, fica como falha.",
            "* * * * *",
            timeout=300,
            run=email_sender,
            requeue_while_more=True,
        ),
        JobSpec(
            "daily_digest",
            "Resumo diário por e-mail",
            "No horário ALERTS_LOCAL_HOUR de cada organização: alertas abertos, dispositivos offline há mais "
            "de um dia e chamados sem primeira resposta há mais de 24 h, para os administradores.",
            "0 * * * *",
            timeout=600,
            run=daily_digest,
        ),
        JobSpec(
            "retention_sweep",
            "Limpeza por retenção",
            "Apaga telemetria com mais de 90 dias, alertas resolvidos há mais de 180 dias, exportações "
            "e execuções com mais de 30 dias e auditoria com mais de 90 dias. Chamados nunca.",
            "30 3 * * *",
            timeout=3600,
            run=retention_sweep,
            requeue_while_more=True,
        ),
    )
}


def job_spec(name: str) -> JobSpec | None:
    """Look a job up by name; the seed's hyphenated URL names (chat-cleanup) work too."""
    name = name.replace("-", "_")
    return JOBS.get(name) or {"usb_cleanup": JOBS["usb_policy_cleanup"]}.get(name)
