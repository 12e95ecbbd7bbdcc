/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): wg-quick files in and out of a real NetworkManager
 * 1.42 with nmcli, through the editor plugin the build tree's .name file
 * names in its [libnm] section (the sandbox of tests/e2e/nm-sandbox.sh).
 *
 *   - `nmcli connection import type wgmesh file mesh.conf` for the
 *     sandbox's mesh 1 gives a profile NetworkManager shows, with the
 *     private key a secret; `nmcli connection up` connects every peer (D-Bus
 *     State "connected") and pings go through the tunnel;
 *   - `nmcli connection export` writes a file without the private key that
 *     says so, which `wg-quick strip` accepts;
 *   - a broken file is refused with the reader's FILE:LINE message in
 *     nmcli's output, and no profile is added.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "wgm-test-nm.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define CONN_PREFIX   WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define UP_TIMEOUT_MS 30000
#define N_PEERS       3
#define MESH          1

typedef struct {
    WgmTestNm *nm;
} Fixture;

static gboolean
require_wg_quick(void)
{
    g_autofree char *path = g_find_program_in_path("wg-quick");
    const char      *ci   = g_getenv("CI");

    if (path)
        return TRUE;
    if (g_strcmp0(ci, "true") == 0 || g_strcmp0(ci, "1") == 0)
        g_error("e2e tests must run in CI, but `wg-quick` (wireguard-tools) is not installed");
    g_test_skip("`wg-quick` not found (install wireguard-tools)");
    return FALSE;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!wgm_test_nm_require() || !require_wg_quick())
        return;
    f->nm = wgm_test_nm_new(GPOINTER_TO_UINT(data), 1, &error);
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_nm_clear(&f->nm);
}

/* A value of sandbox.env, by a name built from @fmt. */
static const char *var(Fixture *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static const char *
var(Fixture *f, const char *fmt, ...)
{
    g_autofree char *name = NULL;
    const char      *value;
    va_list          ap;

    va_start(ap, fmt);
    name = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    value = wgm_test_nm_get_var(f->nm, name);
    if (!value)
        g_error("sandbox.env has no %s", name);
    return value;
}

/* A file in the sandbox's directory, which nmcli inside sees at the same
 * path (only /run, /dev and NetworkManager's own directories differ). */
static char *
sandbox_file(Fixture *f, const char *name)
{
    return g_build_filename(wgm_test_nm_get_dir(f->nm), name, NULL);
}

/* Mesh @MESH as a user would write it for wg-quick: the mesh's key pair,
 * address and port, every sandbox peer with its endpoint and tunnel
 * address, and a PostUp the import drops with a warning (line 5). */
static char *
mesh_conf(Fixture *f)
{
    g_autofree char *address = wgm_test_nm_mesh_address(MESH);
    GString         *s       = g_string_new(NULL);

    g_string_append_printf(s,
                           "[Interface]\n"
                           "PrivateKey = %s\n"
                           "Address = %s\n"
                           "ListenPort = %s\n"
                           "PostUp = true\n",
                           var(f, "MESH_%u_PRIVATE_KEY", MESH),
                           address,
                           var(f, "MESH_%u_LISTEN_PORT", MESH));
    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char *tunnel = wgm_test_nm_peer_tunnel(MESH, i);

        g_string_append_printf(s,
                               "\n[Peer]\n"
                               "# Name = peer-%u\n"
                               "PublicKey = %s\n"
                               "Endpoint = %s\n"
                               "AllowedIPs = %s/32\n",
                               i,
                               var(f, "PEER_%u_PUBLIC_KEY", i),
                               var(f, "PEER_%u_ENDPOINT", i),
                               tunnel);
    }
    return g_string_free(s, FALSE);
}

static void
write_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
    g_assert_no_error(error);
}

static gboolean
line_starts(const char *text, const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (g_ascii_strncasecmp(g_strchug(lines[i]), prefix, strlen(prefix)) == 0)
            return TRUE;
    }
    return FALSE;
}

static char **
connection_names(Fixture *f)
{
    g_autofree char *out    = NULL;
    g_autoptr(GError) error = NULL;

    wgm_test_nm_exec(f->nm, &out, &error, "nmcli -g NAME connection show");
    g_assert_no_error(error);
    return g_strsplit(g_strstrip(out), "\n", -1);
}

/* The plugin NetworkManager started for the one active mesh. */
static char *
plugin_bus_name(Fixture *f)
{
    g_autoptr(GPtrArray) names = wgm_test_nm_list_names(f->nm, CONN_PREFIX);

    g_assert_cmpuint(names->len, ==, 1);
    return g_strdup(names->pdata[0]);
}

