/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WgmNetmon against python3-dbusmock's NetworkManager and logind templates
 * on a private system bus, through a real libnm NMClient.
 *
 * What the templates lack is added with dbusmock's own mock API: the
 * manager's PrimaryConnection property (AddProperty/SetProperty) and IPv4
 * configuration objects for devices (AddObject plus an ObjectManager
 * InterfacesAdded signal sent with EmitSignal, then the device's Ip4Config).
 *
 * A new connection that becomes primary at once is none for libnm until it
 * has read the connection's settings; a second NMClient, the "witness",
 * tells the test when the monitor's has (both read the same messages in
 * the same order, the monitor's first).  NetworkManager knows a VPN's
 * connection long before it is activated, so this is no real-life race.
 *
 * No assertion is about absolute time.  "Nothing happened" is shown by a
 * later change sent by the same mock (D-Bus keeps one sender's messages in
 * order): the only report is that later change alone.
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>

#include <NetworkManager.h>

#include "wgm-netmon.h"
#include "wgm-settings-keys.h"
#include "wgm-test-bus.h"
#include "wgm-test-util.h"

#define DEBOUNCE_MS       50
#define BURST_DEBOUNCE_MS 250 /* the burst takes three D-Bus calls, even under ASan */
#define WAIT_MS           10000
#define MOCK_START_MS     60000 /* python on a loaded machine */
#define MESH_IFNAME       "wgm0"

#define MOCK_IFACE      "org.freedesktop.DBus.Mock"
#define BUS_NM          "org.freedesktop.NetworkManager"
#define PATH_MAIN       "/org/freedesktop"
#define PATH_NM         "/org/freedesktop/NetworkManager"
#define IFACE_DEVICE    "org.freedesktop.NetworkManager.Device"
#define IFACE_IP4CONFIG "org.freedesktop.NetworkManager.IP4Config"
#define PATH_SETTINGS   "/org/freedesktop/NetworkManager/Settings"
#define BUS_LOGIND      "org.freedesktop.login1"
#define PATH_LOGIND     "/org/freedesktop/login1"

typedef struct {
    WgmTestBus      *bus;
    GDBusConnection *conn;
    GSubprocess     *nm;
    GSubprocess     *logind;
    GSubprocess     *starting;
    WgmNetmon       *netmon;
    NMClient        *witness;
    GPtrArray       *changes; /* what each "network-changed" said */
    int              conn_refs;
    guint            debounce_ms;
    char            *eth0;
    char            *eth0_ac;
    char            *eth0_config;
} Fixture;

/* The service's log lines (domain nm-wgmesh), for the tests to read. */
static GPtrArray *logged;
static gboolean   have_dbusmock;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    const char *domain = NULL, *message = NULL;

    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
        else if (g_str_equal(fields[i].key, "MESSAGE"))
            message = fields[i].value;
    }
    if (logged && message && g_strcmp0(domain, "nm-wgmesh") == 0
        && (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)))
        g_ptr_array_add(logged, g_strdup(message));
    return g_log_writer_default(level, fields, n_fields, user_data);
}

static guint
count_logged(const char *needle)
{
    guint n = 0;

    for (guint i = 0; i < logged->len; i++)
        n += strstr(logged->pdata[i], needle) != NULL;
    return n;
}

typedef gboolean (*DoneFunc)(Fixture *f, gconstpointer data);

/* Iterates the default main context until @done(@f, @data) or @ms pass. */
static gboolean
wait_for_ms(DoneFunc done, Fixture *f, gconstpointer data, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!done(f, data) && g_get_monotonic_time() < deadline) {
        g_autoptr(GSource) tick = g_timeout_source_new(20);

        g_source_set_dummy_callback(tick);
        g_source_attach(tick, NULL);
        g_main_context_iteration(NULL, TRUE);
        g_source_destroy(tick);
    }
    return done(f, data);
}

static gboolean
wait_for(DoneFunc done, Fixture *f, gconstpointer data)
{
    return wait_for_ms(done, f, data, WAIT_MS);
}

static gboolean
has_changes(Fixture *f, gconstpointer n)
{
    return f->changes->len >= GPOINTER_TO_UINT(n);
}

static gboolean
has_logged(Fixture *f, gconstpointer needle)
{
    return count_logged(needle) > 0;
}

static gboolean
conn_released(Fixture *f, gconstpointer data)
{
    return g_atomic_int_get(&G_OBJECT(f->conn)->ref_count) <= f->conn_refs;
}

