/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"
#include "wgm-parse.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"

#define DOMAIN_MAX       253
#define DOMAIN_LABEL_MAX 63

/* ------------------------------------------------------------------------ */
/* Values */

/* "example.com", "example.com.", "~example.com" (NetworkManager's routing-only
 * domain) and "~." (route all queries here). */
static gboolean
is_search_domain(const char *s)
{
    gsize len;
    gsize label = 0;
    gsize i;

    if (s[0] == '~')
        s++;
    if (strcmp(s, ".") == 0)
        return TRUE;
    len = strlen(s);
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > DOMAIN_MAX)
        return FALSE;
    for (i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return FALSE;
            label = 0;
        } else if ((g_ascii_isalnum(c) || c == '_' || (c == '-' && label > 0))
                   && ++label <= DOMAIN_LABEL_MAX) {
            continue;
        } else {
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Interface keys */

static gboolean
parse_address(WgmConfig *config, const char *key, const char *value, GError **error)
{
    g_auto(GStrv) items = wgm_parse_split_list(value);
    guint i;

    for (i = 0; items[i]; i++) {
        g_autofree char *quoted = wgm_error_quote_value(items[i]);
        WgmIpPrefix      p;
        gboolean        *has;
        WgmIpPrefix     *slot;

        if (!wgm_ip_prefix_parse(items[i], TRUE, &p, error))
            return wgm_parse_fail_prefix(error, key);
        if (p.plen == 0) {
            return wgm_parse_fail(
                error,
                key,
                _("\"%s\" has a bad prefix length (expected 1-%u for an interface address)"),
                quoted,
                p.addr.family == AF_INET ? 32u : 128u);
        }

        has  = p.addr.family == AF_INET ? &config->has_address4 : &config->has_address6;
        slot = p.addr.family == AF_INET ? &config->address4 : &config->address6;
        if (*has) {
            char first[WGM_IP_STRLEN];

            return wgm_parse_fail(
                error,
                key,
                /* Translators: the second %s is IPv4 or IPv6. */
                _("\"%s\" is a second %s address after %s, but NetworkManager's VPN IP "
                  "configuration carries only one address per family"),
                quoted,
                p.addr.family == AF_INET ? "IPv4" : "IPv6",
                wgm_ip_prefix_to_string(slot, first));
        }
        *has  = TRUE;
        *slot = p;
    }
    return TRUE;
}

static gboolean
parse_dns(WgmConfig *config, const char *key, const char *value, GError **error)
{
    g_auto(GStrv) items = wgm_parse_split_list(value);
    guint i;

    for (i = 0; items[i]; i++) {
        WgmIpAddr a;

        if (!wgm_ip_addr_parse(items[i], &a)) {
            g_autofree char *quoted = wgm_error_quote_value(items[i]);

            return wgm_parse_fail(error, key, _("\"%s\" is not an IP address"), quoted);
        }
        g_array_append_val(config->dns, a);
    }
    return TRUE;
}

static gboolean
parse_dns_search(WgmConfig *config, const char *key, const char *value, GError **error)
{
    g_auto(GStrv) items = wgm_parse_split_list(value);
    guint i;

    for (i = 0; items[i]; i++) {
        if (!is_search_domain(items[i])) {
            g_autofree char *quoted = wgm_error_quote_value(items[i]);

            return wgm_parse_fail(error, key, _("\"%s\" is not a domain name"), quoted);
        }
    }
    g_strfreev(config->dns_search);
    config->dns_search = g_steal_pointer(&items);
    return TRUE;
}

static gboolean
parse_backend(WgmConfig *config, const char *key, const char *value, GError **error)
{
    static const WgmBackendKind kinds[] = {
        WGM_BACKEND_KIND_AUTO,
        WGM_BACKEND_KIND_USERSPACE,
        WGM_BACKEND_KIND_KERNEL,
    };
    g_autofree char *quoted = NULL;
    guint            i;

    for (i = 0; i < G_N_ELEMENTS(kinds); i++) {
        if (strcmp(value, wgm_backend_kind_to_string(kinds[i])) == 0) {
            config->backend = kinds[i];
            return TRUE;
        }
    }
    quoted = wgm_error_quote_value(value);
    return wgm_parse_fail(
        error, key, _("\"%s\" is not a backend (expected auto, userspace or kernel)"), quoted);
}

/* ------------------------------------------------------------------------ */
/* Peers */

static WgmPeerConfig *
peer_get(WgmConfig *config, GHashTable *by_index, guint index)
{
    WgmPeerConfig *peer = g_hash_table_lookup(by_index, GUINT_TO_POINTER(index));

    if (!peer) {
        peer = wgm_peer_config_new(index);
        g_ptr_array_add(config->peers, peer);
        g_hash_table_insert(by_index, GUINT_TO_POINTER(index), peer);
    }
    return peer;
}

static gboolean
parse_peer_data(WgmConfig  *config,
                GHashTable *by_index,
                const char *key,
                guint       index,
                const char *field,
                const char *value,
                GError    **error)
{
    /* Checked first: an unknown field makes no peer. */
    if (!wgm_peer_config_check_data_field(key, field, error))
        return FALSE;
    if (!value[0])
        return TRUE;
    return wgm_peer_config_parse_data(peer_get(config, by_index, index), key, field, value, error);
}

/* ------------------------------------------------------------------------ */
/* vpn.data and vpn.secrets */

typedef struct {
    const char *key;
    gboolean (*parse)(WgmConfig *config, const char *key, const char *value, GError **error);
} KeyParser;

static gboolean
parse_listen_port(WgmConfig *config, const char *key, const char *value, GError **error)
{
    guint32 u;

    if (!wgm_parse_uint(key, value, 1, G_MAXUINT16, &u, error))
        return FALSE;
    config->listen_port = (gint32)u;
    return TRUE;
}

static gboolean
parse_mtu(WgmConfig *config, const char *key, const char *value, GError **error)
{
    /* IPv6 needs more (RFC 8200, section 5): checked once the addresses are known. */
    return wgm_parse_uint(key, value, 576, G_MAXUINT16, &config->mtu, error);
}

static gboolean
parse_lazy_connections(WgmConfig *config, const char *key, const char *value, GError **error)
{
    return wgm_parse_bool(key, value, &config->lazy_connections, error);
}

static gboolean
parse_inactivity_timeout(WgmConfig *config, const char *key, const char *value, GError **error)
{
    return wgm_parse_uint(key,
                          value,
                          wgm_config_inactivity_timeout_min(),
                          WGM_MAX_INACTIVITY_TIMEOUT,
                          &config->inactivity_timeout,
                          error);
}

guint
wgm_config_inactivity_timeout_min(void)
{
    const char *env = g_getenv(WGM_ENV_TEST_INACTIVITY_MIN);
    guint64     min;

    if (env && g_ascii_string_to_unsigned(env, 10, 1, WGM_MIN_INACTIVITY_TIMEOUT, &min, NULL))
        return (guint)min;
    return WGM_MIN_INACTIVITY_TIMEOUT;
}

static gboolean
parse_give_up_after(WgmConfig *config, const char *key, const char *value, GError **error)
{
    /* 0 = never, the default. */
    return wgm_parse_uint(key, value, 0, WGM_MAX_GIVE_UP_AFTER, &config->give_up_after, error);
}

static gboolean
parse_network_map(WgmConfig *config, const char *key, const char *value, GError **error)
{
    if (!g_path_is_absolute(value)) {
        g_autofree char *quoted = wgm_error_quote_value(value);

        return wgm_parse_fail(error, key, _("\"%s\" is not an absolute path"), quoted);
    }
    g_free(config->network_map);
    config->network_map = g_strdup(value);
    return TRUE;
}

static gboolean
parse_flags_key(WgmConfig *config, const char *key, const char *value, GError **error)
{
    return wgm_parse_secret_flags(key, value, error);
}

static const KeyParser data_keys[] = {
    { WGM_KEY_LISTEN_PORT, parse_listen_port },
    { WGM_KEY_ADDRESS, parse_address },
    { WGM_KEY_DNS, parse_dns },
    { WGM_KEY_DNS_SEARCH, parse_dns_search },
    { WGM_KEY_MTU, parse_mtu },
    { WGM_KEY_BACKEND, parse_backend },
    { WGM_KEY_LAZY_CONNECTIONS, parse_lazy_connections },
    { WGM_KEY_INACTIVITY_TIMEOUT, parse_inactivity_timeout },
    { WGM_KEY_NETWORK_MAP, parse_network_map },
    { WGM_KEY_GIVE_UP_AFTER, parse_give_up_after },
    { WGM_KEY_PRIVATE_KEY_FLAGS, parse_flags_key },
};

static const KeyParser *
find_data_key(const char *key)
{
    guint i;

    for (i = 0; i < G_N_ELEMENTS(data_keys); i++) {
        if (strcmp(key, data_keys[i].key) == 0)
            return &data_keys[i];
    }
    return NULL;
}

static gboolean
parse_data_item(WgmConfig  *config,
                GHashTable *by_index,
                const char *key,
                const char *value,
                GError    **error)
{
    const KeyParser *parser;
    const char      *field;
    guint            index;

    if (strcmp(key, WGM_KEY_PRIVATE_KEY) == 0)
        return wgm_parse_fail_secret_in_data(error, key);

    switch (wgm_peer_key_split(key, &index, &field, error)) {
    case WGM_PEER_KEY_VALID:
        return parse_peer_data(config, by_index, key, index, field, value, error);
    case WGM_PEER_KEY_BAD:
        return FALSE;
    case WGM_PEER_KEY_NONE:
        break;
    }

    parser = find_data_key(key);
    if (!parser)
        return wgm_parse_fail(error, key, _("unknown key"));
    if (!value[0])
        return TRUE;

    {
        g_autofree char *v = g_strstrip(g_strdup(value));

        return !v[0] || parser->parse(config, key, v, error);
    }
}

static gboolean
parse_secret_item(WgmConfig  *config,
                  GHashTable *by_index,
                  const char *key,
                  const char *value,
                  GError    **error)
{
    const char *field;
    guint       index;

    if (strcmp(key, WGM_KEY_NO_SECRET) == 0)
        return TRUE;
    if (strcmp(key, WGM_KEY_PRIVATE_KEY) == 0) {
        if (!value[0])
            return TRUE;
        if (!wgm_key_from_base64(value, &config->private_key, error))
            return wgm_parse_fail_prefix(error, key);
        /* wg(8) reads an all-zero private key as "remove the key". */
        if (wgm_key_is_zero(&config->private_key))
            return wgm_parse_fail(error, key, _("is all zeros, which is not a private key"));
        return TRUE;
    }

    switch (wgm_peer_key_split(key, &index, &field, error)) {
    case WGM_PEER_KEY_BAD:
        return FALSE;
    case WGM_PEER_KEY_NONE:
        break;
    case WGM_PEER_KEY_VALID:
        if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) != 0) {
            if (wgm_peer_config_is_field(field))
                return wgm_parse_fail(
                    error, key, _("is not a secret: store it in vpn.data, not in vpn.secrets"));
            return wgm_parse_fail(error, key, _("unknown secret"));
        }
        if (!value[0])
            return TRUE;
        return wgm_peer_config_parse_preshared_key(
            peer_get(config, by_index, index), key, value, error);
    }

    if (find_data_key(key))
        return wgm_parse_fail(
            error, key, _("is not a secret: store it in vpn.data, not in vpn.secrets"));
    return wgm_parse_fail(error, key, _("unknown secret"));
}