static void
ping_all(Fixture *f)
{
    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char *addr   = wgm_test_nm_peer_tunnel(MESH, i);
        g_autofree char *route  = NULL;
        g_autofree char *out    = NULL;
        g_autoptr(GError) error = NULL;

        /* Through the tunnel, not around it. */
        wgm_test_nm_exec(f->nm, &route, &error, "ip -4 route get %s", addr);
        g_assert_no_error(error);
        g_assert_nonnull(strstr(route, " dev wgm"));
        wgm_test_nm_exec(f->nm,
                         &out,
                         &error,
                         "ping -n -q -i 0.2 -c 3 -W 2 -w 5 %s | tail -n 2 | tr '\\n' ' '",
                         addr);
        g_assert_no_error(error);
        g_test_message("ping %s (peer-%u): %s", addr, i, g_strstrip(out));
    }
}

/* ---- the tests ---- */

static void
import_mesh(Fixture *f, const char *path)
{
    g_autofree char *conf     = mesh_conf(f);
    g_autofree char *q_path   = g_shell_quote(path);
    g_autofree char *out      = NULL;
    g_autofree char *warning  = g_strdup_printf("%s:5: PostUp", path);
    g_autofree char *key_line = NULL;
    g_autoptr(GError) error   = NULL;
    g_auto(GStrv) names       = NULL;
    int status;

    write_file(path, conf);
    status =
        wgm_test_nm_exec_status(f->nm, &out, "nmcli connection import type wgmesh file %s", q_path);
    g_test_message("$ nmcli connection import type wgmesh file %s\n%s", path, out);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(out, "Connection 'mesh' ("));
    g_assert_nonnull(strstr(out, "successfully added"));
    /* The reader's warning reaches the user (on nmcli's stderr). */
    g_assert_nonnull(strstr(out, warning));

    names = connection_names(f);
    g_assert_true(g_strv_contains((const char *const *)names, "mesh"));
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm,
                     &out,
                     &error,
                     "nmcli -g connection.type,vpn.service-type,connection.autoconnect "
                     "connection show mesh");
    g_assert_no_error(error);
    g_assert_cmpstr(g_strstrip(out), ==, "vpn\n" WGM_TEST_NM_VPN_SERVICE "\nno");

    /* The private key is a secret NetworkManager keeps, not vpn.data. */
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm, &out, &error, "nmcli -g vpn.data connection show mesh");
    g_assert_no_error(error);
    g_assert_null(strstr(out, var(f, "MESH_%u_PRIVATE_KEY", MESH)));
    g_assert_nonnull(strstr(out, var(f, "PEER_%u_PUBLIC_KEY", 1)));
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm, &out, &error, "nmcli -s -g vpn.secrets connection show mesh");
    g_assert_no_error(error);
    key_line = g_strdup_printf("private-key = %s", var(f, "MESH_%u_PRIVATE_KEY", MESH));
    g_assert_nonnull(strstr(out, key_line));
}