/* Lets the main loop run for @ms: only to give a wrong report its chance. */
static void
iterate_ms(guint ms)
{
    const gboolean never = FALSE;

    wgm_test_wait_flag(&never, ms);
}

static void
assert_changes(Fixture *f, guint n)
{
    g_assert_true(wait_for(has_changes, f, GUINT_TO_POINTER(n)));
    /* A second report would follow within a few quiet times. */
    iterate_ms(4 * f->debounce_ms);
    g_assert_cmpuint(f->changes->len, ==, n);
}

/*****************************************************************************/
/* The mocks */

static void
child_setup(gpointer user_data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
name_owned(Fixture *f, gconstpointer name)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(f->conn,
                                                            "org.freedesktop.DBus",
                                                            "/org/freedesktop/DBus",
                                                            "org.freedesktop.DBus",
                                                            "NameHasOwner",
                                                            g_variant_new("(s)", name),
                                                            G_VARIANT_TYPE("(b)"),
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            -1,
                                                            NULL,
                                                            NULL);
    gboolean owned            = FALSE;

    if (reply)
        g_variant_get(reply, "(b)", &owned);
    return owned;
}

/* The mock being started owns its name, or has exited (been reaped). */
static gboolean
mock_started(Fixture *f, gconstpointer name)
{
    return !g_subprocess_get_identifier(f->starting) || name_owned(f, name);
}

/* `python3 -m dbusmock --system --template @template` on the test bus. */
static GSubprocess *
spawn_mock(Fixture *f, const char *template, const char *name)
{
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GError) error                 = NULL;
    GSubprocess *proc;

    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_setenv(
        launcher, "DBUS_SYSTEM_BUS_ADDRESS", wgm_test_bus_get_address(f->bus), TRUE);
    g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
    proc = g_subprocess_launcher_spawn(launcher,
                                       &error,
                                       wgm_test_getenv_or("WGM_TEST_PYTHON3", "/usr/bin/python3"),
                                       "-m",
                                       "dbusmock",
                                       "--system",
                                       "--template",
                                       template,
                                       NULL);
    g_assert_no_error(error);
    f->starting = proc;
    wait_for_ms(mock_started, f, name, MOCK_START_MS);
    f->starting = NULL;
    if (!g_subprocess_get_identifier(proc))
        g_error("python3 -m dbusmock --template %s exited", template);
    g_assert_true(name_owned(f, name));
    return proc;
}

static void
stop_mock(GSubprocess **proc)
{
    if (!*proc)
        return;
    g_subprocess_send_signal(*proc, SIGTERM);
    g_subprocess_wait(*proc, NULL, NULL);
    g_clear_object(proc);
}

static GVariant *
call(Fixture    *f,
     const char *name,
     const char *path,
     const char *iface,
     const char *method,
     GVariant   *params)
{
    g_autoptr(GError) error = NULL;
    GVariant *reply;

    reply = g_dbus_connection_call_sync(
        f->conn, name, path, iface, method, params, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);
    return reply;
}

/* A mock method on NetworkManager's main object; its one string result or
 * NULL. */
static char *
nm_mock(Fixture *f, const char *method, GVariant *params)
{
    g_autoptr(GVariant) reply = call(f, BUS_NM, PATH_MAIN, MOCK_IFACE, method, params);
    char *result              = NULL;

    if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")))
        g_variant_get(reply, "(s)", &result);
    return result;
}

static char *
add_device(Fixture *f, const char *ifname, guint state)
{
    return nm_mock(f, "AddEthernetDevice", g_variant_new("(ssi)", ifname, ifname, state));
}

static gboolean
witness_has_loaded(Fixture *f, gconstpointer path)
{
    const GPtrArray *acs = nm_client_get_active_connections(f->witness);

    for (guint i = 0; i < acs->len; i++) {
        if (g_str_equal(nm_object_get_path(acs->pdata[i]), path))
            return nm_active_connection_get_connection(acs->pdata[i]) != NULL;
    }
    return FALSE;
}

static void
witness_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Fixture *f              = user_data;
    g_autoptr(GError) error = NULL;

    f->witness = NM_CLIENT(g_async_initable_new_finish(G_ASYNC_INITABLE(source), result, &error));
    g_assert_no_error(error);
}

static gboolean
has_witness(Fixture *f, gconstpointer data)
{
    return f->witness != NULL;
}