static int
peer_cmp(gconstpointer a, gconstpointer b)
{
    const WgmPeerConfig *pa = *(WgmPeerConfig *const *)a;
    const WgmPeerConfig *pb = *(WgmPeerConfig *const *)b;

    return pa->index < pb->index ? -1 : pa->index > pb->index;
}

typedef struct {
    WgmIpAddr addr; /* zero-padded, so the whole struct hashes */
    guint8    plen;
} PrefixKey;

static guint
prefix_key_hash(gconstpointer p)
{
    const PrefixKey *k = p;
    guint            h = g_int_hash(&k->addr.family) ^ k->plen;
    guint            i;

    for (i = 0; i < sizeof(k->addr.addr); i++)
        h = h * 31 + k->addr.addr[i];
    return h;
}

static gboolean
prefix_key_equal(gconstpointer a, gconstpointer b)
{
    const PrefixKey *ka = a;
    const PrefixKey *kb = b;

    return ka->addr.family == kb->addr.family && ka->plen == kb->plen
           && memcmp(ka->addr.addr, kb->addr.addr, sizeof(ka->addr.addr)) == 0;
}

static PrefixKey *
prefix_key_dup(const PrefixKey *k)
{
    PrefixKey *copy = g_new(PrefixKey, 1);

    *copy = *k;
    return copy;
}

