/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzzes wgm_config_new_from_setting() and wgm_config_need_secrets().
 *
 * Input: lines of "key=value" (vpn.data) or "!key=value" (vpn.secrets), as
 * in the seed files of corpus-settings/.  Whatever the input, the parser must
 * not crash, leak or hit a g_return_if_fail(), and on success the result must
 * hold the invariants the service relies on.
 */
#include <string.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-settings-keys.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static void
check_config(const WgmConfig *config)
{
    char  buf[WGM_IP_STRLEN];
    guint i, j;

    g_assert(config->has_address4 || config->has_address6);
    g_assert(!wgm_key_is_zero(&config->private_key));
    g_assert(config->dns_search);
    g_assert(config->mtu >= 576 && config->mtu <= 65535);
    g_assert(config->inactivity_timeout >= 1 && config->inactivity_timeout <= 86400);
    g_assert(config->listen_port == -1
             || (config->listen_port >= 1 && config->listen_port <= 65535));
    g_assert(!config->network_map || g_path_is_absolute(config->network_map));
    g_assert(config->give_up_after <= WGM_MAX_GIVE_UP_AFTER);
    wgm_backend_kind_to_string(config->backend);

    for (i = 0; i < config->peers->len; i++) {
        const WgmPeerConfig *peer = config->peers->pdata[i];

        g_assert(peer->index < WGM_MAX_PEERS);
        if (i > 0)
            g_assert(((const WgmPeerConfig *)config->peers->pdata[i - 1])->index < peer->index);
        g_assert(!wgm_key_is_zero(&peer->public_key));
        g_assert(!peer->name || g_utf8_strlen(peer->name, -1) <= 64);
        g_assert(!peer->endpoint_host || peer->endpoint_port > 0);
        g_assert(peer->lazy >= -1 && peer->lazy <= 1);
        wgm_peer_config_is_lazy(config, peer);
        g_assert(peer->give_up_after >= -1 && peer->give_up_after <= WGM_MAX_GIVE_UP_AFTER);
        g_assert(wgm_peer_config_give_up_after(config, peer) <= WGM_MAX_GIVE_UP_AFTER);

        for (j = 0; j < peer->allowed_ips->len; j++) {
            WgmIpPrefix p = g_array_index(peer->allowed_ips, WgmIpPrefix, j);
            WgmIpPrefix again;

            /* Normalized, and printed the way it parses back. */
            wgm_ip_prefix_normalize(&p);
            g_assert(memcmp(&p, &g_array_index(peer->allowed_ips, WgmIpPrefix, j), sizeof(p)) == 0);
            g_assert(wgm_ip_prefix_parse(wgm_ip_prefix_to_string(&p, buf), FALSE, &again, NULL));
            g_assert(memcmp(&p, &again, sizeof(p)) == 0);
        }
        if (peer->endpoint_host) {
            g_autofree char *ep = NULL;

            ep = strchr(peer->endpoint_host, ':')
                     ? g_strdup_printf("[%s]:%u", peer->endpoint_host, peer->endpoint_port)
                     : g_strdup_printf("%s:%u", peer->endpoint_host, peer->endpoint_port);
            g_assert(wgm_endpoint_split(ep, NULL, NULL, NULL));
        }
    }
}

/* The helpers on their own, with each value as it came. */
static void
poke_helpers(const char *value)
{
    WgmKey      key;
    WgmIpPrefix prefix;
    WgmEndpoint ep;
    WgmIpAddr   addr;
    char        host_buf[WGM_IP_STRLEN];
    char       *host  = NULL;
    GError     *error = NULL;

    if (wgm_key_from_base64(value, &key, &error)) {
        char b64[WGM_KEY_B64_LEN + 1];

        wgm_key_to_base64(&key, b64);
        g_assert(strcmp(b64, value) == 0);
    } else {
        /* Never echoed.  Short or spaced values may match the message's own
         * words ("1" in "got 1"): only long single tokens are telling. */
        g_assert(error);
        if (strlen(value) >= 16 && !strchr(value, ' '))
            g_assert(!strstr(error->message, value));
        g_clear_error(&error);
    }
    wgm_key_from_hex(value, strlen(value), &key);
    if (wgm_ip_addr_parse(value, &addr))
        wgm_ip_addr_to_string(&addr, host_buf);
    if (wgm_ip_prefix_parse(value, TRUE, &prefix, NULL))
        wgm_ip_prefix_to_string(&prefix, host_buf);
    if (wgm_endpoint_split(value, &host, NULL, NULL))
        g_assert(host && strlen(host) <= 253);
    g_free(host);
    if (wgm_endpoint_parse(value, &ep, NULL))
        wgm_endpoint_to_string(&ep, host_buf);
    wgm_key_wipe(&key);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    static gboolean initialized;
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    g_autoptr(WgmConfig) config   = NULL;
    g_autoptr(GError) error       = NULL;
    g_autofree char *text         = NULL;
    g_auto(GStrv) lines           = NULL;
    g_auto(GStrv) need            = NULL;
    guint i;

    if (!initialized) {
        /* A critical is a bug we want to see as a crash. */
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);
        initialized = TRUE;
    }

    text  = g_strndup((const char *)data, size); /* stops at a NUL, like NM would */
    lines = g_strsplit(text, "\n", -1);
    s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());

    for (i = 0; lines[i]; i++) {
        const char      *line   = lines[i];
        gboolean         secret = FALSE;
        const char      *eq;
        g_autofree char *key = NULL;

        if (line[0] == '!') {
            secret = TRUE;
            line++;
        }
        eq = strchr(line, '=');
        if (!eq || eq == line)
            continue; /* NM refuses empty keys with a critical */
        key = g_strndup(line, eq - line);
        if (secret)
            nm_setting_vpn_add_secret(s_vpn, key, eq + 1);
        else
            nm_setting_vpn_add_data_item(s_vpn, key, eq + 1);
        poke_helpers(eq + 1);
    }

    need   = wgm_config_need_secrets(s_vpn);
    config = wgm_config_new_from_setting(s_vpn, &error);
    if (config) {
        g_assert(!error);
        check_config(config);
    } else {
        g_assert(error && error->domain == WGM_ERROR && error->code == WGM_ERROR_INVALID_SETTING);
        g_assert(g_utf8_validate(error->message, -1, NULL));
    }
    return 0;
}