/* A settings connection (@vpn_service for a VPN) activated on @device (may
 * be NULL); the active connection's path. */
static char *
activate(Fixture *f, const char *id, const char *device, const char *vpn_service)
{
    g_autoptr(GVariant) reply = NULL;
    g_autofree char *uuid     = g_uuid_string_random();
    const char      *conn;
    GVariant        *settings;
    const char      *devices[] = { device, NULL };
    char            *ac;

    if (vpn_service)
        settings = g_variant_new_parsed("({'connection': {'id': <%s>, 'type': <'vpn'>, "
                                        "'uuid': <%s>}, 'vpn': {'service-type': <%s>}},)",
                                        id,
                                        uuid,
                                        vpn_service);
    else
        settings = g_variant_new_parsed("({'connection': {'id': <%s>, "
                                        "'type': <'802-3-ethernet'>, 'uuid': <%s>}},)",
                                        id,
                                        uuid);
    reply = call(f, BUS_NM, PATH_SETTINGS, BUS_NM ".Settings", "AddConnection", settings);
    g_variant_get(reply, "(&o)", &conn);
    ac = nm_mock(f,
                 "AddActiveConnection",
                 g_variant_new("(^as&o&osu)",
                               device ? devices : devices + 1,
                               conn,
                               "/",
                               id,
                               NM_ACTIVE_CONNECTION_STATE_ACTIVATED));
    if (f->witness)
        g_assert_true(wait_for(witness_has_loaded, f, ac));
    return ac;
}

static void
set_property(Fixture *f, const char *path, const char *iface, const char *name, GVariant *value)
{
    g_free(nm_mock(f, "SetProperty", g_variant_new("(sssv)", path, iface, name, value)));
}

static void
set_primary(Fixture *f, const char *ac)
{
    set_property(f, PATH_NM, BUS_NM, "PrimaryConnection", g_variant_new_object_path(ac));
}

static void
set_connectivity(Fixture *f, guint connectivity)
{
    g_free(nm_mock(f, "SetConnectivity", g_variant_new("(u)", connectivity)));
}

static GVariant *
ip4_props(const char *address)
{
    return g_variant_new_parsed("{'AddressData': <[{'address': <%s>, 'prefix': <uint32 24>}]>, "
                                "'Gateway': <''>, 'RouteData': <@aa{sv} []>}",
                                address);
}

/* An IPv4 configuration object for @device (which has no Ip4Config yet):
 * exported, announced, and attached after NMClient started if @announce. */
static char *
add_ip4_config(Fixture *f, const char *device, const char *address, gboolean announce)
{
    char *path                = g_strconcat(PATH_NM "/IP4Config/", strrchr(device, '/') + 1, NULL);
    g_autoptr(GVariant) props = g_variant_ref_sink(ip4_props(address));
    GVariant *added = g_variant_new_parsed("[<%o>, <{%s: %v}>]", path, IFACE_IP4CONFIG, props);

    g_free(nm_mock(
        f, "AddObject", g_variant_new("(ss@a{sv}a(ssss))", path, IFACE_IP4CONFIG, props, NULL)));
    g_free(nm_mock(f,
                   "EmitSignal",
                   g_variant_new("(sss@av)",
                                 "org.freedesktop.DBus.ObjectManager",
                                 "InterfacesAdded",
                                 "oa{sa{sv}}",
                                 added)));
    g_variant_unref(call(
        f,
        BUS_NM,
        device,
        MOCK_IFACE,
        "AddProperty",
        g_variant_new(
            "(ssv)", IFACE_DEVICE, "Ip4Config", g_variant_new_object_path(announce ? "/" : path))));
    if (announce)
        set_property(f, device, IFACE_DEVICE, "Ip4Config", g_variant_new_object_path(path));
    return path;
}

static void
set_ip4_address(Fixture *f, const char *config, const char *address)
{
    g_autoptr(GVariant) props = g_variant_ref_sink(ip4_props(address));

    g_variant_unref(call(
        f, BUS_NM, config, MOCK_IFACE, "UpdateProperties", g_variant_new("(s@a{sv})", "", props)));
}

static void
prepare_for_sleep(Fixture *f, gboolean sleeping)
{
    g_variant_unref(call(f,
                         BUS_LOGIND,
                         PATH_LOGIND,
                         MOCK_IFACE,
                         "EmitSignal",
                         g_variant_new_parsed("(%s, 'PrepareForSleep', 'b', [<%b>])",
                                              BUS_LOGIND ".Manager",
                                              sleeping)));
}