/* Checks across peers, in index order so the later peer gets the blame. */
static gboolean
check_peers(WgmConfig *config, GError **error)
{
    g_autoptr(GHashTable) keys = g_hash_table_new(wgm_key_hash, wgm_key_equal_func);
    g_autoptr(GHashTable) prefixes =
        g_hash_table_new_full(prefix_key_hash, prefix_key_equal, g_free, NULL);
    guint i;

    g_ptr_array_sort(config->peers, peer_cmp);

    for (i = 0; i < config->peers->len; i++) {
        WgmPeerConfig   *peer = config->peers->pdata[i];
        g_autofree char *pk_key =
            g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PUBLIC_KEY, peer->index);
        g_autofree char *ai_key = NULL;
        WgmPeerConfig   *other;
        guint            j, kept;

        if (wgm_key_is_zero(&peer->public_key)) {
            return wgm_parse_fail(error,
                                  pk_key,
                                  _("missing (every peer.%u.* entry needs the peer's public key)"),
                                  peer->index);
        }
        other = g_hash_table_lookup(keys, &peer->public_key);
        if (other) {
            g_autofree char *other_key =
                g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PUBLIC_KEY, other->index);

            return wgm_parse_fail(error,
                                  pk_key,
                                  /* Translators: %s is a setting such as peer.1.public-key. */
                                  _("duplicate of %s"),
                                  other_key);
        }
        g_hash_table_insert(keys, &peer->public_key, peer);

        /* WireGuard routes a prefix to one peer only: setting it on a second
         * peer silently moves it there.  Duplicates within a peer are merely
         * redundant and dropped. */
        ai_key = g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_ALLOWED_IPS, peer->index);
        for (j = 0, kept = 0; j < peer->allowed_ips->len; j++) {
            const WgmIpPrefix *p = &g_array_index(peer->allowed_ips, WgmIpPrefix, j);
            PrefixKey          k = { 0 };

            /* NetworkManager sets up a family's routes only along with an
             * address of that family: such a prefix would silently go nowhere. */
            if (!(p->addr.family == AF_INET ? config->has_address4 : config->has_address6)) {
                char buf[WGM_IP_STRLEN];

                return wgm_parse_fail(error,
                                      ai_key,
                                      /* Translators: "10.1.0.0/16 is an IPv4 prefix, but
                                       * address has no IPv4 address (...)"; the third %s
                                       * is the setting "address". */
                                      _("%s is an %s prefix, but %s has no %s address "
                                        "(NetworkManager routes a family only with an address "
                                        "of it)"),
                                      wgm_ip_prefix_to_string(p, buf),
                                      p->addr.family == AF_INET ? "IPv4" : "IPv6",
                                      WGM_KEY_ADDRESS,
                                      p->addr.family == AF_INET ? "IPv4" : "IPv6");
            }

            k.addr.family = p->addr.family;
            memcpy(k.addr.addr, p->addr.addr, sizeof(k.addr.addr));
            k.plen = p->plen;

            other = g_hash_table_lookup(prefixes, &k);
            if (other == peer)
                continue;
            if (other) {
                char             buf[WGM_IP_STRLEN];
                g_autofree char *other_key = g_strdup_printf(
                    WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_ALLOWED_IPS, other->index);

                return wgm_parse_fail(
                    error,
                    ai_key,
                    /* Translators: the second %s is a setting such as peer.1.allowed-ips. */
                    _("%s is also in %s (WireGuard would silently move it to one of the two "
                      "peers)"),
                    wgm_ip_prefix_to_string(p, buf),
                    other_key);
            }
            g_hash_table_insert(prefixes, prefix_key_dup(&k), peer);
            if (kept != j)
                g_array_index(peer->allowed_ips, WgmIpPrefix, kept) = *p;
            kept++;
        }
        g_array_set_size(peer->allowed_ips, kept);
    }
    return TRUE;
}

