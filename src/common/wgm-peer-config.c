/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-peer-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"
#include "wgm-parse.h"
#include "wgm-settings-keys.h"

#define PEER_NAME_MAX 64

/* ------------------------------------------------------------------------ */
/* The peer */

WgmPeerConfig *
wgm_peer_config_new(guint index)
{
    WgmPeerConfig *peer = g_new0(WgmPeerConfig, 1);

    peer->index         = index;
    peer->allowed_ips   = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    peer->lazy          = -1;
    peer->give_up_after = -1;
    return peer;
}

void
wgm_peer_config_free(WgmPeerConfig *peer)
{
    if (!peer)
        return;
    wgm_key_wipe(&peer->preshared_key);
    g_free(peer->name);
    g_free(peer->endpoint_host);
    g_clear_pointer(&peer->allowed_ips, g_array_unref);
    g_free(peer);
}

gboolean
wgm_peer_config_is_lazy(const WgmConfig *config, const WgmPeerConfig *peer)
{
    g_return_val_if_fail(config && peer, FALSE);

    return peer->lazy < 0 ? config->lazy_connections : peer->lazy != 0;
}

guint32
wgm_peer_config_give_up_after(const WgmConfig *config, const WgmPeerConfig *peer)
{
    g_return_val_if_fail(config && peer, 0);

    return peer->give_up_after < 0 ? config->give_up_after : (guint32)peer->give_up_after;
}

/* ------------------------------------------------------------------------ */
/* Keys */

WgmPeerKey
wgm_peer_key_split(const char *key, guint *out_index, const char **out_field, GError **error)
{
    const char *num;
    const char *dot;
    guint64     index = 0;
    const char *s;

    if (!g_str_has_prefix(key, WGM_KEY_PEER_PREFIX))
        return WGM_PEER_KEY_NONE;

    num = key + strlen(WGM_KEY_PEER_PREFIX);
    dot = strchr(num, '.');
    if (!dot || !dot[1]) {
        wgm_parse_fail(error, key, _("unknown key (expected peer.N.FIELD)"));
        return WGM_PEER_KEY_BAD;
    }

    if (dot == num || (num[0] == '0' && dot - num > 1))
        goto bad_index;
    for (s = num; s < dot; s++) {
        if (!g_ascii_isdigit(*s))
            goto bad_index;
        index = index * 10 + (guint64)(*s - '0');
        if (index >= WGM_MAX_PEERS)
            goto bad_index;
    }
    *out_index = (guint)index;
    *out_field = dot + 1;
    return WGM_PEER_KEY_VALID;

bad_index:
    wgm_parse_fail(
        error,
        key,
        _("bad peer index (expected peer.N.FIELD with N a number 0-%u without leading zeros)"),
        (guint)WGM_MAX_PEERS - 1);
    return WGM_PEER_KEY_BAD;
}

static const char *const peer_fields[] = {
    WGM_PEER_FIELD_PUBLIC_KEY,
    WGM_PEER_FIELD_ENDPOINT,
    WGM_PEER_FIELD_ALLOWED_IPS,
    WGM_PEER_FIELD_PERSISTENT_KEEPALIVE,
    WGM_PEER_FIELD_LAZY,
    WGM_PEER_FIELD_NAME,
    WGM_PEER_FIELD_GIVE_UP_AFTER,
    WGM_PEER_FIELD_PRESHARED_KEY,
    WGM_PEER_FIELD_PRESHARED_KEY_FLAGS,
};

