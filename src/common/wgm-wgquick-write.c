/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The writer of wgm-wgquick.h; the reader is in wgm-wgquick.c. */
#include "config.h"

#include "wgm-wgquick.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-config.h"
#include "wgm-key.h"
#include "wgm-parse.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick-private.h"

/* Settings of the profile wg-quick has no word for, kept in "# wgmesh:"
 * comments of [Interface], which the reader takes back. */
static const char *const interface_comment_keys[] = {
    WGM_KEY_BACKEND,       WGM_KEY_LAZY_CONNECTIONS, WGM_KEY_INACTIVITY_TIMEOUT,
    WGM_KEY_GIVE_UP_AFTER, WGM_KEY_NETWORK_MAP,
};

/* A value of @s_vpn's vpn.data, stripped; NULL when unset or empty. */
static char *
data_value(NMSettingVpn *s_vpn, const char *key)
{
    const char *v = nm_setting_vpn_get_data_item(s_vpn, key);
    char       *s;

    if (!v)
        return NULL;
    s = g_strstrip(g_strdup(v));
    if (!s[0])
        g_clear_pointer(&s, g_free);
    return s;
}

/* A list of vpn.data as wg-quick spells it ("a, b"); NULL when empty. */
static char *
data_list(NMSettingVpn *s_vpn, const char *key)
{
    const char *v       = nm_setting_vpn_get_data_item(s_vpn, key);
    g_auto(GStrv) items = NULL;

    if (!v)
        return NULL;
    items = wgm_parse_split_list(v);
    return items[0] ? g_strjoinv(", ", items) : NULL;
}

static char *
peer_key(guint index, const char *field)
{
    return g_strdup_printf(WGM_KEY_PEER_PREFIX "%u.%s", index, field);
}

/* Writes "@prefix@value\n", unless @value is NULL.  wg-quick reads a line
 * at a time and cuts it at the first '#': a value must hold neither a line
 * break nor, outside a comment, a '#'.  @value is never quoted (it may be a
 * secret). */
static gboolean
write_line(GPtrArray *out, const char *key, const char *prefix, const char *value, GError **error)
{
    if (!value)
        return TRUE;
    if (strpbrk(value, "\r\n"))
        return wgm_parse_fail(
            error, key, _("holds a line break, which a wg-quick file cannot carry"));
    if (prefix[0] != '#' && strchr(value, '#'))
        return wgm_parse_fail(
            error, key, _("holds a '#', where wg-quick would read the start of a comment"));
    /* One allocation, wiped with the others once joined (see join_lines()). */
    g_ptr_array_add(out, g_strconcat(prefix, value, "\n", NULL));
    return TRUE;
}

/* A validated number, as wg(8) reads it; NULL for 0 (off) or unset. */
static char *
data_number(NMSettingVpn *s_vpn, const char *key)
{
    g_autofree char *v = data_value(s_vpn, key);

    if (!v || g_ascii_strtoull(v, NULL, 10) == 0)
        return NULL;
    return wgm_wgquick_normalize_number(v);
}

static gboolean
write_interface(NMSettingVpn *s_vpn, GPtrArray *out, GError **error)
{
    const char      *private_key = nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY);
    g_autofree char *address     = data_list(s_vpn, WGM_KEY_ADDRESS);
    g_autofree char *dns         = data_list(s_vpn, WGM_KEY_DNS);
    g_autofree char *search      = data_list(s_vpn, WGM_KEY_DNS_SEARCH);
    g_autofree char *all_dns     = NULL;
    g_autofree char *mtu         = data_number(s_vpn, WGM_KEY_MTU);
    g_autofree char *port        = data_number(s_vpn, WGM_KEY_LISTEN_PORT);
    guint            i;

    g_ptr_array_add(out, g_strdup("[Interface]\n"));
    for (i = 0; i < G_N_ELEMENTS(interface_comment_keys); i++) {
        const char      *key    = interface_comment_keys[i];
        g_autofree char *v      = data_value(s_vpn, key);
        g_autofree char *prefix = g_strdup_printf("# " WGM_WGQUICK_WGMESH_PREFIX " %s = ", key);

        if (!write_line(out, key, prefix, v, error))
            return FALSE;
    }
    if (private_key && private_key[0]) {
        if (!write_line(out, WGM_KEY_PRIVATE_KEY, "PrivateKey = ", private_key, error))
            return FALSE;
    } else {
        g_ptr_array_add(out,
                        g_strdup("# PrivateKey is not included: NetworkManager exports no "
                                 "secrets; add it here\n"));
    }
    if (dns && search)
        all_dns = g_strconcat(dns, ", ", search, NULL);
    else
        all_dns = g_strdup(dns ? dns : search);
    return write_line(out, WGM_KEY_ADDRESS, "Address = ", address, error)
           && write_line(out, WGM_KEY_DNS, "DNS = ", all_dns, error)
           && write_line(out, WGM_KEY_MTU, "MTU = ", mtu, error)
           && write_line(out, WGM_KEY_LISTEN_PORT, "ListenPort = ", port, error);
}

