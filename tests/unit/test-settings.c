/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-settings-keys.h"

/* wg(8)'s documentation keys: real curve25519 keys, canonical base64. */
#define PRIV     "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PUB1     "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PUB2     "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define PSK      "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
#define ZERO_KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
/* Looks like a key, is not one, and must never show up in a message. */
#define BAD_SECRET "SECRETSECRETSECRETSECRETSECRETSECRET SECRET="

/*
 * Settings are written as lists of edits:
 *   "key=value"   vpn.data          "!key=value"  vpn.secrets
 *   "-key"        remove from data  "-!key"       remove from secrets
 */
static void
setting_apply(NMSettingVpn *s_vpn, const char *const *edits)
{
    for (; edits && *edits; edits++) {
        const char *e      = *edits;
        gboolean    remove = FALSE;
        gboolean    secret = FALSE;

        if (e[0] == '-') {
            remove = TRUE;
            e++;
        }
        if (e[0] == '!') {
            secret = TRUE;
            e++;
        }
        if (remove) {
            if (secret)
                nm_setting_vpn_remove_secret(s_vpn, e);
            else
                nm_setting_vpn_remove_data_item(s_vpn, e);
        } else {
            const char      *eq  = strchr(e, '=');
            g_autofree char *key = g_strndup(e, eq - e);

            g_assert_nonnull(eq);
            if (secret)
                nm_setting_vpn_add_secret(s_vpn, key, eq + 1);
            else
                nm_setting_vpn_add_data_item(s_vpn, key, eq + 1);
        }
    }
}

static const char *const base_edits[] = {
    "address=10.0.0.1/24",
    "!private-key=" PRIV,
    "peer.1.public-key=" PUB1,
    "peer.1.allowed-ips=10.0.0.2/32",
    NULL,
};

static NMSettingVpn *
setting_new(const char *const *base, const char *const *edits)
{
    NMSettingVpn *s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());

    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    setting_apply(s_vpn, base);
    setting_apply(s_vpn, edits);
    return s_vpn;
}

static WgmConfig *
parse_ok(const char *const *base, const char *const *edits)
{
    g_autoptr(NMSettingVpn) s_vpn = setting_new(base, edits);
    GError    *error              = NULL;
    WgmConfig *config;

    config = wgm_config_new_from_setting(s_vpn, &error);
    g_assert_no_error(error);
    g_assert_nonnull(config);
    return config;
}

/* ------------------------------------------------------------------------ */

static void
test_minimal(void)
{
    static const char *const edits[] = { "-peer.1.public-key", "-peer.1.allowed-ips", NULL };
    g_autoptr(WgmConfig) config      = parse_ok(base_edits, edits);
    g_auto(WgmKey) priv              = { 0 };
    char buf[WGM_IP_STRLEN];

    g_assert_true(wgm_key_from_base64(PRIV, &priv, NULL));
    g_assert_true(wgm_key_equal(&config->private_key, &priv));
    g_assert_cmpint(config->listen_port, ==, -1);
    g_assert_true(config->has_address4);
    g_assert_cmpstr(wgm_ip_prefix_to_string(&config->address4, buf), ==, "10.0.0.1/24");
    g_assert_false(config->has_address6);
    g_assert_cmpuint(config->dns->len, ==, 0);
    g_assert_nonnull(config->dns_search);
    g_assert_null(config->dns_search[0]);
    g_assert_cmpuint(config->mtu, ==, WGM_DEFAULT_MTU);
    g_assert_cmpint(config->backend, ==, WGM_BACKEND_KIND_AUTO);
    g_assert_false(config->lazy_connections);
    g_assert_cmpuint(config->inactivity_timeout, ==, WGM_DEFAULT_INACTIVITY_TIMEOUT);
    g_assert_null(config->network_map);
    g_assert_cmpuint(config->give_up_after, ==, 0);
    g_assert_cmpuint(config->peers->len, ==, 0);
}

