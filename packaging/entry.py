"""Entry point of the bundled application (PyInstaller runs this file).

One program, two executables built from it by packaging/inspection_studio.spec:
``inspection-studio`` opens the GUI (``--screenshot`` etc. as ``studio``), and
``studio-cli`` (or ``inspection-studio cli ...``) is the headless command line.
"""
import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # the sample generators may use worker processes
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
