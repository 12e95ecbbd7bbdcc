/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): a profile whose private key NetworkManager does not
 * keep (private-key-flags=2, NOT_SAVED), brought up with `nmcli --ask` in
 * the sandbox's real NetworkManager.  nmcli's secret agent runs the auth
 * dialog the build tree's .name file names ([GNOME] auth-dialog=) in
 * external-UI mode, prompts with what the dialog describes and reads the
 * key from its stdin; the mesh comes up with it.  A key mistyped first is
 * refused by the service, asked for again by its hint (ConnectInteractive,
 * SecretsRequired) and the second answer connects.
 */
#include "config.h"

#include <string.h>

#include "wgm-test-nm.h"
#include "wgm-test-util.h"

#define CONN_PREFIX WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH_IFACE  "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define PROFILE     "asked"
#define N_PEERS     2
#define TIMEOUT_MS  15000
/* Typed by the user first: not a key, and never to show up in a log. */
#define TYPO "typo-SECRET-typo"

typedef struct {
    WgmTestNm *nm;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!wgm_test_nm_require())
        return;
    f->nm = wgm_test_nm_new(N_PEERS, 1, &error);
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_nm_clear(&f->nm);
}

/* The mesh's profile with its key not saved: no vpn.secrets at all. */
static void
add_profile(Fixture *f)
{
    g_autofree char *data   = wgm_test_nm_vpn_data(f->nm, 1);
    g_autofree char *full   = g_strconcat(data, ", private-key-flags=2", NULL);
    g_autofree char *q_data = g_shell_quote(full);
    g_autoptr(GError) error = NULL;

    wgm_test_nm_exec(f->nm,
                     NULL,
                     &error,
                     "nmcli connection add type vpn con-name " PROFILE " vpn-type %s vpn.data %s",
                     WGM_TEST_NM_VPN_SERVICE,
                     q_data);
    g_assert_no_error(error);
}

/* `nmcli --ask connection up` with @answers on its stdin; its exit status,
 * its output (prompts included) in @out. */
static int
up_asking(Fixture *f, const char *answers, char **out)
{
    g_autofree char *q = g_shell_quote(answers);
    int              status;

    status = wgm_test_nm_exec_status(
        f->nm, out, "printf '%%s' %s | nmcli --ask connection up " PROFILE, q);
    g_test_message("nmcli --ask connection up: exit %d, said:\n%s", status, *out);
    return status;
}

static char *
exec_out(Fixture *f, const char *cmd)
{
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    wgm_test_nm_exec(f->nm, &out, &error, "%s", cmd);
    g_assert_no_error(error);
    return g_strstrip(out);
}

/* Waits until every peer of the mesh on @bus_name is connected: the key
 * the user typed is the one the peers know. */
static gboolean
wait_connected(Fixture *f, const char *bus_name)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    for (;;) {
        g_autoptr(GHashTable) peers = wgm_test_nm_peers(f->nm, bus_name);
        GHashTableIter iter;
        gpointer       props;
        guint          connected = 0;

        g_hash_table_iter_init(&iter, peers);
        while (g_hash_table_iter_next(&iter, NULL, &props)) {
            const char *state = NULL;

            if (g_variant_lookup(props, "State", "&s", &state) && g_str_equal(state, "connected"))
                connected++;
        }
        if (connected == N_PEERS)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_test_message("%u of %u peers connected", connected, N_PEERS);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
}

/* Up, every peer connected, and the mesh says which profile it runs
 * (Mesh.Connection, the UUID the editor looks for); then down. */
static void
check_up_and_down(Fixture *f)
{
    g_autoptr(GPtrArray) names = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
    g_autofree char *state     = exec_out(f, "nmcli -g GENERAL.STATE connection show " PROFILE);
    g_autofree char *uuid      = exec_out(f, "nmcli -g connection.uuid connection show " PROFILE);
    g_autofree char *prop      = NULL;
    g_autofree char *cmd       = NULL;
    g_autoptr(GError) error    = NULL;

    g_assert_cmpstr(state, ==, "activated");
    g_assert_cmpuint(names->len, ==, 1);
    g_assert_true(wait_connected(f, names->pdata[0]));
    cmd  = g_strdup_printf("gdbus call --system --dest %s --object-path %s "
                           "--method org.freedesktop.DBus.Properties.Get %s Connection",
                          (const char *)names->pdata[0],
                          WGM_TEST_NM_MESH_PATH,
                          MESH_IFACE);
    prop = exec_out(f, cmd);
    g_assert_nonnull(strstr(prop, uuid));
    wgm_test_nm_exec(f->nm, NULL, &error, "nmcli connection down " PROFILE);
    g_assert_no_error(error);
}

static void
assert_no_secret_logged(Fixture *f)
{
    g_autofree char *log = wgm_test_nm_log_since(f->nm, 0);

    g_assert_null(strstr(log, wgm_test_nm_get_var(f->nm, "MESH_1_PRIVATE_KEY")));
    g_assert_null(strstr(log, TYPO));
}

/* The prompt nmcli shows is the auth dialog's: its description and label
 * (nmcli's own fallback knows no wgmesh secret and would ask nothing). */
static void
test_ask(Fixture *f, gconstpointer data)
{
    g_autofree char *answers = NULL;
    g_autofree char *out     = NULL;

    if (!f->nm)
        return;
    add_profile(f);
    answers = g_strdup_printf("%s\n", wgm_test_nm_get_var(f->nm, "MESH_1_PRIVATE_KEY"));
    g_assert_cmpint(up_asking(f, answers, &out), ==, 0);
    g_assert_nonnull(strstr(out, "The private key of “" PROFILE "” is needed."));
    g_assert_nonnull(strstr(out, "Private key"));
    check_up_and_down(f);
    assert_no_secret_logged(f);
}

/* A typo is not a key: the service asks again (its message reaches the
 * prompt through NetworkManager, the agent and the dialog's hints), and the
 * key typed next brings the mesh up. */
static void
test_ask_again(Fixture *f, gconstpointer data)
{
    g_autofree char *answers = NULL;
    g_autofree char *out     = NULL;

    if (!f->nm)
        return;
    add_profile(f);
    answers = g_strdup_printf(TYPO "\n%s\n", wgm_test_nm_get_var(f->nm, "MESH_1_PRIVATE_KEY"));
    g_assert_cmpint(up_asking(f, answers, &out), ==, 0);
    g_assert_nonnull(strstr(out, "Not a WireGuard key"));
    check_up_and_down(f);
    assert_no_secret_logged(f);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/e2e/secrets/ask", Fixture, NULL, fixture_setup, test_ask, fixture_teardown);
    g_test_add(
        "/e2e/secrets/ask-again", Fixture, NULL, fixture_setup, test_ask_again, fixture_teardown);

    return g_test_run();
}
