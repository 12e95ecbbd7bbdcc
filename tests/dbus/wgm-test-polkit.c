/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-test-polkit.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "wgm-test-util.h"

#define POLKIT_NAME      "org.freedesktop.PolicyKit1"
#define POLKIT_PATH      "/org/freedesktop/PolicyKit1/Authority"
#define MOCK_IFACE       "org.freedesktop.DBus.Mock"
#define OWNER_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS  30000
#define TERM_GRACE_MS    3000

struct _WgmTestPolkit {
    GSubprocess     *process;
    GDBusConnection *connection;
    gboolean         exited;
};

char *
wgm_test_polkit_bus_policy(void)
{
    return g_build_filename(g_getenv("WGM_SOURCE_ROOT"), "tests", "dbus", "polkit-bus.conf", NULL);
}

static const char *
python3(void)
{
    return wgm_test_getenv_or("WGM_PYTHON3", "/usr/bin/python3");
}

gboolean
wgm_test_polkit_require(void)
{
    const char *argv[]      = { python3(), "-c", "import dbusmock", NULL };
    const char *ci          = g_getenv("CI");
    g_autoptr(GError) error = NULL;
    g_autofree char *reason = NULL;

    if (geteuid() != 0)
        reason = g_strdup("needs root (to call the service as another user)");
    else if (!wgm_test_run(argv, NULL, &error))
        reason =
            g_strdup_printf("python3-dbusmock is not usable (set WGM_PYTHON3): %s", error->message);
    else
        return TRUE;
    if (g_strcmp0(ci, "true") == 0 || g_strcmp0(ci, "1") == 0)
        g_error("polkit tests must run in CI, but: %s", reason);
    g_test_skip(reason);
    return FALSE;
}

/* Should the test die on an assertion, the kernel tells the mock. */
static void
child_setup_pdeathsig(gpointer user_data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
exited_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
}

static void
name_appeared(GDBusConnection *connection, const char *name, const char *owner, gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
}

static gboolean
wait_owner(WgmTestPolkit *polkit, GError **error)
{
    gint64   deadline = g_get_monotonic_time() + (gint64)OWNER_TIMEOUT_MS * 1000;
    gboolean owned    = FALSE;
    guint    watch    = g_bus_watch_name_on_connection(polkit->connection,
                                                 POLKIT_NAME,
                                                 G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                 name_appeared,
                                                 NULL,
                                                 &owned,
                                                 NULL);

    while (!owned && !polkit->exited && g_get_monotonic_time() < deadline)
        wgm_test_wait_flag(&owned, 100);
    g_bus_unwatch_name(watch);
    if (owned)
        return TRUE;
    g_set_error(error,
                G_IO_ERROR,
                G_IO_ERROR_FAILED,
                "python3-dbusmock's polkitd %s",
                polkit->exited ? "exited before owning " POLKIT_NAME
                               : "did not own " POLKIT_NAME " in time");
    return FALSE;
}

WgmTestPolkit *
wgm_test_polkit_new(WgmTestBus *bus, GError **error)
{
    g_autoptr(WgmTestPolkit) polkit         = g_new0(WgmTestPolkit, 1);
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    const char *argv[] = { python3(), "-m", "dbusmock", "--system", "--template", "polkitd", NULL };

    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_setenv(
        launcher, "DBUS_SYSTEM_BUS_ADDRESS", wgm_test_bus_get_address(bus), TRUE);
    g_subprocess_launcher_set_child_setup(launcher, child_setup_pdeathsig, NULL, NULL);
    polkit->process = g_subprocess_launcher_spawnv(launcher, argv, error);
    if (!polkit->process)
        return NULL;
    g_subprocess_wait_async(polkit->process, NULL, exited_cb, &polkit->exited);

    polkit->connection = wgm_test_dbus_connect(wgm_test_bus_get_address(bus), error);
    if (!polkit->connection || !wait_owner(polkit, error))
        return NULL;
    return g_steal_pointer(&polkit);
}

static void
call_mock(WgmTestPolkit *polkit, const char *method, GVariant *params)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(polkit->connection,
                                                            POLKIT_NAME,
                                                            POLKIT_PATH,
                                                            MOCK_IFACE,
                                                            method,
                                                            params,
                                                            NULL,
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            CALL_TIMEOUT_MS,
                                                            NULL,
                                                            &error);

    g_assert_no_error(error);
}

void
wgm_test_polkit_set_allowed(WgmTestPolkit *polkit, const char *const *actions)
{
    call_mock(polkit, "SetAllowed", g_variant_new("(^as)", actions));
}

void
wgm_test_polkit_set_hang(WgmTestPolkit *polkit, gboolean hang)
{
    call_mock(polkit, "SimulateHang", g_variant_new("(b)", hang));
}

gboolean
wgm_test_polkit_has_hanging_calls(WgmTestPolkit *polkit)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(polkit->connection,
                                                            POLKIT_NAME,
                                                            POLKIT_PATH,
                                                            MOCK_IFACE,
                                                            "HaveHangingCalls",
                                                            NULL,
                                                            G_VARIANT_TYPE("(b)"),
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            CALL_TIMEOUT_MS,
                                                            NULL,
                                                            &error);
    gboolean hanging          = FALSE;

    g_assert_no_error(error);
    g_variant_get(reply, "(b)", &hanging);
    return hanging;
}

