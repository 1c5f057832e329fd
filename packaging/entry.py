"""Entry point of the bundled application (PyInstaller runs this file).

One program, two executables built from it by packaging/inspection_studio.spec:
``inspection-studio`` opens the GUI (``--screenshot`` etc. as ``studio``), and
``studio-cli`` (or ``inspection-studio cli ...``) is the headless command line.
"""
import multiprocessing
import os
import sys


def check_imports() -> int:
    """``inspection-studio --check-imports``: import every workbench and its job module (bundle check)."""
    from studio.gui.workbenches import WORKBENCHES

    failed = 0
    for spec in WORKBENCHES:
        try:
            spec.load()
            print(f"ok      {spec.key}: {spec.factory}")
        except Exception as exc:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAILED  {spec.key}: {spec.factory}: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


def main() -> int:
    multiprocessing.freeze_support()  # the sample generators may use worker processes
    if sys.argv[1:2] == ["--check-imports"]:
        return check_imports()
    exe = os.path.splitext(os.path.basename(sys.executable))[0].lower()
    if exe == "studio-cli" or (len(sys.argv) > 1 and sys.argv[1] == "cli"):
        if len(sys.argv) > 1 and sys.argv[1] == "cli":
            del sys.argv[1]
        from studio.cli import main as cli_main

        return cli_main()
    from studio.gui.app import main as gui_main

    return gui_main()


if __name__ == "__main__":
    raise SystemExit(main())
