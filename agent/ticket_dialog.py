"""The "Abrir chamado" window (Tk): Assunto, Descrição, "Anexar uma captura de tela" (off until
the person ticks it; the capture is taken before the window shows, so it shows what they were
looking at, and a preview says what would be sent), Enviar / Cancelar. Then "Chamado #N aberto"
and "Ver no portal".

Runs as its own process (`python -m agent ticket`), started by the tray: Tk keeps to one thread
of one process, and a crash here never takes the chat listener down. Started by the desktop part
(`--report`), it prints `open <path>` for the portal page to open and lets the desktop part open
it; run by hand, it opens the page itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from agent import client

log = logging.getLogger("chamados.agent")

TITLE = "Abrir chamado — Chamados"
PREVIEW_WIDTH = 320


def error_message(error: Exception) -> str:
    """What the person reads when sending failed."""
    if isinstance(error, client.ServerError):
        if error.status in (401, 403) and error.code.startswith(("token_", "machine_")):
            return "O servidor recusou este computador. Peça ao suporte para registrá-lo de novo."
        return error.message or "O servidor recusou o chamado."
    return "Servidor inacessível. Verifique a conexão e tente de novo."


class TicketDialog:
    def __init__(self, root, screenshot, submit: Callable, open_page: Callable[[str], None]):
        import tkinter as tk
        from tkinter import ttk

        self.tk, self.root = tk, root
        self.screenshot = screenshot
        self.submit = submit  # (subject, description, png bytes | None) -> the server's answer
        self.open_page = open_page
        self.results: queue.Queue = queue.Queue()
        self.answer: dict | None = None

        root.title(TITLE)
        root.resizable(False, False)
        frame = ttk.Frame(root, padding=14)
        frame.grid(sticky="nsew")
        self.frame = frame
        ttk.Label(frame, text="Assunto").grid(row=0, column=0, sticky="w")
        self.subject_text = tk.StringVar()
        self.subject_text.trace_add("write", lambda *args: self._clear_missing_subject())
        self.subject = ttk.Entry(frame, width=56, textvariable=self.subject_text)
        self.subject.grid(row=1, column=0, sticky="we", pady=(2, 8))
        ttk.Label(frame, text="Descrição").grid(row=2, column=0, sticky="w")
        self.description = tk.Text(frame, width=56, height=8, wrap="word")
        self.description.grid(row=3, column=0, sticky="we", pady=(2, 8))

        self.attach = tk.BooleanVar(value=False)  # the person agrees by ticking it
        self.preview_image = None
        if screenshot is not None:
            ttk.Checkbutton(
                frame, text="Anexar uma captura de tela", variable=self.attach, command=self._attach_changed
            ).grid(row=4, column=0, sticky="w")
            self.preview = ttk.Label(frame, text="A captura da tela atual será anexada ao chamado.")
            self._show_preview()
        else:
            self.preview = ttk.Label(frame, text="Captura de tela indisponível neste computador.")
            self.preview.grid(row=5, column=0, sticky="w", pady=(4, 0))

        self.status = ttk.Label(frame, text="", foreground="#b91c1c", wraplength=440)
        self.status.grid(row=6, column=0, sticky="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=7, column=0, sticky="e", pady=(10, 0))
        self.cancel_button = ttk.Button(buttons, text="Cancelar", command=root.destroy)
        self.cancel_button.grid(row=0, column=0, padx=(0, 6))
        self.send_button = ttk.Button(buttons, text="Enviar", command=self.send)
        self.send_button.grid(row=0, column=1)
        root.bind("<Escape>", lambda event: root.destroy())
        self.subject.focus_set()

    def _clear_missing_subject(self) -> None:
        if self.subject.get().strip() and str(self.status.cget("text")) == "Informe o assunto.":
            self.status.configure(text="")

    def _show_preview(self) -> None:
        try:
            from PIL import ImageTk

            thumbnail = self.screenshot.copy()
            thumbnail.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH))
            self.preview_image = ImageTk.PhotoImage(thumbnail)
            self.preview.configure(image=self.preview_image, compound="top")
        except Exception:  # no ImageTk: the sentence alone says it
            self.preview_image = None

    def _attach_changed(self) -> None:
        if self.attach.get():
            self.preview.grid(row=5, column=0, sticky="w", pady=(4, 0))
        else:
            self.preview.grid_remove()

    def send(self) -> None:
        subject = self.subject.get().strip()
        if not subject:
            self.status.configure(text="Informe o assunto.")
            self.subject.focus_set()
            return
        description = self.description.get("1.0", "end").strip()
        png = None
        if self.attach.get() and self.screenshot is not None:
            from agent.tickets import png_within

            png = png_within(self.screenshot)
        self.send_button.state(["disabled"])
        self.status.configure(text="Enviando…", foreground="#374151")

        def work():
            try:
                self.results.put(("ok", self.submit(subject, description, png)))
            except Exception as error:  # shown to the person, the dialog stays open
                self.results.put(("error", error))

        threading.Thread(target=work, daemon=True).start()
        self.root.after(100, self._wait_for_answer)

    def _wait_for_answer(self) -> None:
        try:
            outcome, value = self.results.get_nowait()
        except queue.Empty:
            self.root.after(100, self._wait_for_answer)
            return
        if outcome == "error":
            log.warning("Chamado não enviado: %s", value)
            self.status.configure(text=error_message(value), foreground="#b91c1c")
            self.send_button.state(["!disabled"])
            return
        self.answer = value
        self._opened(value)

    def _opened(self, answer: dict) -> None:
        from tkinter import ttk

        for child in self.frame.winfo_children():
            child.destroy()
        ttk.Label(
            self.frame, text=f"Chamado #{answer['ticket']} aberto", font=("TkDefaultFont", 12, "bold")
        ).grid(row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(self.frame, text="O suporte vai responder por ele. Você pode acompanhar pelo portal.").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(6, 12)
        )
        buttons = ttk.Frame(self.frame)
        buttons.grid(row=2, column=0, columnspan=2, sticky="e")
        ttk.Button(buttons, text="Fechar", command=self.root.destroy).grid(row=0, column=0, padx=(0, 6))
        see = ttk.Button(buttons, text="Ver no portal", command=lambda: self._see(answer["portalPath"]))
        see.grid(row=0, column=1)
        see.focus_set()

    def _see(self, path: str) -> None:
        self.open_page(path)
        self.root.destroy()


def main(report: bool = False) -> int:
    """`python -m agent ticket`: the dialog, then exit (0 sent or closed, 1 no display)."""
    from agent import config
    from agent.tickets import open_ticket, take_screenshot

    settings = config.load()
    screenshot = take_screenshot()  # before the window covers anything
    try:
        import tkinter as tk

        root = tk.Tk()
    except Exception as error:
        log.error("Não foi possível abrir a janela (%s).", error)
        return 1
    pages: list[str] = []
    TicketDialog(
        root,
        screenshot,
        lambda subject, description, png: open_ticket(settings, subject, description, png),
        pages.append,
    )
    root.mainloop()
    for path in pages:
        if report:
            print(f"open {path}", flush=True)
        else:
            from agent.browser import Portal

            portal = Portal(settings)
            portal.open(path)
            portal.redirects.wait_until_served(30)
            portal.close()
    return 0
