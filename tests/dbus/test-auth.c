/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgm-auth on a test bus with the system bus's default policy plus the
 * service's and polkit's (tests/dbus/polkit-bus.conf).  This process plays
 * the service: one method on the Mesh interface, answered with what
 * wgm_auth_check_async() decided.  The callers are `gdbus call` run as root
 * or as nobody, so the uid is the one the bus vouches for; polkit is
 * python3-dbusmock's polkitd template, or absent.
 */
#include "config.h"

#include "wgm-auth.h"
#include "wgm-error.h"
#include "wgm-test-bus.h"
#include "wgm-test-polkit.h"
#include "wgm-test-util.h"

#define TEST_NAME   "org.freedesktop.NetworkManager.wgmesh.AuthTest"
#define TEST_PATH   "/org/freedesktop/NetworkManager/wgmesh"
#define TEST_METHOD "org.freedesktop.NetworkManager.wgmesh.Mesh.ResetBackoff"

#define NOT_AUTHORIZED "org.freedesktop.NetworkManager.wgmesh.Error.NotAuthorized"

static const char introspection[] =
    "<node><interface name='org.freedesktop.NetworkManager.wgmesh.Mesh'>"
    "<method name='ResetBackoff'/>"
    "</interface></node>";

typedef struct {
    WgmTestBus      *bus;
    WgmTestPolkit   *polkit;
    GDBusConnection *connection; /* the service's */
    guint            registration;
    GCancellable    *cancellable;
    guint            n_allowed;
    guint            n_cancelled;
} Fixture;

typedef struct {
    Fixture               *f;
    GDBusMethodInvocation *invocation;
} Check;

static void
checked_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Check *check            = user_data;
    g_autoptr(GError) error = NULL;

    if (wgm_auth_check_finish(result, &error)) {
        check->f->n_allowed++;
        g_dbus_method_invocation_return_value(check->invocation, NULL);
    } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        check->f->n_cancelled++;
        g_dbus_method_invocation_return_error(
            check->invocation, WGM_ERROR, WGM_ERROR_FAILED, "the check was cancelled");
    } else {
        g_assert_error(error, WGM_ERROR, WGM_ERROR_NOT_AUTHORIZED);
        g_dbus_method_invocation_return_gerror(check->invocation, error);
    }
    g_free(check);
}

static void
method_call(GDBusConnection       *connection,
            const char            *sender,
            const char            *path,
            const char            *iface,
            const char            *method,
            GVariant              *params,
            GDBusMethodInvocation *invocation,
            gpointer               user_data)
{
    Fixture *f   = user_data;
    Check   *chk = g_new0(Check, 1);

    chk->f          = f;
    chk->invocation = invocation;
    wgm_auth_check_async(
        connection, sender, WGM_AUTH_ACTION_MODIFY, f->cancellable, checked_cb, chk);
}

static const GDBusInterfaceVTable vtable = { method_call, NULL, NULL, { 0 } };

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error       = NULL;
    g_autoptr(GDBusNodeInfo) node = NULL;
    g_autoptr(GVariant) reply     = NULL;
    g_autofree char *policy       = NULL;

    if (!wgm_test_polkit_require())
        return;
    policy = wgm_test_polkit_bus_policy();
    f->bus = wgm_test_bus_new_with_policy(policy, &error);
    g_assert_no_error(error);
    f->connection = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);
    f->cancellable = g_cancellable_new();

    node = g_dbus_node_info_new_for_xml(introspection, &error);
    g_assert_no_error(error);
    f->registration = g_dbus_connection_register_object(
        f->connection, TEST_PATH, node->interfaces[0], &vtable, f, NULL, &error);
    g_assert_no_error(error);
    reply = g_dbus_connection_call_sync(f->connection,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "RequestName",
                                        g_variant_new("(su)", TEST_NAME, 0u),
                                        G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        &error);
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    if (f->registration)
        g_dbus_connection_unregister_object(f->connection, f->registration);
    if (f->connection)
        g_dbus_connection_close_sync(f->connection, NULL, NULL);
    g_clear_object(&f->connection);
    g_clear_object(&f->cancellable);
    g_clear_pointer(&f->polkit, wgm_test_polkit_free);
    g_clear_pointer(&f->bus, wgm_test_bus_free);
}

