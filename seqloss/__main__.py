"""Command line: ``python -m seqloss demo [--steps N]`` (also the ``seqloss`` script)."""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m seqloss demo [--steps N] [--batch N] [--backend auto|torch|numpy]")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        from .demo import main as demo_main
        demo_main(rest)
        return 0
    print("unknown command %r; try: python -m seqloss demo" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