void
wgm_test_polkit_free(WgmTestPolkit *polkit)
{
    if (!polkit)
        return;
    if (polkit->process && !polkit->exited) {
        g_subprocess_send_signal(polkit->process, SIGTERM);
        if (!wgm_test_wait_flag(&polkit->exited, TERM_GRACE_MS)) {
            g_subprocess_force_exit(polkit->process);
            wgm_test_wait_flag(&polkit->exited, TERM_GRACE_MS);
        }
    }
    /* The wait callback points into this struct: it must have run. */
    g_assert_true(!polkit->process || polkit->exited);
    if (polkit->connection)
        g_dbus_connection_close_sync(polkit->connection, NULL, NULL);
    g_clear_object(&polkit->connection);
    g_clear_object(&polkit->process);
    g_free(polkit);
}

typedef struct {
    gboolean      done;
    GAsyncResult *result;
} Pending;

static void
communicated_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Pending *pending = user_data;

    pending->result = g_object_ref(result);
    pending->done   = TRUE;
}

gboolean
wgm_test_gdbus_call(WgmTestBus        *bus,
                    gboolean           as_nobody,
                    const char        *dest,
                    const char        *path,
                    const char        *method,
                    const char *const *args,
                    char             **out_error)
{
    static const char *const nobody[] = {
        "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL
    };
    g_autoptr(GPtrArray) argv      = g_ptr_array_new();
    g_autoptr(GSubprocess) process = NULL;
    Pending pending                = { 0 };
    g_autoptr(GError) error        = NULL;
    g_autofree char *out           = NULL;
    g_autofree char *err           = NULL;
    g_autofree char *cmd           = NULL;
    gboolean         ok;

    for (guint i = 0; as_nobody && nobody[i]; i++)
        g_ptr_array_add(argv, (char *)nobody[i]);
    g_ptr_array_add(argv, "gdbus");
    g_ptr_array_add(argv, "call");
    g_ptr_array_add(argv, "--address");
    g_ptr_array_add(argv, (char *)wgm_test_bus_get_address(bus));
    g_ptr_array_add(argv, "--dest");
    g_ptr_array_add(argv, (char *)dest);
    g_ptr_array_add(argv, "--object-path");
    g_ptr_array_add(argv, (char *)path);
    g_ptr_array_add(argv, "--method");
    g_ptr_array_add(argv, (char *)method);
    for (guint i = 0; args && args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);

    process = g_subprocess_newv((const char *const *)argv->pdata,
                                G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                &error);
    g_assert_no_error(error);
    g_subprocess_communicate_utf8_async(process, NULL, NULL, communicated_cb, &pending);
    /* gdbus gives up after its own 25 s. */
    g_assert_true(wgm_test_wait_flag(&pending.done, CALL_TIMEOUT_MS));
    g_subprocess_communicate_utf8_finish(process, pending.result, &out, &err, &error);
    g_clear_object(&pending.result);
    g_assert_no_error(error);
    g_subprocess_wait(process, NULL, &error);
    g_assert_no_error(error);

    ok  = g_subprocess_get_successful(process);
    cmd = g_strjoinv(" ", (char **)argv->pdata);
    g_test_message("%s -> %s", cmd, g_strstrip(ok ? out : err));
    if (out_error)
        *out_error = ok ? NULL : g_steal_pointer(&err);
    return ok;
}

gboolean
wgm_test_polkit_harness_connect(WgmTestHarness    *h,
                                const char        *bus_name,
                                const char        *id,
                                const char *const *data,
                                const char *const *secrets)
{
    g_autoptr(GError) error  = NULL;
    g_autoptr(GVariant) conn = NULL;
    g_autofree char *policy  = NULL;
    g_auto(GStrv) wrap       = NULL;

    if (!wgm_test_require_root() || !wgm_test_polkit_require())
        return FALSE;
    h->net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
    policy = wgm_test_polkit_bus_policy();
    h->bus = wgm_test_bus_new_with_policy(policy, &error);
    g_assert_no_error(error);
    wrap = wgm_test_net_wrap_argv(h->net, wgm_test_net_get_svc_ns(h->net));
    wgm_test_harness_start_service(h, (const char *const *)wrap, bus_name, TRUE);

    conn = wgm_test_vpn_connection_new(id, data, secrets);
    g_assert_true(wgm_test_vpn_connect(h->vpn, conn, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_test_vpn_wait_state(h->vpn, 4 /* NM_VPN_SERVICE_STATE_STARTED */, 15000));
    return TRUE;
}

WgmTestPolkit *
wgm_test_polkit_new_allowing(WgmTestBus *bus, const char *allowed)
{
    const char *actions[]   = { allowed, NULL };
    g_autoptr(GError) error = NULL;
    WgmTestPolkit *polkit   = wgm_test_polkit_new(bus, &error);

    g_assert_no_error(error);
    wgm_test_polkit_set_allowed(polkit, actions);
    return polkit;
}
