# SPDX-License-Identifier: GPL-2.0-or-later
"""What the UI tests share: TAP steps, the applications, AT-SPI look-ups,
the NetworkManager sandbox (nmcli inside it, the plugin's D-Bus objects on
its system bus) and screenshots.

The tests run inside tests/ui/ui-session.sh (a private Xvfb, session bus and
sandbox; see its comment for the variables) with Debian's /usr/bin/python3.
Every wait is a poll with a deadline; a step that fails says which step and
what it saw (its AT-SPI tree is written to the logs directory, and a
screenshot is taken).
"""

import os
import shlex
import signal
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Gio, GLib  # noqa: E402
import pyatspi  # noqa: E402

VPN_SERVICE = "org.freedesktop.NetworkManager.wgmesh"
CONN_PREFIX = VPN_SERVICE + ".Connection_"
MESH_PATH = "/org/freedesktop/NetworkManager/wgmesh"
MESH_IFACE = VPN_SERVICE + ".Mesh"
PEER_IFACE = VPN_SERVICE + ".Peer"

OUT = os.environ.get("WGM_UI_OUT", ".")
LOGS = os.environ.get("WGM_UI_LOGS", ".")
BUILD = os.environ.get("WGM_BUILD_DIR", ".")
SANDBOX = os.environ.get("WGM_UI_SANDBOX", "")
SANDBOX_SH = os.environ.get("WGM_UI_SANDBOX_SH", "")
PROFILE = os.environ.get("WGM_UI_PROFILE", "mesh")
UUID = os.environ.get("WGM_UI_UUID", "")
PEERS = int(os.environ.get("WGM_UI_PEERS", "0"))

# Things the session takes longer for on a loaded CI machine than here.
APP_TIMEOUT = 30.0
NM_TIMEOUT = 30.0
WIDGET_TIMEOUT = 10.0


def in_ci():
    return os.environ.get("CI", "") in ("true", "1")


class StepFailed(Exception):
    pass


# ---- TAP --------------------------------------------------------------------


class Tap:
    """One TAP test point per step; the plan comes last.  The first failing
    step ends the test (later steps depend on it): its diagnostics, then
    the cleanup functions registered with at_exit, then the plan."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.t0 = time.monotonic()
        self.cleanups = []
        self.on_failure = []
        self.failed = False
        self.timings = []

    def remove_outputs(self, prefix):
        """Screenshots of an earlier run (PREFIX*.png in WGM_UI_OUT) go:
        what is there afterwards is this run's."""
        for f in os.listdir(OUT):
            if f.startswith(prefix) and f.endswith(".png"):
                os.unlink(os.path.join(OUT, f))

    def dump_on_failure(self, st, prefix, app_name):
        """On a failed step: the AT-SPI tree of st["app"] (if running), a
        screenshot `prefix`-failed.png and the application's output."""

        def dump(n):
            app = st.get("app")
            if app is not None and app.running():
                path = write_dump(app, os.path.join(LOGS, "%s-atspi.txt" % prefix))
                self.diag("AT-SPI tree of %s: %s" % (app_name, path))
            try:
                path = screenshot("%s-failed.png" % prefix, min_colours=1)[0]
                self.diag("screenshot: %s" % path)
            except Exception as e:  # noqa: BLE001
                self.diag("no screenshot: %s" % e)
            if app is not None:
                self.diag("%s's output (%s):\n%s" % (app_name, app.log_path, app.log_tail()))

        self.on_failure.append(dump)

    def at_exit(self, fn):
        self.cleanups.append(fn)

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def run(self, name, fn, skip=None):
        """Runs step fn(); skip is None or the reason the step cannot run
        here (then it is skipped, or fails in CI).  Returns fn's value."""
        self.n += 1
        if skip:
            if in_ci():
                print("not ok %d - %s" % (self.n, name), flush=True)
                self.diag("must run in CI, but: " + skip)
                self.fail_now()
            print("ok %d - %s # SKIP %s" % (self.n, name, skip), flush=True)
            return None
        t = time.monotonic()
        try:
            value = fn()
        except Exception as e:  # noqa: BLE001 (any failure fails the step)
            print("not ok %d - %s" % (self.n, name), flush=True)
            if isinstance(e, StepFailed):
                self.diag(str(e))
            else:
                import traceback

                self.diag(traceback.format_exc())
            self.diag("after %.2f s in the step, %.2f s into the test" % (
                time.monotonic() - t, time.monotonic() - self.t0))
            for hook in self.on_failure:
                try:
                    hook(self.n)
                except Exception as h:  # noqa: BLE001
                    self.diag("(while collecting diagnostics: %s)" % h)
            self.fail_now()
        dt = time.monotonic() - t
        self.timings.append((name, dt))
        print("ok %d - %s (%.2f s)" % (self.n, name, dt), flush=True)
        return value

    def cleanup(self):
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                self.diag("cleanup: %s" % e)

    def fail_now(self):
        self.failed = True
        self.cleanup()
        print("1..%d" % self.n, flush=True)
        sys.exit(1)

    def finish(self):
        self.cleanup()
        self.diag("%s: %d steps in %.2f s" % (self.name, self.n, time.monotonic() - self.t0))
        print("1..%d" % self.n, flush=True)
        sys.exit(0)