/*****************************************************************************/

static void
changed_cb(WgmNetmon *netmon, const char *what, gpointer user_data)
{
    Fixture *f = user_data;

    g_test_message("network-changed: %s", what);
    g_ptr_array_add(f->changes, g_strdup(what));
}

static void
start_netmon(Fixture *f, guint debounce_ms)
{
    f->debounce_ms = debounce_ms;
    f->netmon      = wgm_netmon_new(f->conn, MESH_IFNAME, debounce_ms);
    g_signal_connect(f->netmon, "network-changed", G_CALLBACK(changed_cb), f);
}

static void
setup_bus(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_ptr_array_set_size(logged, 0);
    f->changes = g_ptr_array_new_with_free_func(g_free);
    f->bus     = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    f->conn = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);
    f->conn_refs = g_atomic_int_get(&G_OBJECT(f->conn)->ref_count);
}

/* NetworkManager with eth0 up, addressed and primary; logind; the monitor
 * started and done reading both. */
static void
setup_mocks(Fixture *f, gconstpointer data)
{
    if (!have_dbusmock) {
        g_test_skip("python3-dbusmock is not installed for /usr/bin/python3");
        return;
    }
    setup_bus(f, data);
    f->nm     = spawn_mock(f, "networkmanager", BUS_NM);
    f->logind = spawn_mock(f, "logind", BUS_LOGIND);

    g_variant_unref(
        call(f,
             BUS_NM,
             PATH_NM,
             MOCK_IFACE,
             "AddProperty",
             g_variant_new("(ssv)", BUS_NM, "PrimaryConnection", g_variant_new_object_path("/"))));
    f->eth0        = add_device(f, "eth0", NM_DEVICE_STATE_ACTIVATED);
    f->eth0_config = add_ip4_config(f, f->eth0, "192.0.2.10", FALSE);
    f->eth0_ac     = activate(f, "wired", f->eth0, NULL);
    set_primary(f, f->eth0_ac);

    start_netmon(f, data ? GPOINTER_TO_UINT(data) : DEBOUNCE_MS);
    g_assert_true(wait_for(has_logged, f, "watching primary connection eth0, connectivity full"));
    g_assert_true(wait_for(has_logged, f, "logind is on the bus"));

    g_async_initable_new_async(NM_TYPE_CLIENT,
                               G_PRIORITY_DEFAULT,
                               NULL,
                               witness_ready_cb,
                               f,
                               NM_CLIENT_DBUS_CONNECTION,
                               f->conn,
                               NULL);
    g_assert_true(wait_for(has_witness, f, NULL));
}

static void
teardown(Fixture *f, gconstpointer data)
{
    if (!f->conn)
        return; /* skipped */
    /* Everything the monitor started on the connection has ended. */
    g_clear_object(&f->netmon);
    g_clear_object(&f->witness);
    g_assert_true(wait_for(conn_released, f, NULL));
    g_dbus_connection_close_sync(f->conn, NULL, NULL);
    g_clear_object(&f->conn);
    stop_mock(&f->nm);
    stop_mock(&f->logind);
    g_clear_pointer(&f->bus, wgm_test_bus_free);
    g_ptr_array_unref(f->changes);
    g_free(f->eth0);
    g_free(f->eth0_ac);
    g_free(f->eth0_config);
}

/*****************************************************************************/

/* Connectivity, a new primary connection and resume, all within the quiet
 * time: one report naming the three. */
static void
test_burst(Fixture *f, gconstpointer data)
{
    g_autofree char *wlan0 = NULL;
    g_autofree char *ac    = NULL;
    const char      *what;

    if (!f->conn)
        return;
    wlan0 = add_device(f, "wlan0", NM_DEVICE_STATE_DISCONNECTED);
    ac    = activate(f, "wifi", wlan0, NULL);

    set_connectivity(f, NM_CONNECTIVITY_PORTAL);
    set_primary(f, ac);
    prepare_for_sleep(f, FALSE);

    assert_changes(f, 1);
    what = f->changes->pdata[0];
    g_assert_nonnull(strstr(what, "connectivity portal"));
    g_assert_nonnull(strstr(what, "primary connection eth0 -> wlan0"));
    g_assert_nonnull(strstr(what, "resume"));
    g_assert_cmpuint(count_logged("network changed: "), ==, 1);
}