static gboolean
write_peer(NMSettingVpn *s_vpn, guint index, GPtrArray *out, GError **error)
{
    static const struct {
        const char *field;
        const char *prefix;
    } fields[] = {
        { WGM_PEER_FIELD_NAME, "# Name = " },
        { WGM_PEER_FIELD_LAZY, "# Lazy = " },
        { WGM_PEER_FIELD_GIVE_UP_AFTER,
          "# " WGM_WGQUICK_WGMESH_PREFIX " " WGM_PEER_FIELD_GIVE_UP_AFTER " = " },
        { WGM_PEER_FIELD_PUBLIC_KEY, "PublicKey = " },
        { WGM_PEER_FIELD_PRESHARED_KEY, "PresharedKey = " },
        { WGM_PEER_FIELD_ENDPOINT, "Endpoint = " },
        { WGM_PEER_FIELD_ALLOWED_IPS, "AllowedIPs = " },
        { WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, "PersistentKeepalive = " },
    };
    guint i;

    g_ptr_array_add(out, g_strdup("\n[Peer]\n"));
    for (i = 0; i < G_N_ELEMENTS(fields); i++) {
        const char      *field = fields[i].field;
        g_autofree char *key   = peer_key(index, field);
        g_autofree char *v     = NULL;
        const char      *secret;
        gboolean         b;

        if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) == 0) {
            g_autofree char *flags = g_strconcat(key, "-flags", NULL);

            secret = nm_setting_vpn_get_secret(s_vpn, key);
            /* The profile has one (its flags are in vpn.data) but the
             * export carries no secrets: say so rather than drop it. */
            if (!(secret && secret[0]) && nm_setting_vpn_get_data_item(s_vpn, flags)) {
                g_ptr_array_add(out,
                                g_strdup("# PresharedKey is not included: NetworkManager exports "
                                         "no secrets; add it here\n"));
                continue;
            }
            if (!write_line(out, key, fields[i].prefix, secret && secret[0] ? secret : NULL, error))
                return FALSE;
            continue;
        }
        if (strcmp(field, WGM_PEER_FIELD_ALLOWED_IPS) == 0)
            v = data_list(s_vpn, key);
        else if (strcmp(field, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE) == 0)
            v = data_number(s_vpn, key);
        else
            v = data_value(s_vpn, key);
        if (v && strcmp(field, WGM_PEER_FIELD_LAZY) == 0 && wgm_parse_bool(key, v, &b, NULL)) {
            g_free(v);
            v = g_strdup(b ? "yes" : "no");
        }
        if (!write_line(out, key, fields[i].prefix, v, error))
            return FALSE;
    }
    return TRUE;
}

static int
uint_cmp(gconstpointer a, gconstpointer b)
{
    guint ua = *(const guint *)a;
    guint ub = *(const guint *)b;

    return ua < ub ? -1 : ua > ub;
}

/* Indexes of the peers, in order: those with a public key (the profile
 * has been checked, so every peer has one). */
static GArray *
peer_indexes(NMSettingVpn *s_vpn)
{
    g_autofree const char **keys    = nm_setting_vpn_get_data_keys(s_vpn, NULL);
    GArray                 *indexes = g_array_new(FALSE, FALSE, sizeof(guint));
    guint                   i;

    for (i = 0; keys && keys[i]; i++) {
        const char      *field;
        guint            index;
        g_autofree char *v = NULL;

        if (wgm_peer_key_split(keys[i], &index, &field, NULL) != WGM_PEER_KEY_VALID
            || strcmp(field, WGM_PEER_FIELD_PUBLIC_KEY) != 0)
            continue;
        v = data_value(s_vpn, keys[i]);
        if (v)
            g_array_append_val(indexes, index);
    }
    g_array_sort(indexes, uint_cmp);
    return indexes;
}

/* The profile's own checks, with a stand-in for a private key left out. */
static gboolean
check_setting(NMSettingVpn *s_vpn, GError **error)
{
    g_autoptr(NMSettingVpn) copy = NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(s_vpn)));
    g_autoptr(WgmConfig) config  = NULL;
    const char *private_key      = nm_setting_vpn_get_secret(copy, WGM_KEY_PRIVATE_KEY);

    if (!private_key || !private_key[0])
        wgm_wgquick_add_placeholder_key(copy);
    config = wgm_config_new_from_setting(copy, error);
    return config != NULL;
}

/* The text in one allocation: a growing buffer would leave copies of the
 * keys behind in the blocks it gives up. */
static char *
join_lines(GPtrArray *lines)
{
    gsize len = 0;
    char *text;
    char *p;
    guint i;

    for (i = 0; i < lines->len; i++)
        len += strlen(lines->pdata[i]);
    p = text = g_malloc(len + 1);
    for (i = 0; i < lines->len; i++)
        p = g_stpcpy(p, lines->pdata[i]);
    *p = '\0';
    return text;
}

char *
wgm_wgquick_write(NMSettingVpn *s_vpn, GError **error)
{
    g_autoptr(GArray) indexes = NULL;
    g_autoptr(GPtrArray) out  = NULL;
    guint i;

    g_return_val_if_fail(NM_IS_SETTING_VPN(s_vpn), NULL);
    g_return_val_if_fail(!error || !*error, NULL);

    if (!check_setting(s_vpn, error))
        return NULL;

    out     = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_secret_free);
    indexes = peer_indexes(s_vpn);
    if (!write_interface(s_vpn, out, error))
        return NULL;
    for (i = 0; i < indexes->len; i++) {
        if (!write_peer(s_vpn, g_array_index(indexes, guint, i), out, error))
            return NULL;
    }
    return join_lines(out);
}