static void
test_full(void)
{
    static const char *const edits[] = {
        "listen-port=51820",
        "address=10.0.0.1/24, fd00::1/64",
        "dns=10.0.0.53,fd00::53",
        "dns-search=mesh.example, ~corp.example ~.",
        "mtu=1380",
        "backend=userspace",
        "lazy-connections=yes",
        "inactivity-timeout=600",
        "network-map=/etc/wgmesh/peers.conf",
        "private-key-flags=1",
        "peer.10.public-key=" PUB2,
        "peer.10.endpoint=[fd00:1::10]:51821",
        "peer.10.allowed-ips=10.0.1.0/24,fd00:1::/64",
        "peer.10.lazy=false",
        "peer.10.name=B\xc3\xbcro",
        "peer.1.endpoint=gw.example.com:51820",
        "peer.1.allowed-ips=10.0.0.2/32, 10.0.2.7/24 10.0.0.2 ,",
        "peer.1.persistent-keepalive=25",
        "peer.1.preshared-key-flags=0",
        "!peer.1.preshared-key=" PSK,
        NULL,
    };
    g_autoptr(WgmConfig) config = parse_ok(base_edits, edits);
    g_auto(WgmKey) key          = { 0 };
    WgmPeerConfig *p1, *p10;
    char           buf[WGM_IP_STRLEN];

    g_assert_cmpint(config->listen_port, ==, 51820);
    g_assert_true(config->has_address4);
    g_assert_true(config->has_address6);
    g_assert_cmpstr(wgm_ip_prefix_to_string(&config->address4, buf), ==, "10.0.0.1/24");
    g_assert_cmpstr(wgm_ip_prefix_to_string(&config->address6, buf), ==, "fd00::1/64");
    g_assert_cmpuint(config->dns->len, ==, 2);
    g_assert_cmpstr(
        wgm_ip_addr_to_string(&g_array_index(config->dns, WgmIpAddr, 0), buf), ==, "10.0.0.53");
    g_assert_cmpstr(
        wgm_ip_addr_to_string(&g_array_index(config->dns, WgmIpAddr, 1), buf), ==, "fd00::53");
    g_assert_cmpuint(g_strv_length(config->dns_search), ==, 3);
    g_assert_cmpstr(config->dns_search[0], ==, "mesh.example");
    g_assert_cmpstr(config->dns_search[1], ==, "~corp.example");
    g_assert_cmpstr(config->dns_search[2], ==, "~.");
    g_assert_cmpuint(config->mtu, ==, 1380);
    g_assert_cmpint(config->backend, ==, WGM_BACKEND_KIND_USERSPACE);
    g_assert_true(config->lazy_connections);
    g_assert_cmpuint(config->inactivity_timeout, ==, 600);
    g_assert_cmpstr(config->network_map, ==, "/etc/wgmesh/peers.conf");

    g_assert_cmpuint(config->peers->len, ==, 2);
    p1  = config->peers->pdata[0];
    p10 = config->peers->pdata[1];

    g_assert_cmpuint(p1->index, ==, 1);
    g_assert_null(p1->name);
    g_assert_true(wgm_key_from_base64(PUB1, &key, NULL));
    g_assert_true(wgm_key_equal(&p1->public_key, &key));
    g_assert_true(p1->has_preshared_key);
    g_assert_true(wgm_key_from_base64(PSK, &key, NULL));
    g_assert_true(wgm_key_equal(&p1->preshared_key, &key));
    g_assert_cmpstr(p1->endpoint_host, ==, "gw.example.com");
    g_assert_cmpuint(p1->endpoint_port, ==, 51820);
    /* Normalized, duplicates dropped, order kept. */
    g_assert_cmpuint(p1->allowed_ips->len, ==, 2);
    g_assert_cmpstr(wgm_ip_prefix_to_string(&g_array_index(p1->allowed_ips, WgmIpPrefix, 0), buf),
                    ==,
                    "10.0.0.2/32");
    g_assert_cmpstr(wgm_ip_prefix_to_string(&g_array_index(p1->allowed_ips, WgmIpPrefix, 1), buf),
                    ==,
                    "10.0.2.0/24");
    g_assert_cmpuint(p1->persistent_keepalive, ==, 25);
    g_assert_cmpint(p1->lazy, ==, -1);
    g_assert_true(wgm_peer_config_is_lazy(config, p1));

    g_assert_cmpuint(p10->index, ==, 10);
    g_assert_cmpstr(p10->name, ==, "B\xc3\xbcro");
    g_assert_false(p10->has_preshared_key);
    g_assert_cmpstr(p10->endpoint_host, ==, "fd00:1::10");
    g_assert_cmpuint(p10->endpoint_port, ==, 51821);
    g_assert_cmpuint(p10->allowed_ips->len, ==, 2);
    g_assert_cmpuint(p10->persistent_keepalive, ==, 0);
    g_assert_cmpint(p10->lazy, ==, 0);
    g_assert_false(wgm_peer_config_is_lazy(config, p10));
}

static void
test_lenient(void)
{
    /* Spaces around machine values and empty values (= not set) are fine. */
    static const char *const edits[] = {
        "listen-port= 51820 ",
        "address=\t10.0.0.1/24 ,",
        "mtu=",
        "dns=",
        "dns-search=,",
        "backend= kernel",
        "lazy-connections=TRUE",
        "peer.1.endpoint=",
        "peer.1.persistent-keepalive= 0",
        "peer.1.lazy=1",
        "peer.7.name=",
        "!peer.1.preshared-key=" ZERO_KEY,
        /* what an auth dialog answers when nothing is needed */
        "!no-secret=true",
        NULL,
    };
    g_autoptr(WgmConfig) config = parse_ok(base_edits, edits);
    WgmPeerConfig *p1;

    g_assert_cmpint(config->listen_port, ==, 51820);
    g_assert_true(config->has_address4);
    g_assert_cmpuint(config->mtu, ==, WGM_DEFAULT_MTU);
    g_assert_cmpuint(config->dns->len, ==, 0);
    g_assert_null(config->dns_search[0]);
    g_assert_cmpint(config->backend, ==, WGM_BACKEND_KIND_KERNEL);
    g_assert_true(config->lazy_connections);
    /* An empty value makes no peer. */
    g_assert_cmpuint(config->peers->len, ==, 1);
    p1 = config->peers->pdata[0];
    g_assert_null(p1->endpoint_host);
    g_assert_cmpint(p1->lazy, ==, 1);
    /* All zeros is WireGuard's "no preshared key". */
    g_assert_false(p1->has_preshared_key);
}

/* give-up-after: mesh-wide (0 = never, the default) and per peer (absent =
 * follow the mesh-wide value, 0 = never for this peer). */
