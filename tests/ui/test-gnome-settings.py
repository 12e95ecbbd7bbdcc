#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""GNOME Settings 43 (gnome-control-center, GTK4 + libadwaita) against the
NetworkManager sandbox, driven over AT-SPI (run by tests/ui/ui-session.sh
--sandbox):

  - the Network panel lists the wgmesh profile "mesh" with its switch, off;
  - turning the switch on (its AT-SPI toggle action) activates the profile
    in NetworkManager (nmcli) and every sandbox peer connects (the plugin's
    Peer objects on D-Bus);
  - the row's gear opens the connection dialog; its Identity tab shows our
    GTK4 editor ("Lazy connections" switch, "Peers");
  - flipping "Lazy connections" and pressing Apply changes the profile's
    vpn.data (nmcli) and the running mesh (Mesh.LazyConnections on D-Bus);
  - the VPN section's "+" opens "Add VPN", which lists "WireGuard mesh
    (wgmesh)" (the plugin's name) and "Import from file…"; choosing ours
    opens our GTK4 editor for a new profile.

Screenshots: WGM_UI_OUT/gnome-settings.png (the Network panel, the mesh on)
and gnome-settings-editor.png (the dialog's Identity tab).

GTK4 on X11 reports window-relative extents, so only AT-SPI actions are
used here, never pointer events.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wgmui as ui  # noqa: E402
from wgmui import check, is_, poll, wait_for  # noqa: E402
import pyatspi  # noqa: E402

tap = ui.Tap("test-gnome-settings")
tap.remove_outputs("gnome-settings")
st = {}


tap.dump_on_failure(st, "gnome-settings", "gnome-control-center")


def start():
    check(ui.connection_state() != "activated", "%s is already active" % ui.PROFILE)
    app = ui.App(["gnome-control-center", "network"], "gnome-control-center.log")
    st["app"] = app
    tap.at_exit(app.stop)
    st["acc"] = app.accessible()


def row_shown():
    acc = st["acc"]
    row = wait_for(acc, is_("list item", ui.PROFILE), "the list item %r in the VPN section" % ui.PROFILE,
                   timeout=ui.APP_TIMEOUT)
    switch = wait_for(row, is_("check box", name_has=ui.PROFILE), "the switch in the row %r" % ui.PROFILE)
    check(not ui.has_state(switch, pyatspi.STATE_CHECKED), "the switch of %r is on before the test" % ui.PROFILE)
    check("toggle" in ui.actions(switch), "the switch has no toggle action: %s" % ui.actions(switch))
    st["row"], st["switch"] = row, switch
    tap.diag("row: list item %r; switch: check box %r" % (ui.name(row), ui.name(switch)))


def switch_on():
    ui.do_action(st["switch"], "toggle")
    poll(lambda: ui.connection_state() == "activated", ui.NM_TIMEOUT,
         "nmcli -g GENERAL.STATE connection show %s = activated" % ui.PROFILE)
    poll(lambda: ui.has_state(st["switch"], pyatspi.STATE_CHECKED), ui.WIDGET_TIMEOUT,
         "the switch shown on")


def peers_connected():
    states = ui.wait_peers(("connected",))
    st["bus_name"] = ui.plugin_bus_name()
    tap.diag("%s: %s" % (st["bus_name"], ", ".join("%s %s" % kv for kv in sorted(states.items()))))


def screenshot_panel():
    path, w, h, colours = ui.screenshot("gnome-settings.png", "Settings")
    tap.diag("%s: %dx%d, %d colours" % (path, w, h, colours))


def gear():
    button = wait_for(st["row"], is_("push button", name_has="Options"), "the gear (Options…) in the row")
    ui.do_action(button, "click")
    st["dialog"] = wait_for(st["acc"], is_("dialog", ui.PROFILE), "the dialog %r" % ui.PROFILE)


def select_tab(dialog, label):
    """GTK 4.8's notebook: Selection.selectChild() takes the visual index,
    while the tabs' accessible order differs (Details, IPv4, IPv6,
    Identity vs Details, Identity, IPv4, IPv6) and getSelectedChild()
    answers in yet another way; only each tab's own SELECTED state is
    right.  So select each index in turn until `label`'s tab is selected."""
    tabs = wait_for(dialog, is_("page tab list"), "the tab list of the dialog")
    sel = tabs.querySelection()

    def tab_label(tab):
        return " ".join(ui.name(n) for n in ui.descendants(tab) if ui.role(n) == "label")

    def selected():
        return [tab_label(t) for t in ui.children(tabs) if ui.has_state(t, pyatspi.STATE_SELECTED)]

    labels = [tab_label(t) for t in ui.children(tabs)]
    check(label in labels, "no tab %r among %s" % (label, labels))
    # The first tab is the one shown at first: try it last.
    for i in list(range(1, len(labels))) + [0]:
        before = selected()
        if before == [label]:
            return
        sel.selectChild(i)
        try:
            # Settled: the target, or another tab than before (index i
            # may be the tab already selected: then nothing changes).
            poll(lambda: selected() == [label] or (len(selected()) == 1 and selected() != before),
                 1.0, "a tab selected")
        except ui.StepFailed:
            pass
    now = selected()
    check(now == [label], "tab %r not selected (selected: %s; tabs: %s)" % (label, now, labels))


def identity_tab():
    select_tab(st["dialog"], "Identity")


def editor_shown():
    dialog = st["dialog"]
    # Our editor is in the Identity page; GTK4 names a widget after its
    # mnemonic label.
    try:
        lazy = ui.labelled(dialog, "Lazy connections", roles=("check box", "toggle button", "switch"))
    except ui.StepFailed:
        errors = [ui.name(n) for n in ui.descendants(dialog) if "Error" in ui.name(n)]
        if errors:
            raise ui.StepFailed("the Identity tab shows %s" % errors)
        raise
    wait_for(dialog, lambda n: ui.role(n) == "label" and ui.name(n).replace("_", "") == "Peers",
             "the label 'Peers'")
    st["lazy"] = lazy
    st["lazy_before"] = ui.has_state(lazy, pyatspi.STATE_CHECKED)
    tap.diag("Lazy connections: %s %r, %s, actions %s" % (
        ui.role(lazy), ui.name(lazy), "on" if st["lazy_before"] else "off", ui.actions(lazy)))


def screenshot_editor():
    path, w, h, colours = ui.screenshot("gnome-settings-editor.png", ui.PROFILE)
    tap.diag("%s: %dx%d, %d colours" % (path, w, h, colours))


def lazy_apply():
    dialog, lazy = st["dialog"], st["lazy"]
    before = ui.vpn_data().get("lazy-connections", "no")
    ui.do_action(lazy)
    want = not st["lazy_before"]
    poll(lambda: ui.has_state(lazy, pyatspi.STATE_CHECKED) == want, ui.WIDGET_TIMEOUT,
         "the Lazy connections switch %s" % ("on" if want else "off"))
    apply = wait_for(dialog, is_("push button", name_end="Apply"), "the Apply button")
    poll(lambda: ui.has_state(apply, pyatspi.STATE_SENSITIVE), ui.WIDGET_TIMEOUT,
         "Apply enabled after the change (the editor's \"changed\" signal)")
    ui.do_action(apply, "click")
    word = "yes" if want else "no"

    def saved():
        v = ui.vpn_data().get("lazy-connections", "no")
        return v if v in (("yes", "true", "1") if want else ("no", "false", "0")) else None

    after = poll(saved, ui.NM_TIMEOUT, "vpn.data lazy-connections = %s after Apply" % word)
    tap.diag("vpn.data lazy-connections: %s -> %s" % (before, after))
    live = poll(lambda: ui.mesh_property(st["bus_name"], "LazyConnections") == want and "yes",
                ui.NM_TIMEOUT, "Mesh.LazyConnections = %s on D-Bus (applied live)" % want)
    check(live, "not applied live")
    err = ui.mesh_property(st["bus_name"], "LastError")
    check(err == "", "Mesh.LastError after the edit: %r" % err)
    ui.wait_private_key()


def add_vpn():
    acc = st["acc"]
    button = wait_for(acc, is_("push button", name_has="Add connection"), "the + (Add connection) button")
    ui.do_action(button, "click")
    dialog = wait_for(acc, is_(("dialog", "frame"), name_has="Add VPN"), "the dialog 'Add VPN'")
    ours = wait_for(dialog, lambda n: ui.name(n).startswith("WireGuard mesh (wgmesh)"),
                    "'WireGuard mesh (wgmesh)' in 'Add VPN'")
    wait_for(dialog, lambda n: ui.name(n).startswith("Import from file"), "'Import from file…' in 'Add VPN'")
    st["add_dialog"], st["ours"] = dialog, ours
    tap.diag("Add VPN lists: %s %r" % (ui.role(ours), ui.name(ours)))


def add_vpn_editor():
    ours = st["ours"]
    # The row (a list item) has neither an AT-SPI action nor grabFocus in
    # GTK 4.8, and GTK 4 on X11 reports window-relative extents: click it
    # with the X pointer at the Add VPN window's position plus the row's
    # extents in the window.
    row = ours
    while row is not None and ui.role(row) != "list item":
        row = row.parent
    check(row is not None, "no list item around %r" % ui.name(ours))
    x, y, w, h = row.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
    wid = poll(lambda: ui.x_window_id("Add VPN"), ui.WIDGET_TIMEOUT, "the X window 'Add VPN'")
    info = ui.run(["xwininfo", "-id", wid])
    pos = {}
    for line in info.splitlines():
        key, _, value = line.strip().partition(":")
        if key in ("Absolute upper-left X", "Absolute upper-left Y"):
            pos[key] = int(value)
    cx = pos["Absolute upper-left X"] + x + w // 2
    cy = pos["Absolute upper-left Y"] + y + h // 2
    ui.run(["xdotool", "mousemove", str(cx), str(cy), "click", "1"])
    acc = st["acc"]
    lazy = ui.labelled(acc, "Lazy connections", roles=("check box", "toggle button", "switch"))
    tap.diag("clicked the row at %d,%d; the new profile's editor: %s %r" % (cx, cy, ui.role(lazy), ui.name(lazy)))
    path, w, h, colours = ui.screenshot("gnome-settings-add-vpn.png")
    tap.diag("%s: %dx%d, %d colours" % (path, w, h, colours))


missing = ui.editor_missing(gtk4=True)
tap.run("gnome-control-center network starts and is on the accessibility bus", start)
tap.run("the Network panel lists %r with its switch, off" % ui.PROFILE, row_shown)
tap.run("the switch turned on activates %r in NetworkManager" % ui.PROFILE, switch_on)
tap.run("every sandbox peer (%d) is connected (Peer.State on D-Bus)" % ui.PEERS, peers_connected)
tap.run("screenshot of the Network panel is not blank", screenshot_panel)
tap.run("the gear (Options…) opens the connection dialog", gear)
tap.run("the dialog's Identity tab can be selected", identity_tab)
tap.run("the Identity tab shows the wgmesh GTK4 editor (Lazy connections, Peers)", editor_shown,
        skip=missing)
tap.run("screenshot of the editor in the dialog is not blank", screenshot_editor, skip=missing)
tap.run("Lazy connections flipped + Apply: vpn.data and the running mesh change, the key kept", lazy_apply,
        skip=missing)
tap.run("'+' opens 'Add VPN', listing WireGuard mesh (wgmesh) and Import from file…", add_vpn)
tap.run("choosing WireGuard mesh (wgmesh) there opens our editor for a new profile", add_vpn_editor,
        skip=missing)
tap.run("no GLib criticals in gnome-control-center's output", lambda: st["app"].check_output(tap))
tap.finish()
