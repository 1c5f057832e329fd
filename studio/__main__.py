def main():
    from studio.gui.app import main as gui_main
    raise SystemExit(gui_main())

if __name__ == "__main__":
    main()