static gboolean
call(Fixture *f, gboolean as_nobody, char **out_error)
{
    return wgm_test_gdbus_call(
        f->bus, as_nobody, TEST_NAME, TEST_PATH, TEST_METHOD, NULL, out_error);
}

static void
start_polkit(Fixture *f, const char *allowed)
{
    const char *actions[]   = { allowed, NULL };
    g_autoptr(GError) error = NULL;

    f->polkit = wgm_test_polkit_new(f->bus, &error);
    g_assert_no_error(error);
    wgm_test_polkit_set_allowed(f->polkit, actions);
}

/* A refusal names the caller, its uid and the action, and says why. */
static void
assert_refused(const char *err, const char *why)
{
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, NOT_AUTHORIZED ": caller :"));
    g_assert_nonnull(strstr(err, "(uid 65534) refused for " WGM_AUTH_ACTION_MODIFY ": "));
    g_assert_nonnull(strstr(err, why));
}

static void
test_root_without_polkit(Fixture *f, gconstpointer data)
{
    g_autofree char *err = NULL;

    if (!f->bus)
        return;
    g_assert_true(call(f, FALSE, &err));
    g_assert_cmpuint(f->n_allowed, ==, 1);
}

static void
test_nobody_without_polkit(Fixture *f, gconstpointer data)
{
    g_autofree char *err = NULL;

    if (!f->bus)
        return;
    g_assert_false(call(f, TRUE, &err));
    assert_refused(err, "polkit is not available and the caller is not root");
    g_assert_cmpuint(f->n_allowed, ==, 0);
}

static void
test_nobody_polkit_denies(Fixture *f, gconstpointer data)
{
    g_autofree char *err = NULL;

    if (!f->bus)
        return;
    /* Another action allowed is not this one. */
    start_polkit(f, "org.freedesktop.NetworkManager.network-control");
    g_assert_false(call(f, TRUE, &err));
    assert_refused(err, "not authorized by polkit");
    g_assert_cmpuint(f->n_allowed, ==, 0);

    /* Root never needs polkit's word. */
    g_assert_true(call(f, FALSE, NULL));
    g_assert_cmpuint(f->n_allowed, ==, 1);
}

static void
test_nobody_polkit_allows(Fixture *f, gconstpointer data)
{
    g_autofree char *err = NULL;

    if (!f->bus)
        return;
    start_polkit(f, WGM_AUTH_ACTION_MODIFY);
    g_assert_true(call(f, TRUE, &err));
    g_assert_cmpuint(f->n_allowed, ==, 1);
}

static gboolean
cancel_when_hanging_cb(gpointer user_data)
{
    Fixture *f = user_data;

    if (!wgm_test_polkit_has_hanging_calls(f->polkit))
        return G_SOURCE_CONTINUE;
    g_cancellable_cancel(f->cancellable);
    return G_SOURCE_REMOVE;
}

/* An authentication dialog left open while the service stops: the check
 * ends at once, cancelled, and the caller gets an answer. */
static void
test_cancel(Fixture *f, gconstpointer data)
{
    g_autofree char *err = NULL;

    if (!f->bus)
        return;
    start_polkit(f, WGM_AUTH_ACTION_MODIFY);
    wgm_test_polkit_set_hang(f->polkit, TRUE);
    g_timeout_add(50, cancel_when_hanging_cb, f);
    g_assert_false(call(f, TRUE, &err));
    g_assert_nonnull(strstr(err, "the check was cancelled"));
    g_assert_cmpuint(f->n_cancelled, ==, 1);
    g_assert_cmpuint(f->n_allowed, ==, 0);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/auth/root-without-polkit", test_root_without_polkit);
    ADD("/auth/nobody-without-polkit", test_nobody_without_polkit);
    ADD("/auth/nobody-polkit-denies", test_nobody_polkit_denies);
    ADD("/auth/nobody-polkit-allows", test_nobody_polkit_allows);
    ADD("/auth/cancel", test_cancel);
#undef ADD

    return g_test_run();
}
