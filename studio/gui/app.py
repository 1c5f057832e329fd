"""``studio``: start the GUI.

Start-up order matters (DESIGN.md): the window is built and shown before torch is
imported (about 4 s here); torch is then imported on a background thread and the
workbenches are told when it is ready.  ``--screenshot PATH`` waits for that, renders
the fully loaded window offscreen to a PNG and exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback

_T_START = time.time()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="studio", description="Inspection Studio (GUI)")
    p.add_argument("--screenshot", metavar="PATH", help="render the loaded main window to a PNG and exit")
    p.add_argument("--tab", metavar="NAME", help="workbench tab to show (key or title, e.g. 'SEM Defects')")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 1600x1000")
    p.add_argument("--device", help="device for this session (auto, cpu, cuda, cuda:1, mps); not saved")
    p.add_argument("--theme", choices=("dark", "light"), help="theme for this session")
    args = p.parse_args(argv)
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
            if w < 200 or h < 200:
                raise ValueError
            args.size = (w, h)
        except ValueError:
            p.error(f"--size must look like 1600x1000 (at least 200x200), not {args.size!r}")
    return args


def settings_for_home():
    """QSettings in $STUDIO_HOME/settings.ini when STUDIO_HOME is set, else the platform's place."""
    from PySide6 import QtCore

    home = os.environ.get("STUDIO_HOME")
    if home:
        os.makedirs(home, exist_ok=True)
        return QtCore.QSettings(os.path.join(home, "settings.ini"), QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings("InspectionStudio", "Studio")


def build_services(settings=None):
    """Registry, pool and settings of the application (also used by the widget previews)."""
    from studio.engine import JobPool, RunRegistry
    from studio.gui.jobs import Services

    registry = RunRegistry()
    return Services(registry, JobPool(registry), settings if settings is not None else settings_for_home())


def preview(make_widget) -> int:
    """Run one widget on its own (``python -m studio.gui.<module>``), as Orange3 previews widgets."""
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    services = build_services()
    widget = make_widget(services)
    widget.resize(1200, 800)
    widget.show()
    start_torch_import(services)
    code = app.exec()
    services.pool.shutdown(cancel=True, wait=True)
    return code


def start_torch_import(services) -> None:
    """Import torch on a thread; tell ``services`` in the GUI thread when done."""
    from PySide6 import QtCore

    class Relay(QtCore.QObject):
        done = QtCore.Signal(str)

    relay = Relay(services)

    def finished(error: str) -> None:
        if error:
            services.torch_error = error
            print(f"studio: torch could not be imported: {error}", file=sys.stderr)
        services.torch_import_seconds = time.time() - _T_START
        services.mark_torch_ready() if not error else services.torch_failed.emit(error)

    relay.done.connect(finished, QtCore.Qt.ConnectionType.QueuedConnection)

    def work() -> None:
        try:
            import torch  # noqa: F401
            import torch.nn  # noqa: F401

            relay.done.emit("")
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            relay.done.emit(f"{type(exc).__name__}: {exc}")

    threading.Thread(target=work, name="torch-import", daemon=True).start()


def application_icon_path():
    """resources/icons/inspection-studio-256.png of the source tree or of a PyInstaller bundle."""
    from pathlib import Path

    for base in (getattr(sys, "_MEIPASS", None), Path(__file__).resolve().parents[2]):
        if base:
            path = Path(base) / "resources" / "icons" / "inspection-studio-256.png"
            if path.is_file():
                return path
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6 import QtCore, QtWidgets

    from studio.gui.settings_dialog import theme_name
    from studio.gui.theme import apply_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Inspection Studio")
    app.setOrganizationName("InspectionStudio")
    app.setDesktopFileName("inspection-studio")  # matches resources/inspection-studio.desktop
    icon = application_icon_path()
    if icon is not None:
        from PySide6 import QtGui

        app.setWindowIcon(QtGui.QIcon(str(icon)))
    settings = settings_for_home()
    apply_theme(app, args.theme or theme_name(settings))

    services = build_services(settings)
    registry = services.registry
    if args.device:
        from studio.engine.device import DEVICE_CHOICES

        if args.device.split(":")[0] not in DEVICE_CHOICES:
            print(f"studio: unknown device {args.device!r}", file=sys.stderr)
            return 2

    from studio.gui.main_window import MainWindow

    window = MainWindow(services)
    if args.device:
        services.set_session_device(args.device)
    if args.size:
        window.resize(*args.size)
    if args.tab and not window.show_tab(args.tab):
        print(f"studio: no tab named {args.tab!r}; choose one of: {', '.join(window.tab_names())}", file=sys.stderr)
        return 2

    if os.environ.get("STUDIO_STARTUP_PROBE"):
        _install_first_paint_probe(app, window, services)

    window.show()
    messages = []
    if registry.recovery_message:
        messages.append(registry.recovery_message)
    if registry.interrupted_ids:
        messages.append(f"{len(registry.interrupted_ids)} run(s) left running by an earlier session were marked "
                        "interrupted.")
    if messages:
        window.statusBar().showMessage(" ".join(messages), 15000)
        if registry.recovery_message and not args.screenshot:
            QtCore.QTimer.singleShot(0, lambda: QtWidgets.QMessageBox.warning(
                window, "Run history", registry.recovery_message))

    start_torch_import(services)

    if args.screenshot:
        return _screenshot(app, window, services, args.screenshot)
    return app.exec()


def _install_first_paint_probe(app, window, services) -> None:
    """Print the wall-clock time of the window's first paint and whether torch was ready then."""
    from PySide6 import QtCore

    class Probe(QtCore.QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QtCore.QEvent.Type.Paint and obj is window:
                print(f"FIRST_PAINT {time.time():.6f} torch_ready={int(services.is_torch_ready)}", flush=True)
                window.removeEventFilter(self)
                if os.environ.get("STUDIO_EXIT_AFTER_PAINT"):
                    QtCore.QTimer.singleShot(0, lambda: os._exit(0))
            return False

    probe = Probe(window)
    window.installEventFilter(probe)


def _screenshot(app, window, services, path: str) -> int:
    from PySide6 import QtCore

    # Closing must not wait on a "jobs still running" question nobody can answer (e.g. a workbench's
    # background count): running jobs are cancelled.
    os.environ["STUDIO_NO_CLOSE_PROMPT"] = "1"
    window.save_layout_on_close = False  # an offscreen grab must not replace the user's window size
    result = {"code": 1}

    def grab() -> None:
        for _ in range(5):
            app.processEvents()
        for plot in window.findChildren(QtCore.QObject):
            flush = getattr(plot, "flush", None)
            if callable(flush) and type(plot).__name__ == "LiveCurvePlot":
                flush()
        app.processEvents()
        pixmap = window.grab()
        target = os.path.abspath(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if pixmap.save(target, "PNG"):
            print(target)
            result["code"] = 0
        else:
            print(f"studio: could not write the screenshot to {target}", file=sys.stderr)
        app.quit()

    def when_loaded() -> None:
        QtCore.QTimer.singleShot(400, grab)

    services.torch_ready.connect(when_loaded)
    services.torch_failed.connect(lambda _e: when_loaded())
    QtCore.QTimer.singleShot(120_000, lambda: (print("studio: timed out waiting for torch", file=sys.stderr),
                                               grab()))
    app.exec()
    services.pool.shutdown(cancel=True, wait=True)
    return result["code"]


if __name__ == "__main__":
    raise SystemExit(main())
