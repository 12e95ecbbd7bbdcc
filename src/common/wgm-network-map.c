/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-network-map.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"

gboolean
wgm_network_map_check_file(const char *path, GError **error)
{
    struct stat st;

    if (!path || !g_path_is_absolute(path)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("%s: \"%s\" is not an absolute path"),
                    WGM_KEY_NETWORK_MAP,
                    path ? path : "");
        return FALSE;
    }
    if (stat(path, &st) != 0) {
        int errsv = errno;

        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    "%s: %s: %s",
                    WGM_KEY_NETWORK_MAP,
                    path,
                    g_strerror(errsv));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("%s: %s is not a regular file"),
                    WGM_KEY_NETWORK_MAP,
                    path);
        return FALSE;
    }
    /* It decides who may reach this machine. */
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("%s: %s belongs to user %u: a network map decides who may reach this "
                      "machine, so it must belong to root"),
                    WGM_KEY_NETWORK_MAP,
                    path,
                    (guint)st.st_uid);
        return FALSE;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("%s: %s is writable by %s (mode %04o): a network map decides who may "
                      "reach this machine; make it writable by its owner only (chmod go-w)"),
                    WGM_KEY_NETWORK_MAP,
                    path,
                    (st.st_mode & S_IWOTH) ? _("everyone") : _("its group"),
                    (guint)(st.st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

/* The highest N of the peers of @profile (peer.N.public-key), 0 if none. */
static guint
highest_peer(NMSettingVpn *profile)
{
    g_autofree const char **keys = nm_setting_vpn_get_data_keys(profile, NULL);
    g_autoptr(GArray) indexes    = wgm_peer_indexes(keys, WGM_PEER_FIELD_PUBLIC_KEY);

    return indexes->len ? g_array_index(indexes, guint, indexes->len - 1) : 0;
}

/* "peer.K.field" of the map -> "peer.(K + offset).field". */
static char *
renumber(const char *key, guint offset)
{
    const char *field;
    guint       index;

    if (wgm_peer_key_split(key, &index, &field, NULL) != WGM_PEER_KEY_VALID)
        return g_strdup(key); /* the reader makes none such: left for the checks */
    return g_strdup_printf(WGM_KEY_PEER_PREFIX "%u.%s", index + offset, field);
}

NMSettingVpn *
wgm_network_map_merge(NMSettingVpn *profile, const WgmWgQuick *map)
{
    NMSettingVpn  *merged = NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(profile)));
    guint          offset = highest_peer(profile);
    GHashTableIter iter;
    gpointer       key, value;

    g_hash_table_iter_init(&iter, map->data);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        g_autofree char *k = renumber(key, offset);

        nm_setting_vpn_add_data_item(merged, k, value);
    }
    g_hash_table_iter_init(&iter, map->secrets);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        g_autofree char *k = renumber(key, offset);

        nm_setting_vpn_add_secret(merged, k, value);
    }
    return merged;
}

char *
wgm_network_map_describe_error(NMSettingVpn *profile, const char *path, const char *message)
{
    guint            offset = highest_peer(profile);
    const char      *colon  = strchr(message, ':');
    g_autofree char *key    = colon ? g_strndup(message, colon - message) : g_strdup(message);
    const char      *field;
    guint            index;

    if (wgm_peer_key_split(key, &index, &field, NULL) != WGM_PEER_KEY_VALID || index <= offset)
        return g_strdup(message);
    /* TRANSLATORS: "/etc/wgmesh/peers.conf: [Peer] 3: peer.12.public-key: ..." */
    return g_strdup_printf(_("%s: [Peer] %u: %s"), path, index - offset, message);
}