def check(cond, message):
    if not cond:
        raise StepFailed(message)


def poll(fn, timeout, what, interval=0.05):
    """fn() until it returns something true; StepFailed naming `what` (and
    fn's last value) after timeout seconds.  The GLib main context is
    iterated meanwhile, so AT-SPI events reach libatspi's cache."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except StepFailed:
            raise
        except Exception as e:  # noqa: BLE001 (a widget going away while read)
            last = "error: %s" % e
        if last and not (isinstance(last, str) and last.startswith("error: ")):
            return last
        if time.monotonic() >= deadline:
            raise StepFailed("%s: not within %.0f s (last seen: %r)" % (what, timeout, last))
        pump(interval)


def pump(seconds):
    ctx = GLib.MainContext.default()
    end = time.monotonic() + seconds
    while True:
        while ctx.pending():
            ctx.iteration(False)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.01))


# ---- commands ---------------------------------------------------------------


def run(argv, timeout=60, check_status=True, env=None):
    """argv's stdout (stripped); StepFailed with its output if it fails."""
    e = dict(os.environ if env is None else env)
    e.pop("WGM_UI_SESSION", None)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        raise StepFailed("`%s` did not finish in %d s" % (shlex.join(argv), timeout))
    if check_status and p.returncode != 0:
        raise StepFailed("`%s` exited %d: %s%s" % (shlex.join(argv), p.returncode, p.stdout, p.stderr))
    return p.stdout.strip()


def sandbox_exec(*argv, **kw):
    """A command inside NetworkManager's namespaces (nm-sandbox.sh exec)."""
    return run([SANDBOX_SH, "exec", SANDBOX] + list(argv), **kw)


def nmcli(*args, **kw):
    return sandbox_exec("nmcli", *args, **kw)


def vpn_data(profile=PROFILE):
    """The profile's vpn.data as a dict (`nmcli -g vpn.data`: "k = v, k = v",
    with "," and "\\" in values escaped by a backslash)."""
    out = nmcli("-g", "vpn.data", "connection", "show", profile)
    items, cur, esc = [], "", False
    for ch in out:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ",":
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        items.append(cur)
    data = {}
    for item in items:
        k, sep, v = item.partition("=")
        if sep:
            data[k.strip()] = v.strip()
    return data


def wait_private_key(profile=PROFILE, timeout=WIDGET_TIMEOUT):
    """Waits until NetworkManager returns the profile's private key
    (`nmcli -s -g vpn.secrets`).  Polled: a GetSecrets call racing the
    plugin's own (it reads the secrets of a profile just edited) was seen
    to return none once in about 25 runs, and the next call had them."""
    def has_key():
        out = nmcli("-s", "-g", "vpn.secrets", "connection", "show", profile)
        return any(item.strip().startswith("private-key") and item.partition("=")[2].strip()
                   for item in out.split(","))

    poll(has_key, timeout, "the private key in vpn.secrets (nmcli -s)")


def connection_state(profile=PROFILE):
    return nmcli("-g", "GENERAL.STATE", "connection", "show", profile, check_status=False)


