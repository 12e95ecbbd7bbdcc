/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-scale: the peers, as files and as profiles (bench-scale.h). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-scale.h"
#include "bench-util.h"
#include "wgm-test-util.h"

char *
random_key(void)
{
    guint8 raw[32];

    for (guint i = 0; i < sizeof raw; i++)
        raw[i] = (guint8)g_random_int_range(0, 256);
    return g_base64_encode(raw, sizeof raw);
}

void
append_peer(Bench *b, GString *s, guint i, const char *endpoint)
{
    g_string_append_printf(s,
                           "\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n",
                           (char *)b->keys->pdata[i],
                           endpoint ? endpoint : (char *)b->endpoints->pdata[i],
                           (char *)b->allowed->pdata[i]);
}

/* wg setconf's file (no Address) or wg-quick's: all @size peers. */
char *
wg_conf(Bench *b, guint size, gboolean quick)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s,
                           "[Interface]\nPrivateKey = %s\nListenPort = %s\n",
                           wgm_test_nm_get_var(b->nm, "MESH_1_PRIVATE_KEY"),
                           quick ? QUICK_PORT : BARE_PORT);
    /* MTU as the service sets it (its default): without one, wg-quick
     * also runs two `ip` commands per endpoint to find the path's MTU. */
    if (quick)
        g_string_append(s, "Address = " MESH_ADDRESS "\nMTU = 1420\n");
    for (guint i = 0; i < size; i++)
        append_peer(b, s, i, NULL);
    return g_string_free(s, FALSE);
}

/* The map: made-up peers 1 .. @size - 1; peer @edited with @endpoint. */
char *
map_conf(Bench *b, guint size, guint edited, const char *endpoint)
{
    GString *s = g_string_new("# bench-scale\n");

    for (guint i = 1; i < size; i++)
        append_peer(b, s, i, i == edited ? endpoint : NULL);
    return g_string_free(s, FALSE);
}

gboolean
write_file(Bench *b, const char *path, const char *text, int mode)
{
    g_autoptr(GError) error = NULL;

    /* g_file_set_contents() itself writes beside and renames: the file
     * appears whole. */
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_NONE, mode, &error)) {
        fail(b, "%s", error->message);
        return FALSE;
    }
    return TRUE;
}

char *
sandbox_file(Bench *b, const char *name)
{
    return g_build_filename(wgm_test_nm_get_dir(b->nm), name, NULL);
}

/* "address=..., peer.1.*" of the real peer: every profile has it. */
char *
real_peer_data(Bench *b)
{
    return g_strdup_printf("address=" MESH_ADDRESS ", listen-port=" MESH_PORT
                           ", peer.1.public-key=%s, peer.1.endpoint=%s, peer.1.allowed-ips=%s"
                           ", peer.1.name=peer-1",
                           (char *)b->keys->pdata[0],
                           (char *)b->endpoints->pdata[0],
                           (char *)b->allowed->pdata[0]);
}

gboolean
add_profile(Bench *b, const char *name, const char *extra)
{
    g_autofree char *data   = real_peer_data(b);
    g_autofree char *full   = g_strconcat(data, extra ? extra : "", NULL);
    g_autofree char *q_data = g_shell_quote(full);
    g_autofree char *secret =
        g_strdup_printf("private-key=%s", wgm_test_nm_get_var(b->nm, "MESH_1_PRIVATE_KEY"));
    g_autofree char *q_secret = g_shell_quote(secret);
    g_autoptr(GError) error   = NULL;

    if (!wgm_test_nm_exec(b->nm,
                          NULL,
                          &error,
                          "nmcli connection add type vpn con-name %s vpn-type %s "
                          "vpn.data %s vpn.secrets %s",
                          name,
                          WGM_TEST_NM_VPN_SERVICE,
                          q_data,
                          q_secret)) {
        fail(b, "nmcli connection add %s: %s", name, error->message);
        return FALSE;
    }
    return TRUE;
}

/* A keyfile with all @size peers in vpn.data, three keys each. */
char *
inline_keyfile(Bench *b, const char *name, guint size)
{
    g_autofree char *uuid = g_uuid_string_random();
    GString         *s    = g_string_new(NULL);

    g_string_append_printf(s,
                           "[connection]\nid=%s\nuuid=%s\ntype=vpn\nautoconnect=false\n\n"
                           "[vpn]\nservice-type=%s\naddress=" MESH_ADDRESS
                           "\nlisten-port=" MESH_PORT "\npeer.1.name=peer-1\n",
                           name,
                           uuid,
                           WGM_TEST_NM_VPN_SERVICE);
    for (guint i = 0; i < size; i++)
        g_string_append_printf(
            s,
            "peer.%u.public-key=%s\npeer.%u.endpoint=%s\npeer.%u.allowed-ips=%s\n",
            i + 1,
            (char *)b->keys->pdata[i],
            i + 1,
            (char *)b->endpoints->pdata[i],
            i + 1,
            (char *)b->allowed->pdata[i]);
    g_string_append_printf(
        s, "\n[vpn-secrets]\nprivate-key=%s\n", wgm_test_nm_get_var(b->nm, "MESH_1_PRIVATE_KEY"));
    return g_string_free(s, FALSE);
}