static gboolean
check_interface(WgmConfig *config, GError **error)
{
    if (wgm_key_is_zero(&config->private_key))
        return wgm_parse_fail(error,
                              WGM_KEY_PRIVATE_KEY,
                              _("missing (expected the interface's private key in vpn.secrets)"));

    if (!config->has_address4 && !config->has_address6)
        return wgm_parse_fail(error,
                              WGM_KEY_ADDRESS,
                              _("missing (expected at least one address of this host in the "
                                "mesh, e.g. 10.0.0.1/24)"));

    if (config->mtu == 0)
        config->mtu = WGM_DEFAULT_MTU;
    else if (config->has_address6 && config->mtu < 1280)
        return wgm_parse_fail(error,
                              WGM_KEY_MTU,
                              _("\"%u\" is out of range (expected 1280-65535 with an IPv6 "
                                "address)"),
                              config->mtu);
    return TRUE;
}

static WgmConfig *
config_new(void)
{
    WgmConfig *config = g_new0(WgmConfig, 1);

    config->listen_port        = -1;
    config->dns                = g_array_new(FALSE, FALSE, sizeof(WgmIpAddr));
    config->dns_search         = g_new0(char *, 1);
    config->mtu                = 0;
    config->backend            = WGM_BACKEND_KIND_AUTO;
    config->inactivity_timeout = WGM_DEFAULT_INACTIVITY_TIMEOUT;
    config->peers = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_peer_config_free);
    return config;
}

