import argparse
import logging
import os
import sys

from agent import client


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description="Agente de referência do Chamados")
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
    run = commands.add_parser("run", help="enviar heartbeats")
    run.add_argument("--once", action="store_true", help="enviar um heartbeat e sair")
    run.add_argument("--service", action="append", default=[], help="serviço que deve estar rodando")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "register":
        try:
            client.register(args.server, args.code, args.email, args.secret)
        except client.ServerError as error:
            logging.error("Registro recusado: %s", error)
            return 1
        return 0
    return client.run(once=args.once, services=args.service)


if __name__ == "__main__":
    sys.exit(main())