static void
test_give_up_after(void)
{
    static const char *const edits[] = {
        "give-up-after= 3600 ",         "peer.2.public-key=" PUB2,
        "peer.2.give-up-after=0",       "peer.3.public-key=" PSK, /* any key will do */
        "peer.3.give-up-after=120",     "peer.4.public-key=" PRIV,
        "peer.4.give-up-after=2592000", NULL,
    };
    static const char *const peer_only[] = { "peer.1.give-up-after=600", NULL };
    g_autoptr(WgmConfig) config          = parse_ok(base_edits, edits);
    g_autoptr(WgmConfig) config2         = parse_ok(base_edits, peer_only);
    const WgmPeerConfig *p;

    g_assert_cmpuint(config->give_up_after, ==, 3600);
    g_assert_cmpuint(config->peers->len, ==, 4);
    p = config->peers->pdata[0];
    g_assert_cmpint(p->give_up_after, ==, -1);
    g_assert_cmpuint(wgm_peer_config_give_up_after(config, p), ==, 3600);
    p = config->peers->pdata[1];
    g_assert_cmpint(p->give_up_after, ==, 0);
    g_assert_cmpuint(wgm_peer_config_give_up_after(config, p), ==, 0);
    p = config->peers->pdata[2];
    g_assert_cmpuint(wgm_peer_config_give_up_after(config, p), ==, 120);
    p = config->peers->pdata[3];
    g_assert_cmpuint(wgm_peer_config_give_up_after(config, p), ==, WGM_MAX_GIVE_UP_AFTER);

    /* Mesh-wide never, one peer gives up. */
    g_assert_cmpuint(config2->give_up_after, ==, 0);
    p = config2->peers->pdata[0];
    g_assert_cmpuint(wgm_peer_config_give_up_after(config2, p), ==, 600);
}

static void
test_values(void)
{
    /* Edits that parse, with the field they set checked by @check. */
    static const struct {
        const char *edit;
        const char *edit2;
    } cases[] = {
        { "listen-port=1", NULL },
        { "listen-port=65535", NULL },
        { "mtu=576", NULL },
        { "mtu=65535", NULL },
        { "mtu=1280", "address=fd00::1/64,10.0.0.1/24" },
        { "inactivity-timeout=60", NULL },
        { "inactivity-timeout=86400", NULL },
        { "give-up-after=0", NULL },
        { "give-up-after=1", NULL },
        { "give-up-after=2592000", NULL },
        { "give-up-after=", NULL },
        { "peer.1.give-up-after=0", NULL },
        { "peer.1.give-up-after=2592000", NULL },
        { "peer.1.give-up-after=", NULL },
        { "lazy-connections=no", NULL },
        { "lazy-connections=False", NULL },
        { "lazy-connections=0", NULL },
        { "lazy-connections=YES", NULL },
        { "backend=auto", NULL },
        { "address=fd00::1", "peer.1.allowed-ips=fd00::2/128" },
        { "address=10.0.0.1", NULL },
        { "address=fd00::1/64,10.0.0.1/8", NULL },
        { "dns-search=example.com.", NULL },
        { "dns-search=_srv.example", NULL },
        { "private-key-flags=0", NULL },
        { "private-key-flags=7", NULL },
        { "peer.1.allowed-ips=", NULL },
        { "peer.1.allowed-ips=0.0.0.0/0,::/0", "address=10.0.0.1/24,fd00::1/64" },
        { "peer.1.endpoint=1.2.3.4:1", NULL },
        { "peer.1.persistent-keepalive=65535", NULL },
        { "peer.1.name=\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
          "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc",
          NULL },
        { "peer.1.name= spaced name ", NULL },
        { "peer.0.public-key=" PUB2, NULL },
        { "peer.99999.public-key=" PUB2, NULL },
        { "peer.1.preshared-key-flags=4", NULL },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *edits[]         = { cases[i].edit, cases[i].edit2, NULL };
        g_autoptr(WgmConfig) config = NULL;

        {
            g_autofree char *q = wgm_error_quote_value(cases[i].edit);

            g_test_message("good: %s", q);
        }
        config = parse_ok(base_edits, edits);
    }
}

/* ------------------------------------------------------------------------ */

