#!/usr/bin/python3
"""Reads an application's accessibility tree over AT-SPI, as the Orca screen
reader does (libatspi through GObject introspection: the `python3-gi` and
`gir1.2-atspi-2.0` packages; `python3-pyatspi` wraps the same library), and
checks that widgets are there with the role and the name a screen reader
would speak.

    atspi_tree.py --app apero-app --timeout 60 \\
        --expect "push button=Join with a code" --expect "entry=Message"

Each --expect is ROLE=NAME: ROLE as AT-SPI names it (`push button`, `entry`,
`check box`, ...), NAME exact. The tree is read again every half second until
every expected widget is there or the time is up; the tree is printed either
way. Exit status: 0 all found, 1 some missing, 2 no usable AT-SPI bus.

AccessKit (the window's toolkit bridge) exposes its tree only while the
session bus's org.a11y.Bus says org.a11y.Status.ScreenReaderEnabled is true.
`at-spi-bus-launcher --screen-reader=1` starts it so; --enable sets it as a
screen reader does at its start (on a desktop, that persists in the user's
GSettings: org.gnome.desktop.a11y.applications screen-reader-enabled).

Run it with the system's python (/usr/bin/python3): Debian's python3-gi is
not importable from another interpreter (pyenv, venv).
"""

import argparse
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, Gio, GLib  # noqa: E402

STATUS = ("org.a11y.Bus", "/org/a11y/bus", "org.freedesktop.DBus.Properties")
MAX_NODES = 5000


def screen_reader_enabled(enable):
    """The session bus's ScreenReaderEnabled, set to true first if `enable`."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    if enable:
        value = GLib.Variant("(ssv)", ("org.a11y.Status", "ScreenReaderEnabled", GLib.Variant("b", True)))
        bus.call_sync(*STATUS, "Set", value, None, Gio.DBusCallFlags.NONE, 5000, None)
    reply = bus.call_sync(*STATUS, "Get", GLib.Variant("(ss)", ("org.a11y.Status", "ScreenReaderEnabled")),
                          GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None)
    return bool(reply.unpack()[0])


def walk(acc, depth, out):
    """Appends (depth, role, name) for `acc` and everything under it."""
    try:
        role, name, count = acc.get_role_name(), acc.get_name() or "", acc.get_child_count()
    except GLib.Error:
        return  # gone while we read it: the next round sees the new tree
    out.append((depth, role, name))
    for i in range(count):
        if len(out) >= MAX_NODES:
            return
        try:
            child = acc.get_child_at_index(i)
        except GLib.Error:
            continue
        if child is not None:
            walk(child, depth + 1, out)


def snapshot(app_name):
    """(names of the applications on the bus, the tree of `app_name` or None)."""
    desktop = Atspi.get_desktop(0)
    names, tree = [], None
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is None:
            continue
        try:
            name = app.get_name()
        except GLib.Error:
            continue
        names.append(name)
        if name == app_name and tree is None:
            app.clear_cache()  # read what is there now, not what was
            tree = []
            walk(app, 0, tree)
    return names, tree


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--app", required=True, help="the application's AT-SPI name (AccessKit: the executable's file name)")
    p.add_argument("--expect", action="append", default=[], metavar="ROLE=NAME")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--enable", action="store_true", help="set ScreenReaderEnabled first, as a screen reader does")
    args = p.parse_args()
    wanted = []
    for e in args.expect:
        role, sep, name = e.partition("=")
        if not sep:
            p.error(f"--expect {e!r}: not ROLE=NAME")
        wanted.append((role.strip(), name))

    try:
        enabled = screen_reader_enabled(args.enable)
    except GLib.Error as e:
        print(f"atspi_tree: no org.a11y.Bus on the session bus (is at-spi-bus-launcher running?): {e.message}", file=sys.stderr)
        return 2
    print(f"org.a11y.Status.ScreenReaderEnabled = {enabled}")
    if not enabled:
        print("atspi_tree: warning: ScreenReaderEnabled is false: AccessKit applications expose nothing "
              "(use --enable, or at-spi-bus-launcher --screen-reader=1)", file=sys.stderr)
    if Atspi.init() not in (0, 1):  # 1: already initialised
        print("atspi_tree: cannot reach the accessibility bus", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.timeout
    while True:
        apps, tree = snapshot(args.app)
        found = {(role, name) for _, role, name in tree or []}
        missing = [w for w in wanted if w not in found]
        if tree is not None and not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    print(f"applications on the accessibility bus: {apps}")
    if tree is None:
        print(f"MISSING: no application named {args.app!r} on the accessibility bus")
        return 1
    print(f"the tree of {args.app} ({len(tree)} nodes):")
    for depth, role, name in tree:
        print(f"{'  ' * depth}[{role}] {name!r}")
    for role, name in wanted:
        print(f"{'MISSING' if (role, name) in missing else 'found'}: [{role}] {name!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