static void
sleep_seen_cb(GDBusConnection *connection,
              const char      *sender,
              const char      *path,
              const char      *interface,
              const char      *signal,
              GVariant        *parameters,
              gpointer         user_data)
{
    *(gboolean *)user_data = TRUE;
}

/* Going to sleep is no change; waking up is. */
static void
test_sleep(Fixture *f, gconstpointer data)
{
    gboolean seen = FALSE;
    guint    subscription;

    if (!f->conn)
        return;
    /* Subscribed after the monitor: GDBus calls it after the monitor's. */
    subscription = g_dbus_connection_signal_subscribe(f->conn,
                                                      BUS_LOGIND,
                                                      BUS_LOGIND ".Manager",
                                                      "PrepareForSleep",
                                                      PATH_LOGIND,
                                                      NULL,
                                                      G_DBUS_SIGNAL_FLAGS_NONE,
                                                      sleep_seen_cb,
                                                      &seen,
                                                      NULL);
    prepare_for_sleep(f, TRUE);
    g_assert_true(wgm_test_wait_flag(&seen, WAIT_MS));
    iterate_ms(4 * DEBOUNCE_MS);
    g_assert_cmpuint(f->changes->len, ==, 0);
    g_dbus_connection_signal_unsubscribe(f->conn, subscription);

    prepare_for_sleep(f, FALSE);
    assert_changes(f, 1);
    g_assert_cmpstr(f->changes->pdata[0], ==, "resume");
}

/* The mesh's own interface and its own VPN connection: its device appears,
 * is activated, gets and changes addresses, and its connection, then the
 * mesh's VPN become primary.  None of it counts; another VPN does. */
static void
test_ignored(Fixture *f, gconstpointer data)
{
    g_autofree char *wgm0   = NULL;
    g_autofree char *own    = NULL;
    g_autofree char *config = NULL;
    g_autofree char *vpn    = NULL;
    g_autofree char *other  = NULL;

    if (!f->conn)
        return;
    wgm0   = add_device(f, MESH_IFNAME, NM_DEVICE_STATE_DISCONNECTED);
    own    = activate(f, MESH_IFNAME, wgm0, NULL);
    config = add_ip4_config(f, wgm0, "10.77.0.1", TRUE);
    set_ip4_address(f, config, "10.77.0.5");
    set_primary(f, own);
    set_connectivity(f, NM_CONNECTIVITY_LIMITED);
    assert_changes(f, 1);
    g_assert_cmpstr(f->changes->pdata[0], ==, "connectivity limited");

    /* NetworkManager's VPN connection lists the devices it runs over, not
     * its own interface. */
    vpn = activate(f, "mesh", f->eth0, WGM_VPN_SERVICE_TYPE);
    set_primary(f, vpn);
    set_connectivity(f, NM_CONNECTIVITY_FULL);
    assert_changes(f, 2);
    g_assert_cmpstr(f->changes->pdata[1], ==, "connectivity full");

    other = activate(f, "office", f->eth0, "org.freedesktop.NetworkManager.openvpn");
    set_primary(f, other);
    assert_changes(f, 3);
    g_assert_cmpstr(f->changes->pdata[2], ==, "primary connection eth0 -> office");
}

/* Two changes, each after the previous report: two reports, in order. */
static void
test_two_bursts(Fixture *f, gconstpointer data)
{
    if (!f->conn)
        return;
    set_connectivity(f, NM_CONNECTIVITY_LIMITED);
    g_assert_true(wait_for(has_changes, f, GUINT_TO_POINTER(1)));
    set_ip4_address(f, f->eth0_config, "192.0.2.11");
    assert_changes(f, 2);
    g_assert_cmpstr(f->changes->pdata[0], ==, "connectivity limited");
    g_assert_cmpstr(f->changes->pdata[1], ==, "ip config of eth0");
}

/* Routes alone are no network change: NetworkManager adds host routes to
 * the VPN's gateway on the uplink when the mesh itself comes up. */
static void
test_routes_alone(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) props = NULL;

    if (!f->conn)
        return;
    props = g_variant_ref_sink(g_variant_new_parsed(
        "{'AddressData': <[{'address': <'192.0.2.10'>, 'prefix': <uint32 24>}]>, "
        "'Gateway': <''>, "
        "'RouteData': <[{'dest': <'10.211.1.2'>, 'prefix': <uint32 32>}]>}"));
    g_variant_unref(call(f,
                         BUS_NM,
                         f->eth0_config,
                         MOCK_IFACE,
                         "UpdateProperties",
                         g_variant_new("(s@a{sv})", "", props)));
    /* proven quiet by a later change being reported alone */
    iterate_ms(4 * f->debounce_ms);
    set_connectivity(f, NM_CONNECTIVITY_LIMITED);
    assert_changes(f, 1);
    g_assert_cmpstr(f->changes->pdata[0], ==, "connectivity limited");
}