static const struct {
    const char *edits[4];
    const char *key;    /* the message must begin with "KEY: " */
    const char *expect; /* and contain this */
} bad_cases[] = {
    { { "frobnicate=1" }, "frobnicate", "unknown key" },
    { { "frobnicate=" }, "frobnicate", "unknown key" },
    { { "Address=10.0.0.1/24" }, "Address", "unknown key" },
    { { "bad\nkey=1" }, "bad\\nkey", "unknown key" },
    { { "listen-port=70000" }, "listen-port", "\"70000\" is out of range (expected 1-65535)" },
    { { "listen-port=0" }, "listen-port", "out of range" },
    { { "listen-port=99999999999999999999999" }, "listen-port", "out of range" },
    { { "listen-port=abc" }, "listen-port", "\"abc\" is not a number (expected 1-65535)" },
    { { "listen-port=-1" }, "listen-port", "is not a number" },
    { { "listen-port=+1" }, "listen-port", "is not a number" },
    { { "listen-port=1 2" }, "listen-port", "is not a number" },
    { { "address=10.0.0.1/24,10.0.0.2/24" }, "address", "second IPv4 address after 10.0.0.1/24" },
    { { "address=fd00::1/64 fd00::2/64" }, "address", "one address per family" },
    { { "address=10.0.0.300/24" }, "address", "\"10.0.0.300/24\" is not an IP prefix" },
    { { "address=fd00::1/64" },
      "peer.1.allowed-ips",
      "10.0.0.2/32 is an IPv4 prefix, but address has no IPv4 address" },
    { { "peer.1.endpoint=[fe80::1%wlan0]:51820" }, "peer.1.endpoint", "has a zone" },
    { { "address=10.0.0.1/33" }, "address", "bad prefix length" },
    { { "address=10.0.0.1/0" }, "address", "bad prefix length (expected 1-32" },
    { { "-address" }, "address", "missing" },
    { { "address=" }, "address", "missing" },
    { { "address= , " }, "address", "missing" },
    { { "dns=10.0.0.1,bogus" }, "dns", "\"bogus\" is not an IP address" },
    { { "dns=10.0.0.1/32" }, "dns", "is not an IP address" },
    { { "dns-search=example.com,foo..bar" }, "dns-search", "\"foo..bar\" is not a domain name" },
    { { "dns-search=-bad.example" }, "dns-search", "is not a domain name" },
    { { "dns-search=bad-.example" }, "dns-search", "is not a domain name" },
    { { "dns-search=b\xc3\xbcro.example" }, "dns-search", "is not a domain name" },
    { { "mtu=575" }, "mtu", "\"575\" is out of range (expected 576-65535)" },
    { { "mtu=0" }, "mtu", "out of range" },
    { { "mtu=65536" }, "mtu", "out of range" },
    { { "mtu=1279", "address=10.0.0.1/24,fd00::1/64" }, "mtu", "expected 1280-65535" },
    { { "mtu=big" }, "mtu", "is not a number" },
    { { "backend=wireguard-go" }, "backend", "expected auto, userspace or kernel" },
    { { "backend=Kernel" }, "backend", "is not a backend" },
    { { "lazy-connections=maybe" }, "lazy-connections", "is not a boolean" },
    { { "inactivity-timeout=0" }, "inactivity-timeout", "out of range (expected 60-86400)" },
    { { "inactivity-timeout=59" }, "inactivity-timeout", "out of range (expected 60-86400)" },
    { { "inactivity-timeout=86401" }, "inactivity-timeout", "out of range" },
    { { "network-map=peers.conf" }, "network-map", "is not an absolute path" },
    { { "private-key-flags=8" }, "private-key-flags", "out of range (expected 0-7)" },
    { { "private-key-flags=agent" }, "private-key-flags", "is not a number" },
    { { "private-key=" PRIV },
      "private-key",
      "is a secret: store it in vpn.secrets, not in vpn.data, which every local user can read" },
    { { "private-key=" PRIV, "-!private-key" }, "private-key", "is a secret" },
    { { "private-key=", "-!private-key" }, "private-key", "is a secret" },
    { { "give-up-after=2592001" },
      "give-up-after",
      "\"2592001\" is out of range (expected 0-2592000)" },
    { { "give-up-after=99999999999999999999" }, "give-up-after", "out of range" },
    { { "give-up-after=-1" }, "give-up-after", "\"-1\" is not a number (expected 0-2592000)" },
    { { "give-up-after=+60" }, "give-up-after", "is not a number" },
    { { "give-up-after=1h" }, "give-up-after", "is not a number" },
    { { "give-up-after=1e3" }, "give-up-after", "is not a number" },
    { { "give-up-after=0x10" }, "give-up-after", "is not a number" },
    { { "give-up-after=1.5" }, "give-up-after", "is not a number" },
    { { "give-up-after=1 0" }, "give-up-after", "is not a number" },
    { { "give-up-after=never" }, "give-up-after", "is not a number" },
    { { "!give-up-after=60" }, "give-up-after", "is not a secret: store it in vpn.data" },
    { { "peer.1.give-up-after=2592001" },
      "peer.1.give-up-after",
      "\"2592001\" is out of range (expected 0-2592000)" },
    { { "peer.1.give-up-after=-1" }, "peer.1.give-up-after", "is not a number" },
    { { "peer.1.give-up-after=60s" }, "peer.1.give-up-after", "is not a number" },
    { { "!peer.1.give-up-after=60" }, "peer.1.give-up-after", "is not a secret" },
    { { "peer.2.give-up-after=60" }, "peer.2.public-key", "missing" },
    { { "-!private-key" }, "private-key", "missing" },
    { { "!private-key=" }, "private-key", "missing" },
    { { "!private-key=" BAD_SECRET }, "private-key", "is not a WireGuard key" },
    { { "!private-key=SECRET" }, "private-key", "is not a WireGuard key" },
    { { "!private-key=" ZERO_KEY }, "private-key", "all zeros" },
    { { "!listen-port=1" }, "listen-port", "is not a secret: store it in vpn.data" },
    { { "!private-key-flags=1" }, "private-key-flags", "is not a secret" },
    { { "!frobnicate=1" }, "frobnicate", "unknown secret" },
    { { "!peer.1.name=x" }, "peer.1.name", "is not a secret" },
    { { "!peer.1.frobnicate=x" }, "peer.1.frobnicate", "unknown secret" },
    { { "!peer.x.preshared-key=" PSK }, "peer.x.preshared-key", "bad peer index" },
    { { "peer.1.preshared-key=" PSK },
      "peer.1.preshared-key",
      "is a secret: store it in vpn.secrets, not in vpn.data, which every local user can read" },
    { { "!peer.1.preshared-key=" BAD_SECRET }, "peer.1.preshared-key", "is not a WireGuard key" },
    { { "!peer.1.preshared-key=SECRET" }, "peer.1.preshared-key", "is not a WireGuard key" },
    { { "peer.1.frobnicate=1" }, "peer.1.frobnicate", "unknown peer field" },
    { { "peer.1.frobnicate=" }, "peer.1.frobnicate", "unknown peer field" },
    { { "peer.1.Public-Key=" PUB2 }, "peer.1.Public-Key", "unknown peer field" },
    { { "peer.01.public-key=" PUB2 }, "peer.01.public-key", "bad peer index" },
    { { "peer.00.public-key=" PUB2 }, "peer.00.public-key", "bad peer index" },
    { { "peer.x.public-key=" PUB2 }, "peer.x.public-key", "bad peer index" },
    { { "peer.-1.public-key=" PUB2 }, "peer.-1.public-key", "bad peer index" },
    { { "peer.+1.public-key=" PUB2 }, "peer.+1.public-key", "bad peer index" },
    { { "peer.100000.public-key=" PUB2 }, "peer.100000.public-key", "bad peer index" },
    { { "peer.99999999999999999999.name=a" }, "peer.99999999999999999999.name", "bad peer index" },
    { { "peer..public-key=" PUB2 }, "peer..public-key", "bad peer index" },
    { { "peer.1=x" }, "peer.1", "expected peer.N.FIELD" },
    { { "peer.1.=x" }, "peer.1.", "expected peer.N.FIELD" },
    { { "peer.=x" }, "peer.", "expected peer.N.FIELD" },
    { { "peer.2.allowed-ips=10.0.0.3/32" }, "peer.2.public-key", "missing" },
    { { "peer.2.name=lonely" }, "peer.2.public-key", "missing" },
    { { "peer.2.preshared-key-flags=1" }, "peer.2.public-key", "missing" },
    { { "!peer.2.preshared-key=" PSK }, "peer.2.public-key", "missing" },
    { { "peer.2.public-key=", "peer.2.lazy=yes" }, "peer.2.public-key", "missing" },
    { { "peer.2.public-key=" PUB1 }, "peer.2.public-key", "duplicate of peer.1.public-key" },
    { { "peer.0.public-key=" PUB1 }, "peer.1.public-key", "duplicate of peer.0.public-key" },
    { { "peer.1.public-key=abc" }, "peer.1.public-key", "is not a WireGuard key" },
    { { "peer.1.public-key=" ZERO_KEY }, "peer.1.public-key", "all zeros" },
    { { "peer.1.public-key= " PUB1 }, "peer.1.public-key", "is not a WireGuard key" },
    { { "peer.1.allowed-ips=10.0.0.300/32" },
      "peer.1.allowed-ips",
      "\"10.0.0.300/32\" is not an IP prefix (expected ADDRESS/LENGTH)" },
    { { "peer.1.allowed-ips=10.0.0.0/33" }, "peer.1.allowed-ips", "bad prefix length" },
    { { "peer.1.allowed-ips=10.0.0.0/24;10.0.1.0/24" }, "peer.1.allowed-ips", "bad prefix length" },
    { { "peer.2.public-key=" PUB2, "peer.2.allowed-ips=10.0.0.9/32,10.0.0.2" },
      "peer.2.allowed-ips",
      "10.0.0.2/32 is also in peer.1.allowed-ips" },
    { { "peer.2.public-key=" PUB2, "peer.1.allowed-ips=0.0.0.0/0", "peer.2.allowed-ips=1.2.3.4/0" },
      "peer.2.allowed-ips",
      "0.0.0.0/0 is also in peer.1.allowed-ips" },
    { { "peer.1.endpoint=fd00::1:51820" }, "peer.1.endpoint", "needs brackets" },
    { { "peer.1.endpoint=example.com:0" }, "peer.1.endpoint", "bad port" },
    { { "peer.1.endpoint=example.com" }, "peer.1.endpoint", "the port is missing" },
    { { "peer.1.endpoint=exa_mple.com:1" }, "peer.1.endpoint", "nor a host name" },
    { { "peer.1.persistent-keepalive=65536" }, "peer.1.persistent-keepalive", "out of range" },
    { { "peer.1.persistent-keepalive=-1" }, "peer.1.persistent-keepalive", "is not a number" },
    { { "peer.1.lazy=sometimes" }, "peer.1.lazy", "is not a boolean" },
    { { "peer.1.name=0123456789012345678901234567890123456789012345678901234567890123X" },
      "peer.1.name",
      "longer than 64 characters" },
    { { "peer.1.name=a\tb" }, "peer.1.name", "control character" },
    { { "peer.1.name=a\xc2\x85"
        "b" },
      "peer.1.name",
      "control character" },
    { { "peer.1.name=\xff" }, "peer.1.name", "not valid UTF-8" },
    { { "peer.1.preshared-key-flags=9" }, "peer.1.preshared-key-flags", "out of range" },
};