gboolean
wgm_peer_config_is_field(const char *field)
{
    guint i;

    for (i = 0; i < G_N_ELEMENTS(peer_fields); i++) {
        if (strcmp(field, peer_fields[i]) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean
wgm_peer_config_check_data_field(const char *key, const char *field, GError **error)
{
    if (!wgm_peer_config_is_field(field)) {
        return wgm_parse_fail(error,
                              key,
                              /* Translators: the %s are the field names, as written in
                               * the profile. */
                              _("unknown peer field (expected %s, %s, %s, %s, %s, %s, %s or %s)"),
                              WGM_PEER_FIELD_PUBLIC_KEY,
                              WGM_PEER_FIELD_ENDPOINT,
                              WGM_PEER_FIELD_ALLOWED_IPS,
                              WGM_PEER_FIELD_PERSISTENT_KEEPALIVE,
                              WGM_PEER_FIELD_LAZY,
                              WGM_PEER_FIELD_NAME,
                              WGM_PEER_FIELD_GIVE_UP_AFTER,
                              WGM_PEER_FIELD_PRESHARED_KEY);
    }
    if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) == 0)
        return wgm_parse_fail_secret_in_data(error, key);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Fields */

static gboolean
parse_allowed_ips(WgmPeerConfig *peer, const char *key, const char *value, GError **error)
{
    g_auto(GStrv) items = wgm_parse_split_list(value);
    guint i;

    g_array_set_size(peer->allowed_ips, 0);
    for (i = 0; items[i]; i++) {
        WgmIpPrefix p;

        /* A bare address means the host route, as wg(8) reads it. */
        if (!wgm_ip_prefix_parse(items[i], TRUE, &p, error))
            return wgm_parse_fail_prefix(error, key);
        wgm_ip_prefix_normalize(&p);
        g_array_append_val(peer->allowed_ips, p);
    }
    return TRUE;
}

static gboolean
parse_name(WgmPeerConfig *peer, const char *key, const char *value, GError **error)
{
    const char *s;

    if (!g_utf8_validate(value, -1, NULL))
        return wgm_parse_fail(error, key, _("is not valid UTF-8"));
    if (g_utf8_strlen(value, -1) > PEER_NAME_MAX)
        return wgm_parse_fail(error, key, _("is longer than %d characters"), PEER_NAME_MAX);
    for (s = value; *s; s = g_utf8_next_char(s)) {
        if (g_unichar_iscntrl(g_utf8_get_char(s)))
            return wgm_parse_fail(error, key, _("contains a control character"));
    }
    g_free(peer->name);
    peer->name = g_strdup(value);
    return TRUE;
}

static gboolean
parse_endpoint(WgmPeerConfig *peer, const char *key, const char *value, GError **error)
{
    g_clear_pointer(&peer->endpoint_host, g_free);
    if (value[0] && !wgm_endpoint_split(value, &peer->endpoint_host, &peer->endpoint_port, error))
        return wgm_parse_fail_prefix(error, key);
    /* WgmEndpoint carries no scope: the zone would be dropped on the way
     * to WireGuard and its packets go nowhere. */
    if (peer->endpoint_host && strchr(peer->endpoint_host, '%')) {
        g_autofree char *quoted = wgm_error_quote_value(value);

        g_clear_pointer(&peer->endpoint_host, g_free);
        return wgm_parse_fail(error,
                              key,
                              _("\"%s\" has a zone: link-local endpoints are not supported "
                                "(expected a global address or a host name)"),
                              quoted);
    }
    return TRUE;
}

/* Machine values, spaces around them forgiven. */
static gboolean
parse_number_or_flag(WgmPeerConfig *peer,
                     const char    *key,
                     const char    *field,
                     const char    *value,
                     GError       **error)
{
    guint32  u;
    gboolean b;

    if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY_FLAGS) == 0)
        return wgm_parse_secret_flags(key, value, error);
    if (strcmp(field, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE) == 0) {
        if (!wgm_parse_uint(key, value, 0, G_MAXUINT16, &u, error))
            return FALSE;
        peer->persistent_keepalive = (guint16)u;
        return TRUE;
    }
    if (strcmp(field, WGM_PEER_FIELD_GIVE_UP_AFTER) == 0) {
        /* 0 = never, as for the profile's give-up-after. */
        if (!wgm_parse_uint(key, value, 0, WGM_MAX_GIVE_UP_AFTER, &u, error))
            return FALSE;
        peer->give_up_after = u;
        return TRUE;
    }
    g_assert(strcmp(field, WGM_PEER_FIELD_LAZY) == 0);
    if (!wgm_parse_bool(key, value, &b, error))
        return FALSE;
    peer->lazy = b ? 1 : 0;
    return TRUE;
}

gboolean
wgm_peer_config_parse_data(WgmPeerConfig *peer,
                           const char    *key,
                           const char    *field,
                           const char    *value,
                           GError       **error)
{
    g_autofree char *v = NULL;

    if (strcmp(field, WGM_PEER_FIELD_PUBLIC_KEY) == 0) {
        if (!wgm_key_from_base64(value, &peer->public_key, error))
            return wgm_parse_fail_prefix(error, key);
        if (wgm_key_is_zero(&peer->public_key))
            return wgm_parse_fail(error, key, _("is all zeros, which is not a public key"));
        return TRUE;
    }
    if (strcmp(field, WGM_PEER_FIELD_NAME) == 0)
        return parse_name(peer, key, value, error);

    /* The rest are machine values: forgive the spaces around them. */
    v = g_strstrip(g_strdup(value));
    if (strcmp(field, WGM_PEER_FIELD_ENDPOINT) == 0)
        return parse_endpoint(peer, key, v, error);
    if (strcmp(field, WGM_PEER_FIELD_ALLOWED_IPS) == 0)
        return parse_allowed_ips(peer, key, v, error);
    return parse_number_or_flag(peer, key, field, v, error);
}

gboolean
wgm_peer_config_parse_preshared_key(WgmPeerConfig *peer,
                                    const char    *key,
                                    const char    *value,
                                    GError       **error)
{
    if (!wgm_key_from_base64(value, &peer->preshared_key, error))
        return wgm_parse_fail_prefix(error, key);
    /* All zeros is how WireGuard spells "no preshared key". */
    peer->has_preshared_key = !wgm_key_is_zero(&peer->preshared_key);
    return TRUE;
}

static int
index_cmp(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

GArray *
wgm_peer_indexes(const char *const *keys, const char *field)
{
    GArray *indexes = g_array_new(FALSE, FALSE, sizeof(guint));

    for (guint i = 0; keys && keys[i]; i++) {
        const char *f;
        guint       index;

        if (wgm_peer_key_split(keys[i], &index, &f, NULL) == WGM_PEER_KEY_VALID
            && strcmp(f, field) == 0)
            g_array_append_val(indexes, index);
    }
    g_array_sort(indexes, index_cmp);
    return indexes;
}