gboolean
wgm_config_check_value(const char *key, const char *value, const char *name, GError **error)
{
    g_autoptr(WgmConfig) config = NULL;
    const KeyParser *parser     = find_data_key(key);
    g_autofree char *v          = NULL;

    if (!parser)
        return wgm_parse_fail(error, name, _("unknown key"));
    v = g_strstrip(g_strdup(value));
    if (!v[0])
        return TRUE;
    config = config_new();
    return parser->parse(config, name, v, error);
}

WgmConfig *
wgm_config_new_from_setting(NMSettingVpn *s_vpn, GError **error)
{
    g_autoptr(WgmConfig) config              = NULL;
    g_autoptr(GHashTable) by_index           = NULL;
    g_autofree const char **data_keys_list   = NULL;
    g_autofree const char **secret_keys_list = NULL;
    guint                   i;

    g_return_val_if_fail(NM_IS_SETTING_VPN(s_vpn), NULL);
    g_return_val_if_fail(!error || !*error, NULL);

    config   = config_new();
    by_index = g_hash_table_new(g_direct_hash, g_direct_equal);

    /* Sorted keys: the first error reported does not depend on hash order. */
    data_keys_list = nm_setting_vpn_get_data_keys(s_vpn, NULL);
    for (i = 0; data_keys_list && data_keys_list[i]; i++) {
        const char *key   = data_keys_list[i];
        const char *value = nm_setting_vpn_get_data_item(s_vpn, key);

        if (!parse_data_item(config, by_index, key, value ? value : "", error))
            return NULL;
    }

    secret_keys_list = nm_setting_vpn_get_secret_keys(s_vpn, NULL);
    for (i = 0; secret_keys_list && secret_keys_list[i]; i++) {
        const char *key   = secret_keys_list[i];
        const char *value = nm_setting_vpn_get_secret(s_vpn, key);

        if (!parse_secret_item(config, by_index, key, value ? value : "", error))
            return NULL;
    }

    if (!check_interface(config, error) || !check_peers(config, error))
        return NULL;

    return g_steal_pointer(&config);
}

void
wgm_config_free(WgmConfig *config)
{
    if (!config)
        return;

    wgm_key_wipe(&config->private_key);
    g_clear_pointer(&config->dns, g_array_unref);
    g_strfreev(config->dns_search);
    g_free(config->network_map);
    /* wgm_peer_config_free() wipes the preshared keys. */
    g_clear_pointer(&config->peers, g_ptr_array_unref);
    g_free(config);
}

/* ------------------------------------------------------------------------ */

static gboolean
secret_is_set(NMSettingVpn *s_vpn, const char *name)
{
    const char *v = nm_setting_vpn_get_secret(s_vpn, name);

    return v && v[0];
}

static NMSettingSecretFlags
secret_flags(NMSettingVpn *s_vpn, const char *name)
{
    NMSettingSecretFlags flags = NM_SETTING_SECRET_FLAG_NONE;

    /* Unparsable flags read as NONE; wgm_config_new_from_setting() reports them. */
    if (!nm_setting_get_secret_flags(NM_SETTING(s_vpn), name, &flags, NULL))
        flags = NM_SETTING_SECRET_FLAG_NONE;
    return flags;
}