static void
test_bad(void)
{
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, bad_cases[i].edits);
        g_autofree char *prefix       = g_strdup_printf("%s: ", bad_cases[i].key);
        GError          *error        = NULL;
        WgmConfig       *config;

        config = wgm_config_new_from_setting(s_vpn, &error);
        {
            g_autofree char *q_edit = wgm_error_quote_value(bad_cases[i].edits[0]);
            g_autofree char *q_msg  = wgm_error_quote_value(error ? error->message : "(success)");

            g_test_message("%s -> %s", q_edit, q_msg);
        }
        g_assert_null(config);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_true(g_str_has_prefix(error->message, prefix));
        g_assert_nonnull(strstr(error->message, bad_cases[i].expect));

        /* No secret, good or bad, is ever quoted back. */
        g_assert_null(strstr(error->message, PRIV));
        g_assert_null(strstr(error->message, PSK));
        g_assert_null(strstr(error->message, "SECRET"));
        g_clear_error(&error);

        /* A NULL GError is fine too. */
        g_assert_null(wgm_config_new_from_setting(s_vpn, NULL));
    }
}

static void
test_secret_not_in_message(void)
{
    /* Parts of secrets must not leak either: look for any 8 consecutive
     * characters of the private key in the message. */
    static const char *const secrets[]  = { PRIV, PSK };
    static const char *const cases[][3] = {
        { "private-key=" PRIV, NULL },
        { "peer.1.preshared-key=" PSK, NULL },
        { "!private-key=" PRIV "\n", NULL },
        { "!private-key= " PRIV, NULL },
        { "!private-key=" PRIV PRIV, NULL },
        { "!peer.1.preshared-key=" PSK "x", NULL },
        { "!peer.1.preshared-key=" PRIV, "peer.1.frobnicate=1" },
    };
    unsigned i, j, k;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, cases[i]);
        g_autoptr(GError) error       = NULL;
        g_autoptr(WgmConfig) config   = wgm_config_new_from_setting(s_vpn, &error);

        g_assert_null(config);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        for (j = 0; j < G_N_ELEMENTS(secrets); j++) {
            for (k = 0; k + 8 <= strlen(secrets[j]); k++) {
                g_autofree char *part = g_strndup(secrets[j] + k, 8);

                g_assert_null(strstr(error->message, part));
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static void
make_key_b64(guint n, char buf[WGM_KEY_B64_LEN + 1])
{
    WgmKey key = { { 0 } };

    key.bytes[0] = 1;
    key.bytes[1] = (guint8)(n >> 16);
    key.bytes[2] = (guint8)(n >> 8);
    key.bytes[3] = (guint8)n;
    wgm_key_to_base64(&key, buf);
}

static void
test_many_peers(void)
{
    const guint n                 = 2000;
    g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, NULL);
    g_autoptr(GError) error       = NULL;
    g_autoptr(WgmConfig) config   = NULL;
    gint64 start;
    guint  i;

    nm_setting_vpn_remove_data_item(s_vpn, "peer.1.public-key");
    nm_setting_vpn_remove_data_item(s_vpn, "peer.1.allowed-ips");
    nm_setting_vpn_add_data_item(s_vpn, "address", "10.0.0.1/16,fd00::1/64");

    /* Sparse indexes, added in reverse, to exercise the sort. */
    for (i = n; i-- > 0;) {
        g_autofree char *k_pub  = g_strdup_printf("peer.%u.public-key", i * 7);
        g_autofree char *k_ai   = g_strdup_printf("peer.%u.allowed-ips", i * 7);
        g_autofree char *k_ep   = g_strdup_printf("peer.%u.endpoint", i * 7);
        g_autofree char *k_name = g_strdup_printf("peer.%u.name", i * 7);
        g_autofree char *k_psk  = g_strdup_printf("peer.%u.preshared-key", i * 7);
        g_autofree char *ai =
            g_strdup_printf("10.0.%u.%u/32,fd00::%x/128", (i + 2) / 256, (i + 2) % 256, i + 2);
        g_autofree char *ep   = g_strdup_printf("192.0.2.%u:%u", i % 250 + 1, 51820 + i);
        g_autofree char *name = g_strdup_printf("node %u", i);
        char             pub[WGM_KEY_B64_LEN + 1];

        make_key_b64(i, pub);
        nm_setting_vpn_add_data_item(s_vpn, k_pub, pub);
        nm_setting_vpn_add_data_item(s_vpn, k_ai, ai);
        nm_setting_vpn_add_data_item(s_vpn, k_ep, ep);
        nm_setting_vpn_add_data_item(s_vpn, k_name, name);
        if (i % 3 == 0)
            nm_setting_vpn_add_secret(s_vpn, k_psk, PSK);
    }

    start  = g_get_monotonic_time();
    config = wgm_config_new_from_setting(s_vpn, &error);
    g_test_message("%u peers parsed in %" G_GINT64_FORMAT " us", n, g_get_monotonic_time() - start);
    g_assert_no_error(error);
    g_assert_nonnull(config);
    g_assert_cmpuint(config->peers->len, ==, n);
    for (i = 0; i < n; i++) {
        const WgmPeerConfig *peer = config->peers->pdata[i];
        g_autofree char     *name = g_strdup_printf("node %u", i);
        char                 pub[WGM_KEY_B64_LEN + 1];
        char                 got[WGM_KEY_B64_LEN + 1];

        g_assert_cmpuint(peer->index, ==, i * 7);
        g_assert_cmpstr(peer->name, ==, name);
        make_key_b64(i, pub);
        wgm_key_to_base64(&peer->public_key, got);
        g_assert_cmpstr(got, ==, pub);
        g_assert_cmpuint(peer->allowed_ips->len, ==, 2);
        g_assert_cmpuint(peer->endpoint_port, ==, 51820 + i);
        g_assert_cmpint(peer->has_preshared_key, ==, i % 3 == 0);
    }

    /* One conflicting prefix at the very end is still found, naming both. */
    nm_setting_vpn_add_data_item(s_vpn, "peer.99999.public-key", PUB2);
    nm_setting_vpn_add_data_item(s_vpn, "peer.99999.allowed-ips", "10.0.0.2/32");
    g_clear_pointer(&config, wgm_config_free);
    config = wgm_config_new_from_setting(s_vpn, &error);
    g_assert_null(config);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_assert_cmpstr(error->message,
                    ==,
                    "peer.99999.allowed-ips: 10.0.0.2/32 is also in peer.0.allowed-ips "
                    "(WireGuard would silently move it to one of the two peers)");
}

/* ------------------------------------------------------------------------ */

static void
test_need_secrets(void)
{
    static const struct {
        const char *edits[5];
        const char *expect; /* names joined with ',' or NULL */
    } cases[] = {
        { { NULL }, NULL },
        { { "-!private-key" }, "private-key" },
        { { "-!private-key", "private-key-flags=1" }, "private-key" },
        { { "-!private-key", "private-key-flags=2" }, "private-key" },
        { { "-!private-key", "private-key-flags=4" }, NULL },
        { { "-!private-key", "private-key-flags=5" }, NULL },
        { { "!private-key=", "private-key-flags=0" }, "private-key" },
        { { "private-key-flags=1" }, NULL },
        /* Preshared keys: only agent-owned / not-saved ones are asked for. */
        { { "peer.1.preshared-key-flags=0" }, NULL },
        { { "peer.1.preshared-key-flags=1" }, "peer.1.preshared-key" },
        { { "peer.1.preshared-key-flags=2" }, "peer.1.preshared-key" },
        { { "peer.1.preshared-key-flags=5" }, NULL },
        { { "peer.1.preshared-key-flags=1", "!peer.1.preshared-key=" PSK }, NULL },
        { { "peer.10.preshared-key-flags=1", "peer.2.preshared-key-flags=2", "-!private-key" },
          "private-key,peer.2.preshared-key,peer.10.preshared-key" },
        /* Garbage is left for wgm_config_new_from_setting() to report. */
        { { "peer.x.preshared-key-flags=1", "peer.3.preshared-key-flags=x" }, NULL },
        /* So is a secret in vpn.data: no prompt for what Connect refuses. */
        { { "private-key=" PRIV, "-!private-key" }, NULL },
        { { "private-key=", "-!private-key", "private-key-flags=1" }, NULL },
        { { "private-key=" PRIV, "-!private-key", "peer.1.preshared-key-flags=1" }, NULL },
        { { "peer.1.preshared-key=" PSK, "peer.1.preshared-key-flags=1" }, NULL },
        { { "peer.1.preshared-key=" PSK, "-!private-key" }, NULL },
        { { "peer.2.preshared-key-flags=1", "peer.1.preshared-key=" PSK }, NULL },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, cases[i].edits);
        g_auto(GStrv) names           = wgm_config_need_secrets(s_vpn);
        g_autofree char *joined       = names ? g_strjoinv(",", names) : NULL;

        g_test_message("need-secrets case %u: %s", i, joined ? joined : "(none)");
        g_assert_cmpstr(joined, ==, cases[i].expect);
        if (names)
            g_assert_nonnull(names[0]);
    }
}

