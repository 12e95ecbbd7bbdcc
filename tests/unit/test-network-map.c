/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network map's file check (who may write it) and its merge into the
 * profile: peers numbered after the profile's, checked together with them
 * by the profile's own parser, errors naming the file's [Peer] section;
 * 10,000 peers.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-key.h"
#include "wgm-network-map.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick.h"

#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PUB1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PUB2 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define PSK  "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="

static NMSettingVpn *
profile_new(void)
{
    NMSettingVpn *s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());

    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    nm_setting_vpn_add_secret(s_vpn, WGM_KEY_PRIVATE_KEY, PRIV);
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_ADDRESS, "10.64.0.1/10");
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_NETWORK_MAP, "/etc/wgmesh/peers.conf");
    nm_setting_vpn_add_data_item(s_vpn, "peer.3.public-key", PUB1);
    nm_setting_vpn_add_data_item(s_vpn, "peer.3.endpoint", "192.0.2.1:51820");
    nm_setting_vpn_add_data_item(s_vpn, "peer.3.allowed-ips", "10.64.0.2/32");
    return s_vpn;
}

static WgmWgQuick *
read_map(const char *text, GError **error)
{
    return wgm_wgquick_read(text, -1, "peers.conf", WGM_WGQUICK_PEERS_ONLY, error);
}

static void
test_merge(void)
{
    g_autoptr(NMSettingVpn) profile = profile_new();
    g_autoptr(GError) error         = NULL;
    g_autoptr(WgmWgQuick) map       = read_map("[Peer]\n# Name = two\nPublicKey = " PUB2 "\n"
                                               "PresharedKey = " PSK "\n"
                                               "Endpoint = 192.0.2.2:51820\n"
                                               "AllowedIPs = 10.64.0.3/32\n",
                                         &error);
    g_autoptr(NMSettingVpn) merged  = NULL;
    g_autoptr(WgmConfig) config     = NULL;

    g_assert_no_error(error);
    merged = wgm_network_map_merge(profile, map);
    /* After the profile's highest peer number. */
    g_assert_cmpstr(nm_setting_vpn_get_data_item(merged, "peer.4.public-key"), ==, PUB2);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(merged, "peer.4.name"), ==, "two");
    g_assert_cmpstr(nm_setting_vpn_get_secret(merged, "peer.4.preshared-key"), ==, PSK);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(merged, "peer.3.public-key"), ==, PUB1);
    /* The profile itself is untouched. */
    g_assert_null(nm_setting_vpn_get_data_item(profile, "peer.4.public-key"));
    config = wgm_config_new_from_setting(merged, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(config->peers->len, ==, 2);
}

/* A key in the profile and in the map: refused, naming the map's section. */
static void
test_duplicate(void)
{
    g_autoptr(NMSettingVpn) profile = profile_new();
    g_autoptr(GError) error         = NULL;
    g_autoptr(WgmWgQuick) map =
        read_map("[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = 10.64.0.3/32\n"
                 "[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = 10.64.0.4/32\n",
                 &error);
    g_autoptr(NMSettingVpn) merged = NULL;
    g_autoptr(WgmConfig) config    = NULL;
    g_autofree char *message       = NULL;

    g_assert_no_error(error);
    merged = wgm_network_map_merge(profile, map);
    config = wgm_config_new_from_setting(merged, &error);
    g_assert_null(config);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    message = wgm_network_map_describe_error(profile, "/etc/wgmesh/peers.conf", error->message);
    g_test_message("%s", message);
    g_assert_true(g_str_has_prefix(message, "/etc/wgmesh/peers.conf: [Peer] 2: peer.5."));
    /* A message about the profile's own keys stays as it is. */
    g_free(message);
    message = wgm_network_map_describe_error(profile, "/x", "address: bad");
    g_assert_cmpstr(message, ==, "address: bad");
}