static gboolean
has_logged_nm_missing(Fixture *f, gconstpointer data)
{
    return count_logged("NetworkManager is not running")
           + count_logged("cannot watch NetworkManager");
}

/* A bus without NetworkManager and logind: said once each, nothing else. */
static void
test_no_services(Fixture *f, gconstpointer data)
{
    start_netmon(f, DEBOUNCE_MS);
    g_assert_true(wait_for(has_logged_nm_missing, f, NULL));
    g_assert_true(wait_for(has_logged, f, "logind is not on the bus"));
    iterate_ms(4 * DEBOUNCE_MS);
    g_assert_cmpuint(count_logged("NetworkManager"), ==, 1);
    g_assert_cmpuint(count_logged("logind"), ==, 1);
    g_assert_cmpuint(f->changes->len, ==, 0);
}

static gboolean
has_change(Fixture *f, gconstpointer needle)
{
    for (guint i = 0; i < f->changes->len; i++) {
        if (strstr(f->changes->pdata[i], needle))
            return TRUE;
    }
    return FALSE;
}

/* NetworkManager starting after the monitor is watched from then on. */
static void
test_nm_appears(Fixture *f, gconstpointer data)
{
    if (!have_dbusmock) {
        g_test_skip("python3-dbusmock is not installed for /usr/bin/python3");
        return;
    }
    start_netmon(f, DEBOUNCE_MS);
    g_assert_true(wait_for(has_logged_nm_missing, f, NULL));
    f->nm = spawn_mock(f, "networkmanager", BUS_NM);
    g_assert_true(wait_for(has_logged, f, "NetworkManager appeared"));
    set_connectivity(f, NM_CONNECTIVITY_LIMITED);
    g_assert_true(wait_for(has_change, f, "connectivity limited"));
}

/* Dropped while NMClient still initialises: cancelled, nothing left. */
static void
test_dispose_during_init(Fixture *f, gconstpointer data)
{
    if (!have_dbusmock) {
        g_test_skip("python3-dbusmock is not installed for /usr/bin/python3");
        return;
    }
    f->nm = spawn_mock(f, "networkmanager", BUS_NM);
    start_netmon(f, DEBOUNCE_MS);
    g_clear_object(&f->netmon);
    g_assert_true(wait_for(conn_released, f, NULL));
    g_assert_cmpuint(count_logged("NetworkManager"), ==, 0);
}

static gboolean
python_has_dbusmock(void)
{
    const char *argv[] = {
        wgm_test_getenv_or("WGM_TEST_PYTHON3", "/usr/bin/python3"), "-c", "import dbusmock", NULL
    };
    int status = -1;

    return g_spawn_sync(NULL,
                        (char **)argv,
                        NULL,
                        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        &status,
                        NULL)
           && g_spawn_check_wait_status(status, NULL);
}

int
main(int argc, char *argv[])
{
    int ret;

    logged = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(capture_writer, NULL, NULL);
    g_test_init(&argc, &argv, NULL);
    have_dbusmock = python_has_dbusmock();

#define ADD(path, data, setup, fn) \
    g_test_add(path, Fixture, GUINT_TO_POINTER(data), setup, fn, teardown)
    ADD("/netmon/burst", BURST_DEBOUNCE_MS, setup_mocks, test_burst);
    ADD("/netmon/sleep", DEBOUNCE_MS, setup_mocks, test_sleep);
    ADD("/netmon/ignored-interface", DEBOUNCE_MS, setup_mocks, test_ignored);
    ADD("/netmon/two-bursts", DEBOUNCE_MS, setup_mocks, test_two_bursts);
    ADD("/netmon/routes-alone", DEBOUNCE_MS, setup_mocks, test_routes_alone);
    ADD("/netmon/no-services", 0, setup_bus, test_no_services);
    ADD("/netmon/nm-appears", 0, setup_bus, test_nm_appears);
    ADD("/netmon/dispose-during-init", 0, setup_bus, test_dispose_during_init);
#undef ADD

    ret = g_test_run();
    g_clear_pointer(&logged, g_ptr_array_unref);
    return ret;
}