# ---- the plugin on the sandbox's system bus ---------------------------------

_bus = None


def system_bus():
    global _bus
    if _bus is None:
        _bus = Gio.DBusConnection.new_for_address_sync(
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
    return _bus


def _call(dest, path, iface, method, args=None, reply_type=None):
    return system_bus().call_sync(dest, path, iface, method, args,
                                  GLib.VariantType(reply_type) if reply_type else None,
                                  Gio.DBusCallFlags.NONE, 5000, None).unpack()


def plugin_bus_names():
    names = _call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "ListNames", None, "(as)")[0]
    return sorted(n for n in names if n.startswith(CONN_PREFIX))


def plugin_bus_name():
    names = plugin_bus_names()
    return names[0] if len(names) == 1 else None


def peers(bus_name):
    """Peer Name -> its properties (dict), from GetManagedObjects."""
    objects = _call(bus_name, MESH_PATH, "org.freedesktop.DBus.ObjectManager",
                    "GetManagedObjects", None, "(a{oa{sa{sv}}})")[0]
    found = {}
    for ifaces in objects.values():
        props = ifaces.get(PEER_IFACE)
        if props is not None:
            found[props.get("Name", "")] = props
    return found


def mesh_property(bus_name, prop):
    return _call(bus_name, MESH_PATH, "org.freedesktop.DBus.Properties", "Get",
                 GLib.Variant("(ss)", (MESH_IFACE, prop)), "(v)")[0]


def wait_peers(states=("connected",), count=None, timeout=NM_TIMEOUT):
    """Waits until the plugin's one bus name has `count` (default: the
    sandbox's) peers, all in one of `states`.  Returns {name: state}."""
    count = PEERS if count is None else count
    seen = {}

    def all_there():
        nonlocal seen
        name = plugin_bus_name()
        if not name:
            seen = {"plugin bus names": plugin_bus_names()}
            return None
        seen = {n: p.get("State") for n, p in peers(name).items()}
        if len(seen) == count and all(s in states for s in seen.values()):
            return seen
        return None

    return poll(all_there, timeout, "%d peers %s on D-Bus" % (count, "/".join(states))) or seen


# ---- applications -----------------------------------------------------------