/* 10,000 peers in the map: one edit of the file is one changed peer. */
static void
test_many(void)
{
    g_autoptr(NMSettingVpn) profile = profile_new();
    g_autoptr(GString) text         = g_string_new(NULL);
    g_autoptr(GError) error         = NULL;
    g_autoptr(WgmWgQuick) map       = NULL;
    g_autoptr(WgmWgQuick) map2      = NULL;
    g_autoptr(NMSettingVpn) merged  = NULL;
    g_autoptr(NMSettingVpn) merged2 = NULL;
    g_autoptr(WgmConfig) config     = NULL;
    g_autoptr(WgmConfig) config2    = NULL;
    guint changed                   = 0;
    char *at;

    for (guint i = 0; i < 10000; i++) {
        WgmKey key = { 0 };
        char   b64[WGM_KEY_B64_LEN + 1];

        key.bytes[0] = (guint8)(i >> 8);
        key.bytes[1] = (guint8)i;
        key.bytes[2] = 1;
        wgm_key_to_base64(&key, b64);
        g_string_append_printf(text,
                               "[Peer]\nPublicKey = %s\nEndpoint = 198.18.%u.%u:51820\n"
                               "AllowedIPs = 10.65.%u.%u/32\n\n",
                               b64,
                               i / 250,
                               i % 250 + 1,
                               i / 250,
                               i % 250 + 1);
    }
    map = read_map(text->str, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(map->n_peers, ==, 10000);
    merged = wgm_network_map_merge(profile, map);
    config = wgm_config_new_from_setting(merged, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(config->peers->len, ==, 10001);

    /* The 5,000th peer's endpoint changes. */
    at = strstr(text->str, "198.18.19.250:51820");
    g_assert_nonnull(at);
    memcpy(at, "198.18.99.250", strlen("198.18.99.250"));
    map2    = read_map(text->str, &error);
    merged2 = wgm_network_map_merge(profile, map2);
    config2 = wgm_config_new_from_setting(merged2, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < config2->peers->len; i++) {
        const WgmPeerConfig *b = config2->peers->pdata[i];
        const WgmPeerConfig *a = wgm_config_find_peer(config, &b->public_key);

        g_assert_nonnull(a);
        if (g_strcmp0(a->endpoint_host, b->endpoint_host) != 0)
            changed++;
    }
    g_assert_cmpuint(changed, ==, 1);
}

static void
test_check_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir    = g_dir_make_tmp("wgm-map-XXXXXX", &error);
    g_autofree char *path   = g_build_filename(dir, "peers.conf", NULL);

    g_assert_no_error(error);
    g_assert_false(wgm_network_map_check_file("relative/peers.conf", &error));
    g_assert_nonnull(strstr(error->message, "network-map"));
    g_clear_error(&error);

    g_assert_false(wgm_network_map_check_file(path, &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "No such file"));
    g_clear_error(&error);

    g_assert_false(wgm_network_map_check_file(dir, &error));
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);

    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_assert_cmpint(g_chmod(path, 0644), ==, 0);
    g_assert_true(wgm_network_map_check_file(path, &error));
    g_assert_no_error(error);

    g_assert_cmpint(g_chmod(path, 0666), ==, 0);
    g_assert_false(wgm_network_map_check_file(path, &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "writable by everyone (mode 0666)"));
    g_clear_error(&error);

    g_assert_cmpint(g_chmod(path, 0664), ==, 0);
    g_assert_false(wgm_network_map_check_file(path, &error));
    g_assert_nonnull(strstr(error->message, "writable by its group"));
    g_clear_error(&error);

    /* Another user's file (only root can make one here). */
    if (geteuid() == 0) {
        g_assert_cmpint(g_chmod(path, 0644), ==, 0);
        g_assert_cmpint(chown(path, 65534, 65534), ==, 0);
        g_assert_false(wgm_network_map_check_file(path, &error));
        g_test_message("%s", error->message);
        g_assert_nonnull(strstr(error->message, "belongs to user 65534"));
        g_clear_error(&error);
    }
    g_unlink(path);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/network-map/merge", test_merge);
    g_test_add_func("/network-map/duplicate", test_duplicate);
    g_test_add_func("/network-map/many", test_many);
    g_test_add_func("/network-map/check-file", test_check_file);
    return g_test_run();
}