static int
uint_cmp(gconstpointer a, gconstpointer b)
{
    guint ua = *(const guint *)a;
    guint ub = *(const guint *)b;

    return ua < ub ? -1 : ua > ub;
}

char **
wgm_config_need_secrets(NMSettingVpn *s_vpn)
{
    g_autoptr(GPtrArray) names   = NULL;
    g_autoptr(GArray) indexes    = NULL;
    g_autofree const char **keys = NULL;
    guint                   i;

    g_return_val_if_fail(NM_IS_SETTING_VPN(s_vpn), NULL);

    names   = g_ptr_array_new_with_free_func(g_free);
    indexes = g_array_new(FALSE, FALSE, sizeof(guint));

    /* A preshared key is optional, so only ask for one that an agent is known
     * to hold (or that is never saved): its flags key says so. */
    keys = nm_setting_vpn_get_data_keys(s_vpn, NULL);
    for (i = 0; keys && keys[i]; i++) {
        const char *field;
        guint       index;

        /* A secret in vpn.data: asking an agent for it again would hide the
         * problem behind a secrets prompt (or "no secrets" without an
         * agent); Connect refuses the profile and says where it belongs. */
        if (strcmp(keys[i], WGM_KEY_PRIVATE_KEY) == 0)
            return NULL;
        if (wgm_peer_key_split(keys[i], &index, &field, NULL) != WGM_PEER_KEY_VALID)
            continue;
        if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) == 0)
            return NULL;
        if (strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY_FLAGS) == 0)
            g_array_append_val(indexes, index);
    }
    g_array_sort(indexes, uint_cmp);

    if (!(secret_flags(s_vpn, WGM_KEY_PRIVATE_KEY) & NM_SETTING_SECRET_FLAG_NOT_REQUIRED)
        && !secret_is_set(s_vpn, WGM_KEY_PRIVATE_KEY))
        g_ptr_array_add(names, g_strdup(WGM_KEY_PRIVATE_KEY));

    for (i = 0; i < indexes->len; i++) {
        g_autofree char *name =
            g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY,
                            g_array_index(indexes, guint, i));
        NMSettingSecretFlags flags = secret_flags(s_vpn, name);

        if ((flags & (NM_SETTING_SECRET_FLAG_AGENT_OWNED | NM_SETTING_SECRET_FLAG_NOT_SAVED))
            && !(flags & NM_SETTING_SECRET_FLAG_NOT_REQUIRED) && !secret_is_set(s_vpn, name))
            g_ptr_array_add(names, g_steal_pointer(&name));
    }

    if (names->len == 0)
        return NULL;
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

/* Whether Connect refuses @value of the secret @key on its own. */
static gboolean
secret_is_bad(const char *key, const char *value)
{
    g_autoptr(WgmConfig) scratch   = config_new();
    g_autoptr(GHashTable) by_index = g_hash_table_new(g_direct_hash, g_direct_equal);

    return !parse_secret_item(scratch, by_index, key, value, NULL);
}

static gboolean
is_key_secret(const char *name)
{
    const char *field;
    guint       index;

    if (strcmp(name, WGM_KEY_PRIVATE_KEY) == 0)
        return TRUE;
    return wgm_peer_key_split(name, &index, &field, NULL) == WGM_PEER_KEY_VALID
           && strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) == 0;
}