/* Import, up, every peer connected and reachable, export, wg-quick strip. */
static void
test_import_up_export(Fixture *f, gconstpointer data)
{
    g_autofree char *path       = NULL;
    g_autofree char *exported   = NULL;
    g_autofree char *q_exported = NULL;
    g_autofree char *out        = NULL;
    g_autofree char *text       = NULL;
    g_autofree char *lower      = NULL;
    g_autofree char *bus_name   = NULL;
    g_autoptr(WgmTestVpn) vpn   = NULL;
    g_autoptr(GHashTable) peers = NULL;
    g_autoptr(GError) error     = NULL;
    struct stat st;
    int         status;

    if (!f->nm)
        return;
    path = sandbox_file(f, "mesh.conf");
    import_mesh(f, path);

    wgm_test_nm_exec(f->nm, &out, &error, "nmcli connection up mesh");
    g_assert_no_error(error);
    g_test_message("$ nmcli connection up mesh\n%s", out);
    bus_name = plugin_bus_name(f);
    vpn      = wgm_test_vpn_new(wgm_test_nm_get_bus_address(f->nm), bus_name);
    g_assert_true(wgm_test_vpn_wait_peers_state(vpn, "connected", UP_TIMEOUT_MS));
    peers = wgm_test_vpn_get_peers(vpn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(peers), ==, N_PEERS);
    for (guint i = 1; i <= N_PEERS; i++) {
        GVariant        *props = g_hash_table_lookup(peers, var(f, "PEER_%u_PUBLIC_KEY", i));
        g_autofree char *name  = g_strdup_printf("peer-%u", i);
        const char      *s     = NULL;

        g_assert_nonnull(props);
        /* The "# Name =" hint became the peer's name. */
        g_assert_true(g_variant_lookup(props, "Name", "&s", &s));
        g_assert_cmpstr(s, ==, name);
        g_assert_true(g_variant_lookup(props, "State", "&s", &s));
        g_assert_cmpstr(s, ==, "connected");
    }
    g_test_message("%s: all %u peers connected", bus_name, N_PEERS);
    ping_all(f);

    /* Export: NetworkManager hands the plugin the profile without secrets. */
    exported   = sandbox_file(f, "out.conf");
    q_exported = g_shell_quote(exported);
    g_clear_pointer(&out, g_free);
    status = wgm_test_nm_exec_status(f->nm, &out, "nmcli connection export mesh %s", q_exported);
    g_test_message("$ nmcli connection export mesh %s\n%s", exported, out);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(g_file_get_contents(exported, &text, NULL, &error));
    g_assert_no_error(error);
    g_test_message("%s:\n%s", exported, text);
    g_assert_cmpint(stat(exported, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    g_assert_false(line_starts(text, "PrivateKey"));
    g_assert_null(strstr(text, var(f, "MESH_%u_PRIVATE_KEY", MESH)));
    /* ... and says so in a comment. */
    g_assert_true(line_starts(text, "#"));
    lower = g_ascii_strdown(text, -1);
    g_assert_nonnull(strstr(lower, "private"));
    g_assert_true(line_starts(text, "[Interface]"));
    for (guint i = 1; i <= N_PEERS; i++)
        g_assert_nonnull(strstr(text, var(f, "PEER_%u_PUBLIC_KEY", i)));

    /* wg-quick takes it: strip leaves what `wg setconf` reads. */
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm, &out, &error, "wg-quick strip %s", q_exported);
    g_assert_no_error(error);
    g_test_message("$ wg-quick strip %s\n%s", exported, out);
    g_assert_false(line_starts(out, "Address"));
    for (guint i = 1; i <= N_PEERS; i++)
        g_assert_nonnull(strstr(out, var(f, "PEER_%u_PUBLIC_KEY", i)));

    /* Without a file name nmcli prints the export. */
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm, &out, &error, "nmcli connection export mesh");
    g_assert_no_error(error);
    g_assert_true(line_starts(out, "[Interface]"));

    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(f->nm, &out, &error, "nmcli connection down mesh");
    g_assert_no_error(error);
}

/* A broken file: nmcli fails with the reader's FILE:LINE message, and adds
 * nothing. */
static void
test_bad_file(Fixture *f, gconstpointer data)
{
    g_autofree char *path    = NULL;
    g_autofree char *q_path  = NULL;
    g_autofree char *out     = NULL;
    g_autofree char *where   = NULL;
    g_autofree char *missing = NULL;
    g_auto(GStrv) names      = NULL;
    int status;

    if (!f->nm)
        return;
    path   = sandbox_file(f, "bad.conf");
    q_path = g_shell_quote(path);
    where  = g_strdup_printf("%s:4: ListenPort", path);
    write_file(path,
               "[Interface]\n"
               "PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
               "Address = 10.77.1.1/24\n"
               "ListenPort = seventy\n");
    status =
        wgm_test_nm_exec_status(f->nm, &out, "nmcli connection import type wgmesh file %s", q_path);
    g_test_message("$ nmcli connection import type wgmesh file %s\n%s", path, out);
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(out, where));

    /* A file that is not there: nmcli says which. */
    missing = sandbox_file(f, "missing.conf");
    g_clear_pointer(&out, g_free);
    status = wgm_test_nm_exec_status(
        f->nm, &out, "nmcli connection import type wgmesh file %s", missing);
    g_test_message("$ nmcli connection import type wgmesh file %s\n%s", missing, out);
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(out, "missing.conf"));

    names = connection_names(f);
    g_assert_false(g_strv_contains((const char *const *)names, "bad"));
    g_assert_false(g_strv_contains((const char *const *)names, "missing"));
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/e2e/import/import-up-export",
               Fixture,
               GUINT_TO_POINTER(N_PEERS),
               fixture_setup,
               test_import_up_export,
               fixture_teardown);
    g_test_add("/e2e/import/bad-file",
               Fixture,
               GUINT_TO_POINTER(1),
               fixture_setup,
               test_bad_file,
               fixture_teardown);
    return g_test_run();
}
