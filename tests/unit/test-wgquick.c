/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wg-quick reader and writer.  The corpus in tests/data/wg-quick/: each
 * good NAME.conf has a NAME.expected listing what the reader makes ("data
 * KEY=VALUE", "secret KEY=VALUE", "warning MESSAGE", "peers N"; any order),
 * each bad one a NAME.error with the start of the message it must give.
 * Files named peers-*.conf are read as network maps (PEERS_ONLY).
 */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick.h"

#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PUB1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PUB2 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define PUB3 "NYJQrxQdeWpJKQ7OJvVZJ74PN3kMrFuSUPlrPCtNSDw="
#define PSK  "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
#define PSK2 "k2nRW/+9WdHmZ811OTuL/Y2E7o7XQP/I8a97Zsg46DA="
/* Looks like a key, is not one, and must never show up in a message. */
#define BAD_SECRET "SECRETSECRETSECRETSECRETSECRETSECRET SECRET="

static char *
corpus_path(const char *name)
{
    return g_test_build_filename(G_TEST_DIST, "data", "wg-quick", name, NULL);
}

static WgmWgQuickMode
mode_for(const char *name)
{
    return g_str_has_prefix(name, "peers-") ? WGM_WGQUICK_PEERS_ONLY : WGM_WGQUICK_PROFILE;
}

static int
str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The reader's result as sorted lines, in the format of the .expected files. */
static char *
listing(const WgmWgQuick *wq)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer       k, v;
    guint          i;

    g_ptr_array_add(lines, g_strdup_printf("peers %u", wq->n_peers));
    g_hash_table_iter_init(&iter, wq->data);
    while (g_hash_table_iter_next(&iter, &k, &v))
        g_ptr_array_add(lines, g_strdup_printf("data %s=%s", (char *)k, (char *)v));
    g_hash_table_iter_init(&iter, wq->secrets);
    while (g_hash_table_iter_next(&iter, &k, &v))
        g_ptr_array_add(lines, g_strdup_printf("secret %s=%s", (char *)k, (char *)v));
    for (i = 0; i < wq->warnings->len; i++)
        g_ptr_array_add(lines, g_strdup_printf("warning %s", (char *)wq->warnings->pdata[i]));
    g_ptr_array_sort(lines, str_cmp);
    g_ptr_array_add(lines, NULL);
    return g_strjoinv("\n", (char **)lines->pdata);
}

/* An .expected file, sorted, without blank lines. */
static char *
expected_listing(const char *text)
{
    g_auto(GStrv) all          = g_strsplit(text, "\n", -1);
    g_autoptr(GPtrArray) lines = g_ptr_array_new();
    guint i;

    for (i = 0; all[i]; i++) {
        if (all[i][0])
            g_ptr_array_add(lines, all[i]);
    }
    g_ptr_array_sort(lines, str_cmp);
    g_ptr_array_add(lines, NULL);
    return g_strjoinv("\n", (char **)lines->pdata);
}

static void
assert_hash_equal(GHashTable *a, GHashTable *b)
{
    GHashTableIter iter;
    gpointer       k, v;

    g_hash_table_iter_init(&iter, a);
    while (g_hash_table_iter_next(&iter, &k, &v))
        g_assert_cmpstr(g_hash_table_lookup(b, k), ==, v);
    g_assert_cmpuint(g_hash_table_size(a), ==, g_hash_table_size(b));
}

/* Secrets live in @secrets only. */
static void
assert_no_secret_in_data(const WgmWgQuick *wq)
{
    GHashTableIter iter, siter;
    gpointer       k, v, sk, sv;

    g_hash_table_iter_init(&iter, wq->data);
    while (g_hash_table_iter_next(&iter, &k, &v)) {
        g_assert_cmpstr(k, !=, WGM_KEY_PRIVATE_KEY);
        g_assert_false(g_str_has_suffix(k, "." WGM_PEER_FIELD_PRESHARED_KEY));
        g_hash_table_iter_init(&siter, wq->secrets);
        while (g_hash_table_iter_next(&siter, &sk, &sv))
            g_assert_null(strstr(v, sv));
    }
}