char **
wgm_config_bad_agent_secrets(NMSettingVpn *s_vpn)
{
    g_autoptr(GPtrArray) names   = NULL;
    g_autofree const char **keys = NULL;

    g_return_val_if_fail(NM_IS_SETTING_VPN(s_vpn), NULL);

    names = g_ptr_array_new_with_free_func(g_free);
    keys  = nm_setting_vpn_get_secret_keys(s_vpn, NULL);
    for (guint i = 0; keys && keys[i]; i++) {
        const char *value = nm_setting_vpn_get_secret(s_vpn, keys[i]);

        /* A stored secret is the profile's to fix, not the user's to retype. */
        if (!(secret_flags(s_vpn, keys[i])
              & (NM_SETTING_SECRET_FLAG_AGENT_OWNED | NM_SETTING_SECRET_FLAG_NOT_SAVED)))
            continue;
        if (is_key_secret(keys[i]) && value && secret_is_bad(keys[i], value))
            g_ptr_array_add(names, g_strdup(keys[i]));
    }
    if (names->len == 0)
        return NULL;
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

const char *
wgm_backend_kind_to_string(WgmBackendKind kind)
{
    switch (kind) {
    case WGM_BACKEND_KIND_AUTO:
        return "auto";
    case WGM_BACKEND_KIND_USERSPACE:
        return "userspace";
    case WGM_BACKEND_KIND_KERNEL:
        return "kernel";
    }
    return "unknown";
}

const WgmPeerConfig *
wgm_config_find_peer(const WgmConfig *config, const WgmKey *public_key)
{
    for (guint i = 0; i < config->peers->len; i++) {
        const WgmPeerConfig *pc = config->peers->pdata[i];

        if (wgm_key_equal(&pc->public_key, public_key))
            return pc;
    }
    return NULL;
}

/* Whether @name is a secret the service cannot read back after an edit:
 * one an agent keeps (in its user's session), or one never saved. */
static gboolean
secret_is_unsaved(NMSettingVpn *s_vpn, const char *name)
{
    NMSettingSecretFlags flags = NM_SETTING_SECRET_FLAG_NONE;

    return nm_setting_get_secret_flags(NM_SETTING(s_vpn), name, &flags, NULL)
           && (flags & (NM_SETTING_SECRET_FLAG_AGENT_OWNED | NM_SETTING_SECRET_FLAG_NOT_SAVED));
}

static void
add_key_secret(NMSettingVpn *s_vpn, const char *name, const WgmKey *key)
{
    char b64[WGM_KEY_B64_LEN + 1];

    wgm_key_to_base64(key, b64);
    nm_setting_vpn_add_secret(s_vpn, name, b64);
    wgm_memzero(b64, sizeof(b64));
}

void
wgm_config_keep_unsaved_secrets(const WgmConfig *applied, NMSettingVpn *s_vpn)
{
    g_autofree const char **keys = nm_setting_vpn_get_data_keys(s_vpn, NULL);

    if (!nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY)
        && secret_is_unsaved(s_vpn, WGM_KEY_PRIVATE_KEY))
        add_key_secret(s_vpn, WGM_KEY_PRIVATE_KEY, &applied->private_key);
    for (guint i = 0; keys && keys[i]; i++) {
        guint                index;
        const char          *field;
        const char          *b64;
        g_autofree char     *psk_name = NULL;
        WgmKey               key;
        const WgmPeerConfig *old;

        if (wgm_peer_key_split(keys[i], &index, &field, NULL) != WGM_PEER_KEY_VALID
            || !g_str_equal(field, WGM_PEER_FIELD_PUBLIC_KEY))
            continue;
        b64      = nm_setting_vpn_get_data_item(s_vpn, keys[i]);
        psk_name = g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY, index);
        if (!b64 || !wgm_key_from_base64(b64, &key, NULL)
            || nm_setting_vpn_get_secret(s_vpn, psk_name) || !secret_is_unsaved(s_vpn, psk_name))
            continue;
        old = wgm_config_find_peer(applied, &key);
        if (old && old->has_preshared_key)
            add_key_secret(s_vpn, psk_name, &old->preshared_key);
    }
}

gboolean
wgm_config_check_supported(const WgmConfig *config, GError **error)
{
    gboolean has_endpoint = FALSE;

    if (config->backend == WGM_BACKEND_KIND_KERNEL) {
        return wgm_parse_fail(error,
                              WGM_KEY_BACKEND,
                              _("\"kernel\" is not supported yet (expected \"auto\" or "
                                "\"userspace\")"));
    }
    for (guint i = 0; i < config->peers->len && !has_endpoint; i++)
        has_endpoint = ((WgmPeerConfig *)config->peers->pdata[i])->endpoint_host != NULL;
    if (!has_endpoint) {
        return wgm_parse_fail(error,
                              WGM_KEY_PEER_PREFIX "N." WGM_PEER_FIELD_ENDPOINT,
                              _("no peer has an endpoint, but NetworkManager needs one as the "
                                "VPN gateway"));
    }
    return TRUE;
}
