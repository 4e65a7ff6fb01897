import argparse
import logging
import os
import sys

from agent import client, logs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description="Agente do Chamados")
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register", help="registrar este computador")
    reg.add_argument("--server", required=True, help="endereço do Chamados, ex.: https://suporte.exemplo.com")
    reg.add_argument("--code", required=True, help="código de provisionamento da empresa")
    reg.add_argument("--email", required=True, help="e-mail de quem usa este computador")
    reg.add_argument(
        "--secret",
        default=os.environ.get("MACHINE_PROVISIONING_SECRET", ""),
        help="segredo de provisionamento (ou MACHINE_PROVISIONING_SECRET)",
    )
    run = commands.add_parser("run", help="enviar heartbeats (o serviço em segundo plano)")
    run.add_argument("--once", action="store_true", help="enviar um heartbeat e sair")
    run.add_argument("--service", action="append", default=[], help="serviço que deve estar rodando")
    desktop = commands.add_parser("desktop", help="ícone na bandeja e janela de chat (a parte da pessoa)")
    desktop.add_argument("--no-tray", action="store_true", help="sem ícone na bandeja")
    ticket = commands.add_parser("ticket", help="abrir um chamado por uma janela")
    ticket.add_argument("--report", action="store_true", help=argparse.SUPPRESS)  # started by `desktop`
    commands.add_parser("menu", help=argparse.SUPPRESS)  # the tray's menu where it draws none
    for command in (reg, run, desktop, ticket):
        command.add_argument("--log-file", help="também registrar o log neste arquivo")
    args = parser.parse_args(argv)
    logs.setup(logging.INFO, getattr(args, "log_file", None), name=f"agent-{args.command}")
    if args.command == "register":
        try:
            client.register(args.server, args.code, args.email, args.secret)
        except client.ServerError as error:
            logging.error("Registro recusado: %s", error)
            return 1
        return 0
    if args.command == "desktop":
        from agent import desktop as desktop_part

        return desktop_part.main(tray=not args.no_tray)
    if args.command == "ticket":
        from agent import ticket_dialog

        return ticket_dialog.main(report=args.report)
    if args.command == "menu":
        from agent import tray

        return tray.menu_window()
    return client.run(once=args.once, services=args.service)


if __name__ == "__main__":
    sys.exit(main())