/* No 44-character key of @text, nor the start of one, is in @message. */
static void
assert_no_key_in(const char *message, const char *text)
{
    g_autoptr(GRegex) re     = g_regex_new("[A-Za-z0-9+/]{43}=", 0, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;

    g_regex_match(re, text, 0, &mi);
    while (g_match_info_matches(mi)) {
        g_autofree char *key = g_match_info_fetch(mi, 0);

        key[12] = '\0';
        g_assert_null(strstr(message, key));
        g_match_info_next(mi, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Corpus */

static void
test_good_file(gconstpointer data)
{
    const char      *name     = data;
    g_autofree char *path     = corpus_path(name);
    g_autofree char *stem     = g_strndup(name, strlen(name) - strlen(".conf"));
    g_autofree char *exp_name = g_strconcat(stem, ".expected", NULL);
    g_autofree char *exp_path = corpus_path(exp_name);
    g_autofree char *contents = NULL;
    g_autofree char *exp_text = NULL;
    g_autofree char *got      = NULL;
    g_autofree char *want     = NULL;
    g_autoptr(WgmWgQuick) wq  = NULL;
    g_autoptr(GError) error   = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_true(g_file_get_contents(exp_path, &exp_text, NULL, NULL));
    wq = wgm_wgquick_read(contents, len, name, mode_for(name), &error);
    g_assert_no_error(error);
    g_assert_nonnull(wq);

    got  = listing(wq);
    want = expected_listing(exp_text);
    g_assert_cmpstr(got, ==, want);
    assert_no_secret_in_data(wq);

    /* file -> profile -> file -> profile */
    if (mode_for(name) == WGM_WGQUICK_PROFILE) {
        g_autoptr(NMSettingVpn) s_vpn = wgm_wgquick_to_setting(wq);
        g_autoptr(WgmWgQuick) again   = NULL;
        g_autofree char *text         = wgm_wgquick_write(s_vpn, &error);

        g_assert_no_error(error);
        again = wgm_wgquick_read(text, -1, "written.conf", WGM_WGQUICK_PROFILE, &error);
        g_assert_no_error(error);
        assert_hash_equal(wq->data, again->data);
        assert_hash_equal(wq->secrets, again->secrets);
        g_assert_cmpuint(wq->n_peers, ==, again->n_peers);
    }
}

static void
test_bad_file(gconstpointer data)
{
    const char      *name     = data;
    g_autofree char *path     = corpus_path(name);
    g_autofree char *stem     = g_strndup(name, strlen(name) - strlen(".conf"));
    g_autofree char *err_name = g_strconcat(stem, ".error", NULL);
    g_autofree char *err_path = corpus_path(err_name);
    g_autofree char *contents = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(WgmWgQuick) wq  = NULL;
    g_autoptr(GError) error   = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_true(g_file_get_contents(err_path, &expected, NULL, NULL));
    g_strchomp(expected);

    wq = wgm_wgquick_read(contents, len, name, mode_for(name), &error);
    g_assert_null(wq);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    if (!g_str_has_prefix(error->message, expected))
        g_error("%s: got \"%s\", expected it to start with \"%s\"", name, error->message, expected);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    /* Public keys may be quoted, but none is in these messages either. */
    assert_no_key_in(error->message, contents);
}

/* Every .conf has its .expected or its .error.  @names keeps the test data. */
static void
add_corpus_tests(GPtrArray *names)
{
    g_autofree char *dir_path = corpus_path("");
    g_autoptr(GDir) dir       = g_dir_open(dir_path, 0, NULL);
    const char *name;
    guint       i;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        if (g_str_has_suffix(name, ".conf"))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, str_cmp);
    g_assert_cmpuint(names->len, >, 20);

    for (i = 0; i < names->len; i++) {
        char            *n     = names->pdata[i];
        g_autofree char *stem  = g_strndup(n, strlen(n) - strlen(".conf"));
        g_autofree char *good  = g_strconcat(dir_path, "/", stem, ".expected", NULL);
        g_autofree char *bad   = g_strconcat(dir_path, "/", stem, ".error", NULL);
        g_autofree char *tname = NULL;

        if (g_file_test(good, G_FILE_TEST_EXISTS)) {
            tname = g_strdup_printf("/wgquick/corpus/good/%s", stem);
            g_test_add_data_func(tname, n, test_good_file);
        } else {
            g_assert_true(g_file_test(bad, G_FILE_TEST_EXISTS));
            tname = g_strdup_printf("/wgquick/corpus/bad/%s", stem);
            g_test_add_data_func(tname, n, test_bad_file);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Reader */

static WgmWgQuick *
read_ok(const char *text, WgmWgQuickMode mode)
{
    g_autoptr(GError) error = NULL;
    WgmWgQuick *wq          = wgm_wgquick_read(text, -1, "t.conf", mode, &error);

    g_assert_no_error(error);
    g_assert_nonnull(wq);
    return wq;
}

static char *
read_error(const char *text, gssize len, WgmWgQuickMode mode)
{
    g_autoptr(GError) error  = NULL;
    g_autoptr(WgmWgQuick) wq = wgm_wgquick_read(text, len, "t.conf", mode, &error);

    g_assert_null(wq);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    return g_strdup(error->message);
}

static void
test_line_endings(void)
{
    g_autofree char *path     = corpus_path("one-peer.conf");
    g_autofree char *contents = NULL;
    g_autoptr(GString) crlf   = g_string_new("\xef\xbb\xbf");
    g_autoptr(WgmWgQuick) lf  = NULL;
    g_autoptr(WgmWgQuick) cr  = NULL;
    g_autoptr(WgmWgQuick) cut = NULL;
    g_autoptr(GError) error   = NULL;
    const char *p;

    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    for (p = contents; *p; p++) {
        if (*p == '\n')
            g_string_append_c(crlf, '\r');
        g_string_append_c(crlf, *p);
    }
    lf = read_ok(contents, WGM_WGQUICK_PROFILE);
    cr = read_ok(crlf->str, WGM_WGQUICK_PROFILE);
    assert_hash_equal(lf->data, cr->data);
    assert_hash_equal(lf->secrets, cr->secrets);

    /* Without a final line break, and not NUL-terminated: the buffer is cut
     * inside "PersistentKeepalive = 25" so it reads 2. */
    g_string_append(crlf, "garbage that is not part of the file");
    cut = wgm_wgquick_read(crlf->str,
                           strstr(crlf->str, "= 25") + 3 - crlf->str,
                           "t.conf",
                           WGM_WGQUICK_PROFILE,
                           &error);
    g_assert_no_error(error);
    g_assert_cmpstr(g_hash_table_lookup(cut->data, "peer.1.persistent-keepalive"), ==, "2");
}

static void
test_odd_inputs(void)
{
    static const char nul[]  = "[Interface]\nAddress = 10.0.0.1/24\0\n";
    g_autofree char  *m1     = read_error(nul, sizeof(nul) - 1, WGM_WGQUICK_PROFILE);
    g_autofree char  *m2     = read_error("", 0, WGM_WGQUICK_PROFILE);
    g_autofree char  *m3     = read_error("[Peer]\n", -1, WGM_WGQUICK_PEERS_ONLY);
    g_autoptr(WgmWgQuick) wq = read_ok("", WGM_WGQUICK_PEERS_ONLY);
    g_autoptr(WgmWgQuick) w2 = read_ok("# nothing\n\n", WGM_WGQUICK_PEERS_ONLY);

    g_assert_cmpstr(m1, ==, "t.conf:2: a NUL byte (expected a text file)");
    g_assert_cmpstr(m2,
                    ==,
                    "t.conf: no [Interface] section (expected one, with this host's "
                    "PrivateKey and Address)");
    g_assert_cmpstr(m3, ==, "t.conf:1: [Peer]: no PublicKey (every peer needs one)");
    g_assert_cmpuint(wq->n_peers, ==, 0);
    g_assert_cmpuint(g_hash_table_size(wq->data), ==, 0);
    g_assert_cmpuint(w2->warnings->len, ==, 0);
}

static void
test_values(void)
{
    /* Normalised on the way in: what the writer gives back. */
    g_autoptr(WgmWgQuick) wq = read_ok("[Interface]\n"
                                       "PrivateKey = " PRIV "\n"
                                       "Address = 10.0.0.1/24\n"
                                       "ListenPort = 0\n"
                                       "[Peer]\n"
                                       "PublicKey = " PUB1 "\n"
                                       "AllowedIPs = 10.0.0.2\n"
                                       "AllowedIPs = ,\n"
                                       "PersistentKeepalive = 0\n"
                                       "# Lazy = TRUE\n"
                                       "# Name = a = b # c\n"
                                       "# Something = else\n"
                                       "[Peer]\n"
                                       "PublicKey = " PUB2 "\n"
                                       "PersistentKeepalive = 00030\n"
                                       "# wgmesh: Give-Up-After = 0\n",
                                       WGM_WGQUICK_PROFILE);

    g_assert_false(g_hash_table_contains(wq->data, "listen-port"));
    g_assert_cmpstr(g_hash_table_lookup(wq->data, "peer.1.allowed-ips"), ==, "10.0.0.2");
    g_assert_false(g_hash_table_contains(wq->data, "peer.1.persistent-keepalive"));
    g_assert_cmpstr(g_hash_table_lookup(wq->data, "peer.1.lazy"), ==, "yes");
    g_assert_cmpstr(g_hash_table_lookup(wq->data, "peer.1.name"), ==, "a = b # c");
    g_assert_cmpstr(g_hash_table_lookup(wq->data, "peer.2.persistent-keepalive"), ==, "30");
    g_assert_cmpstr(g_hash_table_lookup(wq->data, "peer.2.give-up-after"), ==, "0");
    g_assert_false(g_hash_table_contains(wq->data, "peer.2.allowed-ips"));
    g_assert_cmpuint(g_hash_table_size(wq->data), ==, 9);
}

/* A message may say where a secret was wrong, never what it was. */
static void
test_secret_not_in_message(void)
{
    static const char *const bodies[] = {
        "[Interface]\nPrivateKey = " BAD_SECRET "\n",
        "[Interface]\nPrivateKey = " PRIV "x\n",
        "[Interface]\nPrivateKey " PRIV "\n",
        "[Interface]\nPrivateKey: " PRIV "\n",
        "[Interface]\n" PRIV "\n",
        "[Interface]\n" PRIV " = 1\n",
        PRIV "\n",
        "[" PRIV "]\n",
        "[Interface]\n# wgmesh: " PRIV "\n",
        "[Interface]\n# wgmesh: private-key = " PRIV "\n",
        "[Interface]\nPrivateKey = " PRIV "\nPrivateKey = " PRIV "\n",
        "[Interface]\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = " PUB1
        "\nPresharedKey = " BAD_SECRET "\n",
        "[Interface]\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = " PUB1 "\nPresharedKey = " PSK
        "=\n",
        "[Interface]\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = " PUB1 "\nPresharedKey " PSK "\n",
        "[Interface]\nAddress = 10.0.0.1/24\n[Peer]\n" PSK "\n",
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bodies); i++) {
        g_autofree char *m = read_error(bodies[i], -1, WGM_WGQUICK_PROFILE);

        g_test_message("%s", m);
        g_assert_true(g_str_has_prefix(m, "t.conf:"));
        g_assert_null(strstr(m, "SECRETSECRET"));
        assert_no_key_in(m, bodies[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Writer */

/* "key=value" vpn.data, "!key=value" vpn.secrets, as in test-settings.c. */
static NMSettingVpn *
setting_new(const char *const *edits)
{
    NMSettingVpn *s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());

    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    for (; *edits; edits++) {
        const char      *e      = *edits;
        gboolean         secret = e[0] == '!';
        const char      *eq;
        g_autofree char *key = NULL;

        e += secret;
        eq  = strchr(e, '=');
        key = g_strndup(e, eq - e);
        if (secret)
            nm_setting_vpn_add_secret(s_vpn, key, eq + 1);
        else
            nm_setting_vpn_add_data_item(s_vpn, key, eq + 1);
    }
    return s_vpn;
}

static const char *const full_profile[] = {
    "!private-key=" PRIV,
    "private-key-flags=0",
    "address=10.0.0.1/24, fd00::1/64",
    "dns=10.0.0.53, fd00::53",
    "dns-search=mesh.example, ~corp.example",
    "mtu=1380",
    "listen-port=51820",
    "backend=userspace",
    "lazy-connections=yes",
    "inactivity-timeout=600",
    "give-up-after=3600",
    "network-map=/etc/wgmesh/peers.conf",
    "peer.1.name=laptop",
    "peer.1.lazy=no",
    "peer.1.give-up-after=60",
    "peer.1.public-key=" PUB1,
    "!peer.1.preshared-key=" PSK,
    "peer.1.preshared-key-flags=0",
    "peer.1.endpoint=[2001:db8::1]:51820",
    "peer.1.allowed-ips=10.0.0.2/32, fd00::2/128",
    "peer.1.persistent-keepalive=25",
    "peer.2.public-key=" PUB2,
    "peer.2.endpoint=192.0.2.2:51821",
    "peer.2.allowed-ips=10.0.1.0/24",
    "peer.2.lazy=yes",
    NULL,
};

static const char full_text[] = "[Interface]\n"
                                "# wgmesh: backend = userspace\n"
                                "# wgmesh: lazy-connections = yes\n"
                                "# wgmesh: inactivity-timeout = 600\n"
                                "# wgmesh: give-up-after = 3600\n"
                                "# wgmesh: network-map = /etc/wgmesh/peers.conf\n"
                                "PrivateKey = " PRIV "\n"
                                "Address = 10.0.0.1/24, fd00::1/64\n"
                                "DNS = 10.0.0.53, fd00::53, mesh.example, ~corp.example\n"
                                "MTU = 1380\n"
                                "ListenPort = 51820\n"
                                "\n"
                                "[Peer]\n"
                                "# Name = laptop\n"
                                "# Lazy = no\n"
                                "# wgmesh: give-up-after = 60\n"
                                "PublicKey = " PUB1 "\n"
                                "PresharedKey = " PSK "\n"
                                "Endpoint = [2001:db8::1]:51820\n"
                                "AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
                                "PersistentKeepalive = 25\n"
                                "\n"
                                "[Peer]\n"
                                "# Lazy = yes\n"
                                "PublicKey = " PUB2 "\n"
                                "Endpoint = 192.0.2.2:51821\n"
                                "AllowedIPs = 10.0.1.0/24\n";

static char *
write_ok(const char *const *edits)
{
    g_autoptr(NMSettingVpn) s_vpn = setting_new(edits);
    g_autoptr(GError) error       = NULL;
    char *text                    = wgm_wgquick_write(s_vpn, &error);

    g_assert_no_error(error);
    g_assert_nonnull(text);
    return text;
}

static void
test_write(void)
{
    static const char *const no_secrets[] = {
        "address=10.0.0.1/24",
        "peer.3.public-key=" PUB1,
        "peer.3.allowed-ips=10.0.0.2/32  10.0.0.3/32,",
        "peer.3.persistent-keepalive=0",
        "peer.3.lazy=TRUE",
        "peer.3.preshared-key-flags=1",
        "peer.10.public-key=" PUB2,
        "peer.2.public-key=" PUB3,
        "peer.7.name=",
        "mtu= 01400 ",
        NULL,
    };
    g_autofree char *full = write_ok(full_profile);
    g_autofree char *bare = write_ok(no_secrets);

    g_assert_cmpstr(full, ==, full_text);
    /* Peers in index order, lists as wg(8) reads them, no PrivateKey line. */
    g_assert_cmpstr(bare,
                    ==,
                    "[Interface]\n"
                    "# PrivateKey is not included: NetworkManager exports no secrets; add it "
                    "here\n"
                    "Address = 10.0.0.1/24\n"
                    "MTU = 1400\n"
                    "\n[Peer]\n"
                    "PublicKey = " PUB3 "\n"
                    "\n[Peer]\n"
                    "# Lazy = yes\n"
                    "PublicKey = " PUB1 "\n"
                    /* Its flags say it has one; the export has no secrets. */
                    "# PresharedKey is not included: NetworkManager exports no secrets; add it "
                    "here\n"
                    "AllowedIPs = 10.0.0.2/32, 10.0.0.3/32\n"
                    "\n[Peer]\n"
                    "PublicKey = " PUB2 "\n");
}

static void
test_write_bad(void)
{
    static const struct {
        const char *edits[4];
        const char *message;
    } cases[] = {
        { { "address=10.0.0.1/24", "peer.1.allowed-ips=10.0.0.2/32" },
          "peer.1.public-key: missing" },
        { { "address=10.0.0.1/24", "!private-key=" BAD_SECRET }, "private-key: is not a " },
        { { "address=10.0.0.1/24", "private-key=" PRIV }, "private-key: is a secret" },
        { { "address=10.0.0.1/24", "network-map=/etc/a\nb" },
          "network-map: holds a line break, which a wg-quick file cannot carry" },
        { { "address=10.0.0.1/24", "network-map=/etc/a#b" }, NULL },
        { { "address=10.0.0.1/24", "frobnicate=yes" }, "frobnicate: unknown key" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(cases[i].edits);
        g_autoptr(GError) error       = NULL;
        g_autofree char *text         = wgm_wgquick_write(s_vpn, &error);

        if (!cases[i].message) {
            /* In a comment, a '#' is harmless. */
            g_assert_no_error(error);
            g_assert_nonnull(strstr(text, "# wgmesh: network-map = /etc/a#b\n"));
            continue;
        }
        g_assert_null(text);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_true(g_str_has_prefix(error->message, cases[i].message));
        g_assert_null(strstr(error->message, "SECRETSECRET"));
        g_assert_null(strstr(error->message, PRIV));
    }
}

/* profile -> file -> profile keeps every key and secret. */
static void
test_round_trip(void)
{
    static const char *const minimal[] = {
        "!private-key=" PRIV,
        "private-key-flags=0",
        "address=10.1.0.1/16",
        NULL,
    };
    static const char *const ipv6[] = {
        "!private-key=" PRIV,
        "private-key-flags=0",
        "address=fd00:1::1/64",
        "mtu=1280",
        "dns-search=~.",
        "peer.1.public-key=" PUB1,
        "peer.1.endpoint=[2001:db8:1::1]:1",
        "peer.1.allowed-ips=::/0",
        "peer.1.persistent-keepalive=65535",
        "peer.1.name=Gateway (v6) \xe2\x80\x94 B\xc3\xbcro",
        "peer.2.public-key=" PUB2,
        "peer.2.endpoint=host.example:65535",
        "peer.2.allowed-ips=fd00:2::/64",
        "!peer.2.preshared-key=" PSK2,
        "peer.2.preshared-key-flags=0",
        "peer.2.lazy=no",
        "peer.3.public-key=" PUB3,
        "peer.3.lazy=yes",
        "peer.3.give-up-after=0",
        NULL,
    };
    static const char *const *const profiles[] = { full_profile, minimal, ipv6 };
    guint                           i;

    for (i = 0; i < G_N_ELEMENTS(profiles); i++) {
        g_autoptr(NMSettingVpn) s_vpn = setting_new(profiles[i]);
        g_autoptr(NMSettingVpn) back  = NULL;
        g_autoptr(WgmWgQuick) wq      = NULL;
        g_autoptr(WgmConfig) config   = NULL;
        g_autoptr(GError) error       = NULL;
        g_autofree char *text         = wgm_wgquick_write(s_vpn, &error);

        g_assert_no_error(error);
        wq = wgm_wgquick_read(text, -1, "rt.conf", WGM_WGQUICK_PROFILE, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(wq->warnings->len, ==, 0);
        back = wgm_wgquick_to_setting(wq);
        g_assert_true(
            nm_setting_compare(NM_SETTING(s_vpn), NM_SETTING(back), NM_SETTING_COMPARE_FLAG_EXACT));
        config = wgm_config_new_from_setting(back, &error);
        g_assert_no_error(error);
    }
}

/* ------------------------------------------------------------------------ */
/* wg-quick(8) and wg(8) on the writer's output */

static char *
run(const char *const *argv, int *status, char **err)
{
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    g_assert_true(g_spawn_sync(
        NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, err, status, &error));
    g_assert_no_error(error);
    return out;
}

/* wg-quick re-runs itself through sudo unless root, even to strip: a copy
 * without that step serves the same parser. */
static char *
wg_quick_for(const char *wg_quick, const char *dir)
{
    g_autofree char *script = NULL;
    g_autofree char *copy   = NULL;
    g_autofree char *path   = g_build_filename(dir, "wg-quick", NULL);

    if (getuid() == 0)
        return g_strdup(wg_quick);
    if (!g_file_get_contents(wg_quick, &script, NULL, NULL) || !strstr(script, "\n\tauto_su\n"))
        return NULL;
    {
        g_auto(GStrv) parts = g_strsplit(script, "\n\tauto_su\n", -1);

        copy = g_strjoinv("\n\t:\n", parts);
    }
    g_assert_true(g_file_set_contents(path, copy, -1, NULL));
    return g_steal_pointer(&path);
}

static void
test_wg_tools(void)
{
    g_autofree char *wg_quick = g_find_program_in_path("wg-quick");
    g_autofree char *wg       = g_find_program_in_path("wg");
    g_autofree char *dir      = NULL;
    g_autofree char *script   = NULL;
    g_autofree char *conf     = NULL;
    g_autofree char *stripped = NULL;
    g_autofree char *text     = NULL;
    g_autofree char *out      = NULL;
    g_autofree char *err      = NULL;
    g_auto(GStrv) lines       = NULL;
    int   status;
    guint i;

    if (!wg_quick || !wg) {
        g_test_skip("wg-quick or wg not installed (package wireguard-tools)");
        return;
    }
    dir = g_dir_make_tmp("test-wgquick-XXXXXX", NULL);
    g_assert_nonnull(dir);
    script = wg_quick_for(wg_quick, dir);
    if (!script) {
        g_test_skip("wg-quick needs root here and its auto_su step was not found");
        g_rmdir(dir);
        return;
    }

    /* wg-quick wants NAME.conf, NAME an interface name. */
    conf = g_build_filename(dir, "wgmtest0.conf", NULL);
    text = write_ok(full_profile);
    g_assert_true(g_file_set_contents_full(conf, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    {
        const char *argv[] = { "bash", script, "strip", conf, NULL };

        stripped = run(argv, &status, &err);
        g_test_message("wg-quick strip: %s", err);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
    }
    /* What wg(8) gets: every line but wg-quick's own, untouched. */
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "Address") || g_str_has_prefix(lines[i], "DNS")
            || g_str_has_prefix(lines[i], "MTU"))
            g_assert_null(strstr(stripped, lines[i]));
        else
            g_assert_nonnull(strstr(stripped, lines[i]));
    }

    /* wg setconf parses the whole file before it looks for the interface,
     * which does not exist: only a parse error would say otherwise. */
    /* A new file: GLib 2.74 writes over an old one in place without
     * truncating it when asked for no consistency. */
    g_unlink(conf);
    g_assert_true(
        g_file_set_contents_full(conf, stripped, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    {
        const char *argv[] = { wg, "setconf", "wgmtest-absent", conf, NULL };

        g_clear_pointer(&err, g_free);
        out = run(argv, &status, &err);
        g_test_message("wg setconf: %s", err);
        g_assert_null(strstr(err, "parsing error"));
        g_assert_nonnull(strstr(err, "Unable to modify interface"));
    }

    g_unlink(conf);
    if (getuid() != 0)
        g_unlink(script);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    g_test_init(&argc, &argv, NULL);

    add_corpus_tests(names);
    g_test_add_func("/wgquick/line-endings", test_line_endings);
    g_test_add_func("/wgquick/odd-inputs", test_odd_inputs);
    g_test_add_func("/wgquick/values", test_values);
    g_test_add_func("/wgquick/secret-not-in-message", test_secret_not_in_message);
    g_test_add_func("/wgquick/write", test_write);
    g_test_add_func("/wgquick/write-bad", test_write_bad);
    g_test_add_func("/wgquick/round-trip", test_round_trip);
    g_test_add_func("/wgquick/wg-tools", test_wg_tools);

    return g_test_run();
}