class App:
    """An application started by the test, ended by its PID."""

    def __init__(self, argv, log_name):
        self.argv = argv
        self.log_path = os.path.join(LOGS, log_name)
        self.log = open(self.log_path, "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self._acc = None

    def accessible(self, timeout=APP_TIMEOUT):
        """The application's AT-SPI root, found by its PID."""
        if self._acc is not None:
            return self._acc

        def find():
            check(self.proc.poll() is None,
                  "%s exited with status %s: %s" % (self.argv[0], self.proc.returncode, self.log_tail()))
            desktop = pyatspi.Registry.getDesktop(0)
            for i in range(desktop.childCount):
                a = desktop.getChildAtIndex(i)
                try:
                    if a is not None and a.get_process_id() == self.pid:
                        return a
                except GLib.Error:
                    continue
            return None

        self._acc = poll(find, timeout, "%s (pid %d) on the accessibility bus" % (self.argv[0], self.pid))
        return self._acc

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def problems(self):
        """GLib CRITICAL/ERROR lines and WARNING lines of the output so far."""
        bad, warnings = [], []
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    if "-CRITICAL **" in line or "-ERROR **" in line:
                        bad.append(line.strip())
                    elif "-WARNING **" in line:
                        warnings.append(line.strip())
        except OSError:
            pass
        return bad, warnings

    def check_output(self, tap, known=()):
        """Fails on a GLib critical in the application's output (our editor
        runs in it), except those containing one of `known` (the
        application's own, measured without our editor); warnings are only
        shown."""
        bad, warnings = self.problems()
        ignored = [b for b in bad if any(k in b for k in known)]
        bad = [b for b in bad if b not in ignored]
        if ignored:
            tap.diag("%d known critical(s) of %s itself ignored, e.g. %s" % (
                len(ignored), self.argv[0], ignored[0]))
        for w in warnings:
            tap.diag("warning: " + w)
        check(not bad, "%s logged (%s):\n%s" % (self.argv[0], self.log_path, "\n".join(bad)))

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout (nm-connection-editor ignores
        SIGTERM while a modal dialog runs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


# ---- AT-SPI -----------------------------------------------------------------


def role(node):
    try:
        return node.getRoleName()
    except Exception:  # noqa: BLE001
        return "?"


def name(node):
    try:
        return node.name or ""
    except Exception:  # noqa: BLE001
        return ""


def children(node):
    try:
        n = node.childCount
    except Exception:  # noqa: BLE001
        return []
    out = []
    for i in range(n):
        try:
            c = node.getChildAtIndex(i)
        except Exception:  # noqa: BLE001
            continue
        if c is not None:
            out.append(c)
    return out


def descendants(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def _safe(pred, n):
    try:
        return pred(n)
    except Exception:  # noqa: BLE001
        return False


def is_(role_name, node_name=None, name_end=None, name_has=None):
    """A predicate: role (a str or a tuple) and name (exact, suffix, part)."""
    roles = (role_name,) if isinstance(role_name, str) else role_name

    def pred(n):
        if role_name and role(n) not in roles:
            return False
        nm = name(n)
        if node_name is not None and nm != node_name:
            return False
        if name_end is not None and not nm.endswith(name_end):
            return False
        if name_has is not None and name_has not in nm:
            return False
        return True

    return pred


def wait_for(root, pred, what, timeout=WIDGET_TIMEOUT):
    return poll(lambda: next((n for n in descendants(root) if _safe(pred, n)), None), timeout, what)


def has_state(node, state):
    try:
        return node.getState().contains(state)
    except Exception:  # noqa: BLE001
        return False


def actions(node):
    try:
        a = node.queryAction()
    except NotImplementedError:
        return []
    return [a.getName(i) for i in range(a.nActions)]


def do_action(node, action=None):
    """Runs the node's action named `action` (default: its first one)."""
    acts = actions(node)
    check(acts, "%s %r has no actions" % (role(node), name(node)))
    i = acts.index(action) if action in acts else 0
    check(action is None or action in acts,
          "%s %r has no action %r (it has %s)" % (role(node), name(node), action, acts))
    check(node.queryAction().doAction(i), "%s %r: action %s failed" % (role(node), name(node), acts[i]))


def relation_targets(node, rel_type):
    out = []
    try:
        for r in node.getRelationSet():
            if r.getRelationType() == rel_type:
                out.extend(r.getTarget(i) for i in range(r.getNTargets()))
    except Exception:  # noqa: BLE001
        pass
    return out


def labelled(root, label_text, roles=None, timeout=WIDGET_TIMEOUT):
    """The widget a label names: GTK3 gives the label a LABEL_FOR relation
    (the widget is not named after it); GTK4 names the widget after its
    mnemonic label.  Mnemonic underscores are ignored."""

    def norm(s):
        return s.replace("_", "").strip()

    def find():
        for n in descendants(root):
            if role(n) == "label" and norm(name(n)) == label_text:
                targets = relation_targets(n, pyatspi.RELATION_LABEL_FOR)
                for t in targets:
                    if roles is None or role(t) in roles:
                        return t
        for n in descendants(root):
            if role(n) != "label" and norm(name(n)) == label_text and (roles is None or role(n) in roles):
                return n
        return None

    return poll(find, timeout, "the widget labelled %r%s" % (
        label_text, " (%s)" % "/".join(roles) if roles else ""))


def set_text(node, text):
    try:
        et = node.queryEditableText()
    except NotImplementedError:
        raise StepFailed("%s %r is not editable text" % (role(node), name(node)))
    check(et.setTextContents(text), "setting the text of %s %r failed" % (role(node), name(node)))


def get_text(node):
    try:
        t = node.queryText()
    except NotImplementedError:
        return name(node)
    return t.getText(0, -1)


def dump(node, depth=0, max_depth=60):
    """The tree as text: role 'name' [actions] {states} -> relations."""
    lines = []

    def walk(n, d):
        if d > max_depth:
            return
        extra = []
        acts = actions(n) if role(n) not in ("label",) else []
        if acts:
            extra.append("[%s]" % ", ".join(acts))
        for st, label in ((pyatspi.STATE_CHECKED, "checked"), (pyatspi.STATE_SELECTED, "selected")):
            if has_state(n, st):
                extra.append("{%s}" % label)
        if not has_state(n, pyatspi.STATE_SENSITIVE):
            extra.append("{insensitive}")
        if role(n) in ("text", "password text", "entry"):
            try:
                extra.append("text=%r" % get_text(n))
            except Exception:  # noqa: BLE001
                pass
        for t in relation_targets(n, pyatspi.RELATION_LABEL_FOR):
            extra.append("label-for %s %r" % (role(t), name(t)))
        lines.append("%s%s %r %s" % ("  " * d, role(n), name(n), " ".join(extra)))
        for c in children(n):
            walk(c, d + 1)

    walk(node, depth)
    return "\n".join(lines)


def write_dump(app, path):
    with open(path, "w") as f:
        f.write(dump(app.accessible(timeout=1)) + "\n")
    return path


# ---- screenshots ------------------------------------------------------------


def x_window_id(title):
    """The id of the top-level X window titled `title` (xwininfo)."""
    out = run(["xwininfo", "-root", "-children"])
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("0x") and '"%s"' % title in line:
            return line.split()[0]
    return None


def resize_window(title, width, height):
    """Moves the top-level X window titled `title` to the screen's top
    left corner and resizes it (no window manager: the requests are granted
    as asked; screenshots are clipped to the screen), then waits until it
    is there."""
    wid = poll(lambda: x_window_id(title), WIDGET_TIMEOUT, "an X window titled %r" % title)
    run(["xdotool", "windowmove", wid, "0", "0", "windowsize", wid, str(width), str(height)])

    def geometry():
        out = run(["xwininfo", "-id", wid])
        g = {}
        for line in out.splitlines():
            key, _, value = line.strip().partition(":")
            if key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"):
                g[key] = int(value)
        got = (g.get("Absolute upper-left X"), g.get("Absolute upper-left Y"), g.get("Width"), g.get("Height"))
        return got == (0, 0, width, height) and got

    poll(geometry, WIDGET_TIMEOUT, "the window %r at 0,0 sized %dx%d" % (title, width, height))
    pump(0.2)  # one frame drawn at the new size (a poll cannot see it)


def screenshot(file_name, window_title=None, min_colours=32):
    """The root window (or the window titled window_title) as a PNG under
    WGM_UI_OUT; it must have at least min_colours distinct colours (a blank
    screen has one, a text-only window some dozens from antialiasing)."""
    path = os.path.join(OUT, file_name)
    target = "root"
    if window_title:
        wid = poll(lambda: x_window_id(window_title), WIDGET_TIMEOUT,
                   "an X window titled %r" % window_title)
        target = wid
    run(["import", "-window", target, path], timeout=30)
    info = run(["identify", "-format", "%w %h %k", path]).split()
    w, h, colours = (int(x) for x in info[:3])
    check(colours >= min_colours,
          "%s (%dx%d) looks blank: %d distinct colours (expected >= %d)" % (path, w, h, colours, min_colours))
    return path, w, h, colours


# ---- the editor ------------------------------------------------------------


def editor_library(gtk4):
    lib = "libnm-gtk4-vpn-plugin-wgmesh-editor.so" if gtk4 else "libnm-vpn-plugin-wgmesh-editor.so"
    path = os.path.join(BUILD, "properties", lib)
    return path if os.path.exists(path) else None


def editor_missing(gtk4):
    """None, or why the editor steps cannot run."""
    if editor_library(gtk4):
        return None
    return "the %s editor is not built (%s)" % (
        "GTK4" if gtk4 else "GTK3",
        os.path.join(BUILD, "properties",
                     "libnm-gtk4-vpn-plugin-wgmesh-editor.so" if gtk4 else "libnm-vpn-plugin-wgmesh-editor.so"))


def genkey():
    """A fresh WireGuard key pair (private, public)."""
    priv = run(["wg", "genkey"])
    pub = subprocess.run(["wg", "pubkey"], input=priv + "\n", capture_output=True, text=True,
                         check=True).stdout.strip()
    return priv, pub