/* Secrets an agent gave that Connect refuses: asked for again (the service's
 * ConnectInteractive), by the same rules as Connect; stored ones are not. */
static void
test_bad_agent_secrets(void)
{
    static const struct {
        const char *edits[5];
        const char *expect; /* names joined with ',' or NULL */
    } cases[] = {
        { { NULL }, NULL },
        { { "private-key-flags=2" }, NULL },
        { { "!private-key=" BAD_SECRET }, NULL }, /* stored: the profile's error */
        { { "!private-key=" BAD_SECRET, "private-key-flags=2" }, "private-key" },
        { { "!private-key=" BAD_SECRET, "private-key-flags=1" }, "private-key" },
        { { "!private-key=" ZERO_KEY, "private-key-flags=1" }, "private-key" },
        { { "!private-key=", "private-key-flags=1" }, NULL }, /* missing, not bad */
        { { "!peer.1.preshared-key=" ZERO_KEY, "peer.1.preshared-key-flags=1" }, NULL },
        { { "!peer.1.preshared-key=" PSK, "peer.1.preshared-key-flags=1" }, NULL },
        { { "!peer.1.preshared-key=x", "peer.1.preshared-key-flags=2" }, "peer.1.preshared-key" },
        { { "!peer.1.preshared-key=x", "peer.1.preshared-key-flags=0" }, NULL },
        { { "!peer.1.preshared-key=x",
            "peer.1.preshared-key-flags=2",
            "!private-key=x",
            "private-key-flags=2" },
          "peer.1.preshared-key,private-key" },
        /* Not a key secret at all: Connect says so, nobody is asked. */
        { { "!frobnicate=x", "frobnicate-flags=1" }, NULL },
        { { "!no-secret=true" }, NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, cases[i].edits);
        g_auto(GStrv) names           = wgm_config_bad_agent_secrets(s_vpn);
        g_autofree char *joined       = names ? g_strjoinv(",", names) : NULL;

        g_test_message("bad-agent-secrets case %u: %s", i, joined ? joined : "(none)");
        g_assert_cmpstr(joined, ==, cases[i].expect);
    }
}

/* A secret in vpn.data: no secrets request, and the profile is refused
 * with the reason, as the service's Connect reports it. */
static void
test_secret_in_data(void)
{
    static const struct {
        const char *edits[4];
        const char *key;
    } cases[] = {
        { { "private-key=" PRIV, "-!private-key" }, "private-key" },
        { { "private-key=" PRIV, "-!private-key", "private-key-flags=1" }, "private-key" },
        { { "peer.1.preshared-key=" PSK, "peer.1.preshared-key-flags=2" }, "peer.1.preshared-key" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, cases[i].edits);
        g_auto(GStrv) names           = wgm_config_need_secrets(s_vpn);
        g_autoptr(GError) error       = NULL;
        g_autoptr(WgmConfig) config   = wgm_config_new_from_setting(s_vpn, &error);
        g_autofree char *expected     = g_strdup_printf(
            "%s: is a secret: store it in vpn.secrets, not in vpn.data, which every local user "
                "can read",
            cases[i].key);

        g_assert_null(names);
        g_assert_null(config);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_cmpstr(error->message, ==, expected);
    }
}

static void
test_misc(void)
{
    g_assert_cmpstr(wgm_backend_kind_to_string(WGM_BACKEND_KIND_AUTO), ==, "auto");
    g_assert_cmpstr(wgm_backend_kind_to_string(WGM_BACKEND_KIND_USERSPACE), ==, "userspace");
    g_assert_cmpstr(wgm_backend_kind_to_string(WGM_BACKEND_KIND_KERNEL), ==, "kernel");
    wgm_config_free(NULL);
}

/* A profile re-read while up keeps the secrets an agent gave (its flags
 * say AGENT_OWNED or NOT_SAVED), and only those. */
static void
test_keep_unsaved_secrets(void)
{
    static const char *const applied_edits[] = {
        "private-key-flags=1",          /* agent-owned */
        "peer.1.preshared-key-flags=2", /* not saved */
        "!peer.1.preshared-key=" PSK,
        "peer.2.public-key=" PUB2,
        "peer.2.allowed-ips=10.0.0.3/32",
        "!peer.2.preshared-key=" PSK,
        NULL,
    };
    g_autoptr(WgmConfig) applied = parse_ok(base_edits, applied_edits);
    /* The re-read profile: no secrets; peer 1 (agent's PSK) now second,
     * peer 2's PSK (saved: flags 0) gone for real. */
    static const char *const reread_edits[] = {
        "-!private-key",
        "private-key-flags=1",
        "-peer.1.public-key",
        "-peer.1.allowed-ips",
        "peer.1.public-key=" PUB2,
        "peer.1.allowed-ips=10.0.0.3/32",
        "peer.2.public-key=" PUB1,
        "peer.2.allowed-ips=10.0.0.2/32",
        "peer.2.preshared-key-flags=2",
        NULL,
    };
    g_autoptr(NMSettingVpn) s_vpn = setting_new(base_edits, reread_edits);
    g_autoptr(WgmConfig) config   = NULL;
    GError *error                 = NULL;

    g_assert_null(nm_setting_vpn_get_secret(s_vpn, "private-key"));
    wgm_config_keep_unsaved_secrets(applied, s_vpn);
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, "private-key"), ==, PRIV);
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, "peer.2.preshared-key"), ==, PSK);
    g_assert_null(nm_setting_vpn_get_secret(s_vpn, "peer.1.preshared-key"));
    config = wgm_config_new_from_setting(s_vpn, &error);
    g_assert_no_error(error);
    g_assert_true(((WgmPeerConfig *)config->peers->pdata[1])->has_preshared_key);
    g_assert_false(((WgmPeerConfig *)config->peers->pdata[0])->has_preshared_key);

    /* A saved private key that is missing stays missing. */
    {
        static const char *const saved[] = { "-!private-key", NULL };
        g_autoptr(NMSettingVpn) s2       = setting_new(base_edits, saved);

        wgm_config_keep_unsaved_secrets(applied, s2);
        g_assert_null(nm_setting_vpn_get_secret(s2, "private-key"));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/settings/minimal", test_minimal);
    g_test_add_func("/settings/full", test_full);
    g_test_add_func("/settings/lenient", test_lenient);
    g_test_add_func("/settings/give-up-after", test_give_up_after);
    g_test_add_func("/settings/values", test_values);
    g_test_add_func("/settings/bad", test_bad);
    g_test_add_func("/settings/secret-not-in-message", test_secret_not_in_message);
    g_test_add_func("/settings/many-peers", test_many_peers);
    g_test_add_func("/settings/need-secrets", test_need_secrets);
    g_test_add_func("/settings/bad-agent-secrets", test_bad_agent_secrets);
    g_test_add_func("/settings/secret-in-data", test_secret_in_data);
    g_test_add_func("/settings/misc", test_misc);
    g_test_add_func("/settings/keep-unsaved-secrets", test_keep_unsaved_secrets);

    return g_test_run();
}
